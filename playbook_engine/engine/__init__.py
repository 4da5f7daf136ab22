"""Engine: the evaluation, a pure function of (compiled library, incident, clock) → Plan."""

from __future__ import annotations

from typing import TYPE_CHECKING

from playbook_engine._lazy import lazy_names

if TYPE_CHECKING:
    from playbook_engine.engine.evaluation import evaluate

__all__ = [
    "evaluate",
]

__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "evaluate": "evaluation",
    },
)
