"""An incident's stage at a moment: what its status and timestamps say, as the engine acts on
it (README, "Lifecycle").

Three vocabularies name the same life: alert states (`triggered`, `acknowledged`, `resolved`),
an incident's phases as Statuspage and most incident tools write them (`investigating`,
`identified`, `monitoring`, `resolved`) and dispositions that close it without an incident
(`false-alarm`, `duplicate`, `not-an-incident`). Each maps to a stage; timestamps that have
happened by the clock raise the stage too (a stale `triggered` with a `resolvedAt` is resolved).
"""

from __future__ import annotations

from datetime import datetime

from playbook_engine.load.incident import Incident
from playbook_engine.plan import Lifecycle

STAGE_OF_STATUS = {
    "triggered": "open",
    "investigating": "acknowledged",
    "identified": "acknowledged",
    "monitoring": "acknowledged",
    "acknowledged": "acknowledged",
    "resolved": "resolved",
    "false-alarm": "closed",
    "duplicate": "closed",
    "not-an-incident": "closed",
}
_RANK = {"open": 0, "acknowledged": 1, "resolved": 2, "closed": 3}


def lifecycle(incident: Incident, at: datetime) -> Lifecycle:
    """The incident's stage at `at`, with the acknowledgement and resolution times in force
    (a time after the clock has not happened yet; one the status implies but the incident
    lacks is the clock's, listed in `assumed`). SLA outcomes are filled in by the caller."""
    acknowledged = incident.acknowledged_at
    acknowledged = acknowledged if acknowledged is not None and acknowledged <= at else None
    resolved = incident.resolved_at
    resolved = resolved if resolved is not None and resolved <= at else None
    given = str(incident.data.get("status") or "")
    stage = STAGE_OF_STATUS.get(given, "open")
    # A status describes the incident as its file was last written; a time it gives that is
    # after the clock says the clock is earlier than that: judge the stage at the clock.
    later = incident.resolved_at is not None and resolved is None
    if stage in ("resolved", "closed") and later:
        stage, given = ("acknowledged", "acknowledged") if acknowledged else ("open", "")
    if stage == "acknowledged" and incident.acknowledged_at is not None and acknowledged is None:
        stage, given = "open", ""
    if resolved is not None and _RANK[stage] < _RANK["resolved"]:
        stage = "resolved"
    elif acknowledged is not None and stage == "open":
        stage = "acknowledged"
    assumed: list[str] = []
    if stage in ("resolved", "closed") and resolved is None:
        resolved = at
        assumed.append("resolvedAt")
    if stage == "acknowledged" and acknowledged is None:
        acknowledged = at
        assumed.append("acknowledgedAt")
    status = given or {"open": "triggered"}.get(stage, stage)
    return Lifecycle(status, stage, acknowledged, resolved, tuple(assumed))


def outcome(answered: datetime | None, by: datetime | None, at: datetime) -> str:
    """An SLA target's outcome at `at`: met or missed once answered, else open or overdue;
    `none` without a target."""
    if by is None:
        return "none"
    if answered is not None:
        return "met" if answered <= by else "missed"
    return "overdue" if at > by else "open"
