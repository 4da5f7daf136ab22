"""Check: what a schema cannot say — references, holes and overlaps (`semantic`), rules that
never fire and mistyped values (`lint`), regular expressions run in linear time (`regexes`),
and the comments that silence a warning (`suppressions`). Each returns diagnostics; none
raises."""

from __future__ import annotations

from typing import TYPE_CHECKING

from playbook_engine._lazy import lazy_names

if TYPE_CHECKING:
    from playbook_engine.check.lint import lint_library
    from playbook_engine.check.regexes import compile_linear
    from playbook_engine.check.semantic import check_field_path, check_library
    from playbook_engine.check.suppressions import apply_suppressions

__all__ = [
    "apply_suppressions",
    "compile_linear",
    "check_field_path",
    "check_library",
    "lint_library",
]

__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "check_library": "semantic",
        "check_field_path": "semantic",
        "lint_library": "lint",
        "apply_suppressions": "suppressions",
        "compile_linear": "regexes",
    },
)
