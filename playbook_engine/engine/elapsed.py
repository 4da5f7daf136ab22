"""Time in conditions: the `elapsed` root, durations in minutes as of the clock (`--at`).

Conditions and templates read the incident's age and the times between its milestones, so
"unresolved after an hour" or "acknowledged within five minutes" can be said, and the same
incident and clock always give the same answer. A milestone after the clock has not happened
yet at the clock: its durations are absent (`exists: false`).
"""

from __future__ import annotations

from datetime import datetime

from playbook_engine.load.incident import Incident
from playbook_engine.model import ELAPSED_FIELDS
from playbook_engine.plan import Lifecycle

__all__ = ["ELAPSED_FIELDS", "elapsed"]


def elapsed(incident: Incident, at: datetime, life: Lifecycle) -> dict[str, float]:
    """The `elapsed` root for `incident` at the clock `at`: minutes, absent where a moment
    is not given or comes after the clock. The acknowledgement and resolution are those of
    the lifecycle in force (`life`): a status that says `resolved` without a time was
    resolved at the clock, as the plan's lifecycle says."""

    def minutes(start: datetime, end: datetime) -> float:
        return (end - start).total_seconds() / 60

    out: dict[str, float] = {}
    sla_start = incident.detected_at or incident.started_at
    for name, moment in (
        ("Start", incident.started_at),
        ("Detected", incident.detected_at),
        ("Acknowledged", life.acknowledged_at),
        ("Resolved", life.resolved_at),
    ):
        if moment is not None and moment <= at:
            out[f"since{name}"] = minutes(moment, at)
    for name, moment in (
        ("toAcknowledge", life.acknowledged_at),
        ("toResolve", life.resolved_at),
    ):
        if moment is not None and moment <= at:
            out[name] = minutes(sla_start, moment)
    return out
