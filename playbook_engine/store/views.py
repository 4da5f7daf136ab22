"""What `status` and `timeline` show, as JSON-ready data (rendered by `render.incidents`).

Pure functions of summary rows, folded states and the clock: the open incidents at a glance
(priority, age, deadlines left or overdue, the next escalation, checklist progress) and an
incident's timeline with the durations between its milestones.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from playbook_engine.store.events import Event, epoch, iso, iso_seconds
from playbook_engine.store.state import IncidentState
from playbook_engine.timeparse import parse_timestamp


def glance(rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """The open incidents, most severe (peak priority) first, then oldest first."""
    clock = epoch(now)
    ordered = sorted(
        rows, key=lambda r: (r["peak_rank"] if r["peak_rank"] >= 0 else 1 << 30, r["started"])
    )
    return [_row(row, clock) for row in ordered]


def _row(row: dict[str, Any], clock: float) -> dict[str, Any]:
    following = None
    if row["next_escalation"] is not None:
        following = {
            "at": iso_seconds(row["next_escalation"]),
            "tier": row["next_tier"],
            "inSeconds": round(row["next_escalation"] - clock),
        }
    return {
        "id": row["id"],
        "title": row["title"],
        "stage": row["stage"],
        "priority": row["priority"],
        "peak": row["peak"],
        "playbook": row["playbook"],
        "startedAt": iso_seconds(row["started"]),
        "ageSeconds": round(clock - row["started"]),
        "respond": _deadline(row["respond_by"], row["acknowledged"], clock),
        "resolve": _deadline(row["resolve_by"], row["resolved"], clock),
        "nextEscalation": following,
        "steps": {"done": row["steps_done"], "total": row["steps_total"]},
        "events": row["events"],
    }


def _deadline(by: float | None, answered: float | None, clock: float) -> dict[str, Any] | None:
    if by is None:
        return None
    if answered is not None:
        state = "met" if answered <= by else "missed"
    else:
        state = "overdue" if clock > by else "open"
    return {"by": iso_seconds(by), "state": state, "leftSeconds": round(by - clock)}


def timeline(state: IncidentState, events: list[Event]) -> dict[str, Any]:
    """The incident's timeline: every event (by time, then log order) with the time since
    the start, and the milestones with the durations between them."""
    started = _started(state)
    ordered = sorted(events, key=lambda e: (e.at, e.n))
    milestones: list[dict[str, Any]] = [{"what": "started", "at": iso(started), "by": ""}]
    detected = state.data.get("detectedAt")
    if detected:
        milestones.append({"what": "detected", "at": iso(parse_timestamp(str(detected))), "by": ""})
    classified = False
    for event in ordered:
        what = _milestone(event)
        if event.kind == "classified":  # the first is the opening's; later ones change it
            what, classified = (what if classified else ""), True
        if what:
            milestones.append({"what": what, "at": iso(event.at), "by": event.by})
    milestones.sort(key=lambda m: m["at"])
    previous = started
    for item in milestones:
        at = parse_timestamp(item["at"])
        item["sinceStartSeconds"] = round((at - started).total_seconds())
        item["sincePreviousSeconds"] = round((at - previous).total_seconds())
        previous = at
    c = state.classification or {}
    return {
        "incident": state.id,
        "title": state.title,
        "stage": state.stage,
        "priority": c.get("priority", ""),
        "peak": state.peak,
        "playbooks": c.get("playbooks", []),
        "library": state.library,
        "startedAt": iso(started),
        "respondBy": c.get("respondBy"),
        "resolveBy": c.get("resolveBy"),
        "acknowledgedAt": iso(state.acknowledged_at) if state.acknowledged_at else None,
        "resolvedAt": iso(state.resolved_at) if state.resolved_at else None,
        "milestones": milestones,
        "events": [
            {**event.as_dict(), "sinceStartSeconds": round((event.at - started).total_seconds())}
            for event in ordered
        ],
    }


def _started(state: IncidentState) -> datetime:
    text = state.data.get("startedAt")
    return parse_timestamp(str(text)) if text else state.opened_at


def _milestone(event: Event) -> str:
    if event.kind == "opened":
        return "opened in the store"
    if event.kind == "escalated":
        return f"tier {event.data.get('tier')} paged" + (
            f" (repeat {event.data.get('cycle')})" if event.data.get("cycle") else ""
        )
    if event.kind in ("acknowledged", "resolved", "reopened"):
        return event.kind
    if event.kind == "classified":
        return f"classified {event.data.get('priority', '')}"
    return ""


def incident_view(state: IncidentState, plan_steps: list[str]) -> dict[str, Any]:
    """One incident's record beside its plan (`status ID`), whose steps are `plan_steps`."""
    c = state.classification or {}
    return {
        "id": state.id,
        "title": state.title,
        "stage": state.stage,
        "priority": c.get("priority", ""),
        "peak": state.peak,
        "openedAt": iso(state.opened_at),
        "openedBy": state.opened_by,
        "acknowledgedAt": iso(state.acknowledged_at) if state.acknowledged_at else None,
        "acknowledgedBy": state.acknowledged_by or None,
        "resolvedAt": iso(state.resolved_at) if state.resolved_at else None,
        "resolvedBy": state.resolved_by or None,
        "reopened": state.reopened,
        "library": state.library,
        "events": state.events,
        "steps": {
            "done": sum(1 for step in plan_steps if step in state.steps),
            "total": len(plan_steps),
        },
        "marks": {
            step: {"state": m.state, "note": m.note, "by": m.by, "at": iso(m.at)}
            for step, m in sorted(state.steps.items())
        },
    }
