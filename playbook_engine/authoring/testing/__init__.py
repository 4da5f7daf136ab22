"""Test suites: collect them (`collect`), read their expectations (`expect`, `refs`), run
them (`run`) and report the results (`report`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from playbook_engine._lazy import lazy_names

if TYPE_CHECKING:
    from playbook_engine.authoring.testing.run import CaseResult, run_suites
    from playbook_engine.authoring.testing.suites import Collection, Suite

__all__ = [
    "CaseResult",
    "Collection",
    "Suite",
    "run_suites",
]

__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "Suite": "suites",
        "Collection": "suites",
        "CaseResult": "run",
        "run_suites": "run",
    },
)
