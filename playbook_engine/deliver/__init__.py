"""Deliver: the outbox sent through apprise, with destination checks, retries and backoff."""

from __future__ import annotations

from typing import TYPE_CHECKING

from playbook_engine._lazy import lazy_names

if TYPE_CHECKING:
    from playbook_engine.deliver.destinations import Policy, check
    from playbook_engine.deliver.outbox import run

__all__ = ["Policy", "check", "run"]

__getattr__, __dir__ = lazy_names(
    __name__, {"Policy": "destinations", "check": "destinations", "run": "outbox"}
)
