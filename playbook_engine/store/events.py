"""The events of an incident's log: what happened, when, and who did it.

The log is append-only. Each event has its incident's id, its position `n` in that
incident's log (1, 2, ...), a kind, the moment it happened (`at`: `--at`, default now), who
did it (`by`: `--by`, default the login name; `engine` for what evaluating the plan
recorded), a JSON object of details, and optionally a key that makes appending it idempotent
(the same key is never appended twice to one incident).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from playbook_engine.timeparse import format_timestamp

KINDS = (
    "opened",  # data: the incident's fields (no lifecycle fields), library, source
    "classified",  # by engine: priority, rank, playbooks, deadlines, escalation, steps
    "reclassified",  # by a responder (`--set`): set (the assignments), data, library
    "updated",  # the same alert again, with changed fields: data, source
    "acknowledged",
    "step",  # step, state (done | skipped), note
    "notification",  # by engine: id, channel, kind, to, subject
    "escalated",  # by engine: tier, cycle, targets (a tier whose time came before the ack)
    "resolved",  # note
    "reopened",  # note
    "note",  # text
)
ENGINE = "engine"
"""The `by` of events recorded by evaluating the plan (classified, escalated, notification)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of an incident's log."""

    incident: str
    n: int
    kind: str
    at: datetime
    by: str
    data: dict[str, Any] = field(default_factory=dict)
    key: str | None = None
    recorded: datetime | None = None  # when it was written (differs from `at` when back-filled)

    def as_dict(self) -> dict[str, Any]:
        """The event as JSON-ready data."""
        out: dict[str, Any] = {
            "incident": self.incident,
            "n": self.n,
            "kind": self.kind,
            "at": iso(self.at),
            "by": self.by,
            "data": self.data,
        }
        if self.key is not None:
            out["key"] = self.key
        if self.recorded is not None:
            out["recorded"] = iso(self.recorded)
        return out


def iso(moment: datetime) -> str:
    """A moment as UTC text: `2026-03-14T02:17:00Z`."""
    return format_timestamp(moment.astimezone(UTC))


def iso_seconds(seconds: float) -> str:
    """`iso(moment(seconds))`, three times faster for a whole second after 1970 (a status of
    10,000 incidents writes 32,000 of them)."""
    whole = int(seconds)
    if whole == seconds and 0 <= whole < _YEAR_10000:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(whole))
    return iso(moment(seconds))


_YEAR_10000 = 253_402_300_800


def epoch(moment: datetime) -> float:
    """A moment as seconds since 1970 (the store's columns)."""
    return moment.timestamp()


def moment(seconds: float) -> datetime:
    """Seconds since 1970 as a UTC moment."""
    return datetime.fromtimestamp(seconds, UTC)


def encode(data: dict[str, Any]) -> str:
    """An event's details as the JSON text stored."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def decode(text: str) -> dict[str, Any]:
    """Stored JSON text as an event's details."""
    value = json.loads(text)
    return value if isinstance(value, dict) else {}
