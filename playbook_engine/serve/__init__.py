"""Serve: the HTTP service around the store — webhook intake, durable timers, the web page.

Heavy (Starlette, uvicorn, prometheus-client); only `playbook serve` and `playbook tick`
import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from playbook_engine._lazy import lazy_names

if TYPE_CHECKING:
    from playbook_engine.serve.app import ServeConfig, create_app
    from playbook_engine.serve.ledger import Ledger
    from playbook_engine.serve.scheduler import tick

__all__ = ["Ledger", "ServeConfig", "create_app", "tick"]

__getattr__, __dir__ = lazy_names(
    __name__,
    {"Ledger": "ledger", "ServeConfig": "app", "create_app": "app", "tick": "scheduler"},
)
