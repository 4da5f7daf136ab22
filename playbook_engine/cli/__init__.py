"""The `playbook` command: `main` is the one error boundary, each command a module of
`commands/`; `runner` turns incidents and payloads into rendered plans for `run`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from playbook_engine._lazy import lazy_names

if TYPE_CHECKING:
    from playbook_engine.cli.main import console, main

__all__ = [
    "console",
    "main",
]

__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "main": "main",
        "console": "main",
    },
)
