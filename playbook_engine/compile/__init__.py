"""Compile: conditions to predicates that can explain themselves (`conditions`), templates in
the sandbox, and the compiled library with its selection index (`compiler`): what
`engine.evaluate` accepts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from playbook_engine._lazy import lazy_names

if TYPE_CHECKING:
    from playbook_engine.compile.compiler import CompiledLibrary, compile_library
    from playbook_engine.compile.conditions import CompiledCondition

__all__ = [
    "CompiledCondition",
    "CompiledLibrary",
    "compile_library",
]

__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "CompiledLibrary": "compiler",
        "compile_library": "compiler",
        "CompiledCondition": "conditions",
    },
)
