"""What `serve`, `tick` and delivery need from an incident store, as a Protocol.

The intake, the scheduler and the outbox are written against `IncidentStore`, so the store
behind them can be the serve ledger (`serve.ledger`, SQLite) or the incident store of
`playbook_engine.store` once it offers these operations. Every method that writes commits
before it returns: an HTTP 2xx is sent only after `ingest` returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class StoreUnavailable(RuntimeError):
    """The store cannot be written now (locked, disk full, connection lost): senders retry."""


@dataclass(frozen=True, slots=True)
class AlertIn:
    """One canonical alert of a payload and the incident group it belongs to."""

    group: str  # the grouping key: Alertmanager's groupKey, else the alert's own identity
    key: str  # the alert's identity inside its group (fingerprint, dedup key, ...)
    firing: bool
    data: dict[str, Any]  # the canonical incident the adapter made of this alert


@dataclass(frozen=True, slots=True)
class IntakeResult:
    """What one payload did: the incidents it touched, and whether it was a repeat."""

    duplicate: bool
    opened: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    reopened: tuple[str, ...] = ()
    resolved: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IncidentRow:
    """An incident as the store keeps it: its current canonical data and its life so far."""

    id: str
    status: str  # open | resolved
    data: dict[str, Any]
    opened_at: datetime
    resolved_at: datetime | None
    acknowledged_at: datetime | None
    revision: int
    steps: dict[str, tuple[str, str]] = field(default_factory=dict)  # step id -> (state, note)


@dataclass(frozen=True, slots=True)
class Timer:
    """A due action of an incident: escalation tier, repeat, SLA-breach warning."""

    incident_id: str
    action: str
    due_at: datetime
    subject: str = ""  # the page sent when it fires, written when the plan set it
    body: str = ""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A notification to deliver exactly once per (incident, notification, revision)."""

    key: str
    incident_id: str
    channel: str
    notification: str
    revision: str
    subject: str
    body: str
    attempts: int


class IncidentStore(Protocol):
    """The operations the service needs; see the module docstring."""

    def ingest(self, receipt: str, alerts: Sequence[AlertIn], at: datetime) -> IntakeResult: ...

    def incident(self, incident_id: str) -> IncidentRow | None: ...

    def open_incidents(self) -> list[IncidentRow]: ...

    def timeline(self, incident_id: str) -> list[dict[str, Any]]: ...

    def append(self, incident_id: str, kind: str, by: str, at: datetime, detail: str) -> None: ...

    def set_timers(self, incident_id: str, timers: Sequence[Timer]) -> None: ...

    def enqueue(self, items: Sequence[OutboxItem], at: datetime) -> int: ...

    def healthy(self) -> bool: ...
