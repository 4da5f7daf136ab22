"""The incident store: an append-only event log per incident, in SQLite or PostgreSQL.

The log is the one source of truth; an incident's current state is `fold(events)`, and the
plan at any moment is the pure engine's `evaluate(library, state.incident(), clock)`. A
summary row per incident (derived from the log in the same transaction as each event,
rebuildable from it) serves `status` lists and `report` aggregates in SQL.

The API, for the responder commands and for services built on the store::

    store = open_store("incidents.sqlite")          # or "postgresql://user@host/db"
    with store.transaction("INC-1") as tx:           # the write lock (BEGIN IMMEDIATE /
        tx.state                                     #   an advisory lock on the incident)
        tx.append("note", at, "alice", {"text": "..."}, key="retry-safe-key")
    store.events("INC-1")       # the log: [Event(incident, n, kind, at, by, data, key)]
    store.state("INC-1")        # fold(log): IncidentState, or None
    store.summaries()           # the open incidents' summary rows, oldest first
    store.due(at)               # (incident, when, tier) whose next escalation is due at `at`
    store.report(since, until, now)   # MTTA, MTTR, SLA compliance, rates (JSON-ready)

    responder = Responder(store, compiled_library, lambda: library_version(root))
    responder.open(incident, at, by)  # idempotent by incident id; updates, resolves, reopens
    responder.acknowledge(...), .step(...), .note(...), .reclassify(...), .resolve(...),
    responder.reopen(...), responder.plan(state, at)

Every failure is a `StoreError` (ST1xx) with nothing written. SQLite is imported only here
and psycopg only for a `postgresql://` store: `playbook run` imports none of this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from playbook_engine._lazy import lazy_names

if TYPE_CHECKING:
    from playbook_engine.store.errors import StoreError
    from playbook_engine.store.events import KINDS, Event
    from playbook_engine.store.location import library_version, store_location
    from playbook_engine.store.migrations import SCHEMA_VERSION
    from playbook_engine.store.responder import Outcome, Responder
    from playbook_engine.store.state import IncidentState, StepMark, fold, next_escalation
    from playbook_engine.store.store import Store, Transaction, open_store

__all__ = [
    "KINDS",
    "SCHEMA_VERSION",
    "Event",
    "IncidentState",
    "Outcome",
    "Responder",
    "StepMark",
    "Store",
    "StoreError",
    "Transaction",
    "fold",
    "library_version",
    "next_escalation",
    "open_store",
    "store_location",
]

__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "KINDS": "events",
        "SCHEMA_VERSION": "migrations",
        "Event": "events",
        "IncidentState": "state",
        "Outcome": "responder",
        "Responder": "responder",
        "StepMark": "state",
        "Store": "store",
        "StoreError": "errors",
        "Transaction": "store",
        "fold": "state",
        "library_version": "location",
        "next_escalation": "state",
        "open_store": "store",
        "store_location": "location",
    },
)
