"""Current state = fold(log): what an incident is, derived from its events alone.

Nothing here reads the library or the clock: the state is a pure function of the events, so
the store's per-incident summary (what `status` lists and `report` aggregates) can be rebuilt
from the log at any time, and the plan at any moment is the engine's evaluation of the
library on `IncidentState.incident()` — the incident as the log makes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from playbook_engine.store.events import Event, epoch, iso
from playbook_engine.timeparse import parse_timestamp

LIFECYCLE_FIELDS = ("status", "acknowledgedAt", "resolvedAt")
"""Incident fields the log owns: an incident's status and times come from its events."""


@dataclass(frozen=True, slots=True)
class StepMark:
    """A checklist step marked done or skipped."""

    state: str  # done | skipped
    note: str
    by: str
    at: datetime


@dataclass(frozen=True, slots=True)
class IncidentState:
    """An incident as its log makes it."""

    id: str
    data: dict[str, Any]  # the incident's fields, without the lifecycle fields
    stage: str  # open | acknowledged | resolved
    opened_at: datetime
    opened_by: str
    acknowledged_at: datetime | None
    acknowledged_by: str
    resolved_at: datetime | None
    resolved_by: str
    steps: dict[str, StepMark]
    classification: dict[str, Any] | None  # the last `classified` event's data
    peak_classification: dict[str, Any] | None  # the first one with the peak priority
    peak: str  # the most severe priority it has had ("" before it was classified)
    peak_rank: int  # that priority's position in the policy, 0 = most severe; -1 if none
    escalated: tuple[tuple[int, int], ...]  # (tier, cycle) recorded, in order
    notified: frozenset[str]  # "notification-id/channel" recorded
    reopened: int
    library: str  # the library version at open or the last reclassification
    events: int  # how many events the log holds
    last_at: datetime
    notes: int = 0
    sources: tuple[str, ...] = field(default_factory=tuple)
    playbooks: tuple[str, ...] = ()  # every playbook any classification selected, in order

    @property
    def title(self) -> str:
        """The incident's title."""
        return str(self.data.get("title", ""))

    def incident(self) -> dict[str, Any]:
        """The incident's data as the engine reads it: its fields plus the status and the
        acknowledgement and resolution times the log gives."""
        data = dict(self.data)
        data["id"] = self.id
        if self.acknowledged_at is not None:
            data["acknowledgedAt"] = iso(self.acknowledged_at)
        if self.stage == "resolved" and self.resolved_at is not None:
            data["resolvedAt"] = iso(self.resolved_at)
        data["status"] = {"open": "triggered"}.get(self.stage, self.stage)
        if self.peak:  # a floor when the policy keeps the peak (classification.keepPeak)
            data["peakPriority"] = self.peak
        return data

    @property
    def max_tier(self) -> int:
        """The highest escalation tier paged (0: none)."""
        return max((tier for tier, _ in self.escalated), default=0)


def fold(events: Iterable[Event]) -> IncidentState | None:
    """The state the events make (in log order); None for an empty log."""
    state: dict[str, Any] | None = None
    for event in events:
        if state is None:
            if event.kind != "opened":
                continue  # a log always begins with `opened`; nothing else can start one
            state = _opened(event)
        else:
            _apply(state, event)
        state["events"] = event.n
        state["last_at"] = max(state["last_at"], event.at)
    if state is None:
        return None
    state["escalated"] = tuple(state["escalated"])
    state["notified"] = frozenset(state["notified"])
    state["sources"] = tuple(state["sources"])
    state["playbooks"] = tuple(state["playbooks"])
    return IncidentState(**state)


def _opened(event: Event) -> dict[str, Any]:
    data = event.data.get("data", {})
    return {
        "id": event.incident,
        "data": {k: v for k, v in data.items() if k not in LIFECYCLE_FIELDS},
        "stage": "open",
        "opened_at": event.at,
        "opened_by": event.by,
        "acknowledged_at": None,
        "acknowledged_by": "",
        "resolved_at": None,
        "resolved_by": "",
        "steps": {},
        "classification": None,
        "peak_classification": None,
        "peak": "",
        "peak_rank": -1,
        "escalated": [],
        "notified": set(),
        "reopened": 0,
        "library": str(event.data.get("library", "")),
        "events": event.n,
        "last_at": event.at,
        "notes": 0,
        "sources": [str(event.data["source"])] if event.data.get("source") else [],
        "playbooks": {},
    }


def _apply(state: dict[str, Any], event: Event) -> None:
    kind, data = event.kind, event.data
    if kind in ("reclassified", "updated"):
        fields = data.get("data", {})
        state["data"] = {k: v for k, v in fields.items() if k not in LIFECYCLE_FIELDS}
        if kind == "reclassified" and data.get("library"):
            state["library"] = str(data["library"])
        if data.get("source"):
            state["sources"].append(str(data["source"]))
    elif kind == "classified":
        state["classification"] = data
        rank = data.get("rank")
        if isinstance(rank, int) and (state["peak_rank"] < 0 or rank < state["peak_rank"]):
            state["peak_rank"], state["peak"] = rank, str(data.get("priority", ""))
            state["peak_classification"] = data
        for playbook in data.get("playbooks", []):
            state["playbooks"][str(playbook)] = None
    elif kind == "acknowledged":
        state["acknowledged_at"], state["acknowledged_by"] = event.at, event.by
        if state["stage"] == "open":
            state["stage"] = "acknowledged"
    elif kind == "step":
        step = str(data.get("step", ""))
        state["steps"][step] = StepMark(
            str(data.get("state", "done")), str(data.get("note", "")), event.by, event.at
        )
    elif kind == "escalated":
        state["escalated"].append((int(data.get("tier", 0)), int(data.get("cycle", 0))))
    elif kind == "notification":
        state["notified"].add(f"{data.get('id', '')}/{data.get('channel', '')}")
    elif kind == "resolved":
        state["stage"] = "resolved"
        state["resolved_at"], state["resolved_by"] = event.at, event.by
    elif kind == "reopened":
        state["stage"] = "open" if state["acknowledged_at"] is None else "acknowledged"
        state["resolved_at"], state["resolved_by"] = None, ""
        state["reopened"] += 1
    elif kind == "note":
        state["notes"] += 1


def escalation_schedule(state: IncidentState) -> list[tuple[datetime, int, int]]:
    """The classified escalation entries (time, tier, cycle), earliest first."""
    entries = (state.classification or {}).get("escalation", [])
    out = [(parse_timestamp(str(at)), int(tier), int(cycle)) for at, tier, cycle in entries]
    return sorted(out)


def next_escalation(state: IncidentState) -> tuple[datetime, int] | None:
    """The next tier to page and when: the earliest classified entry not yet recorded as
    escalated and not cancelled by the acknowledgement; None once resolved."""
    if state.stage == "resolved" or state.classification is None:
        return None
    stop = bool(state.classification.get("stopWhenAcknowledged", True))
    done = set(state.escalated)
    for when, tier, cycle in escalation_schedule(state):
        if (tier, cycle) in done:
            continue
        if stop and state.acknowledged_at is not None and state.acknowledged_at <= when:
            return None  # this one and every later one is cancelled
        return when, tier
    return None


def summary_row(state: IncidentState) -> dict[str, Any]:
    """The store's summary of an incident (what `status` lists and `report` aggregates).
    Its SLA deadlines are the peak priority's: an incident downgraded after it opened is
    judged by the promise of the priority it had."""
    c = state.classification or {}
    peak = state.peak_classification or c
    steps = [str(s) for s in c.get("steps", [])]
    started = state.data.get("startedAt")
    started_at = parse_timestamp(str(started)) if started else state.opened_at
    following = next_escalation(state)
    playbooks = c.get("playbooks") or [""]
    return {
        "id": state.id,
        "title": state.title,
        "stage": state.stage,
        "priority": str(c.get("priority", "")),
        "peak": state.peak,
        "peak_rank": state.peak_rank,
        "playbook": str(playbooks[0]),
        "started": epoch(started_at),
        "acknowledged": _seconds(state.acknowledged_at),
        "resolved": _seconds(state.resolved_at),
        "respond_by": _seconds(_at(peak.get("respondBy"))),
        "resolve_by": _seconds(_at(peak.get("resolveBy"))),
        "next_escalation": _seconds(following[0]) if following else None,
        "next_tier": following[1] if following else None,
        "max_tier": state.max_tier,
        "reopened": state.reopened,
        "steps_done": sum(1 for s in steps if s in state.steps),
        "steps_total": len(steps),
        "events": state.events,
        "updated": epoch(state.last_at),
        "library": state.library,
    }


SUMMARY_COLUMNS = (
    "id",
    "title",
    "stage",
    "priority",
    "peak",
    "peak_rank",
    "playbook",
    "started",
    "acknowledged",
    "resolved",
    "respond_by",
    "resolve_by",
    "next_escalation",
    "next_tier",
    "max_tier",
    "reopened",
    "steps_done",
    "steps_total",
    "events",
    "updated",
    "library",
)
"""The summary table's columns, in `summary_row`'s order."""


def _at(text: Any) -> datetime | None:
    return parse_timestamp(str(text)) if text else None


def _seconds(value: datetime | None) -> float | None:
    return None if value is None else epoch(value)
