"""An incident's plan as the store makes it, and what the plan asks of the service now:
the timers still to fire and the notifications to send.

The plan is the pure engine's evaluation of the library on the incident as stored (its
acknowledgement and resolution filled in) at a given moment. Timers:

- `escalate:t{tier}c{cycle}` at each escalation entry's time (tiers, and repeats as cycles);
- `sla:respond` at the respond-by deadline while nobody acknowledged (a breach warning);
- `warn:resolve` when 75 % of the time to the resolve-by deadline has passed (a warning
  before the breach; 75 % of the wall-clock interval, also for business-hours priorities);
- `sla:resolve` at the resolve-by deadline;
- `remind:N` once acknowledged, every hour from the acknowledgement while the incident is
  open, up to the resolve-by deadline (at most 24): "still open, N of M steps done".

A timer is keyed by (incident, action, due time): when an edit moves a deadline, the new time
is a new timer, and one already fired is never fired again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from playbook_engine.compile.compiler import CompiledLibrary
from playbook_engine.plan import Plan
from playbook_engine.serve.ports import IncidentRow, OutboxItem, Timer
from playbook_engine.timeparse import format_duration, format_timestamp

WARN_AT = 0.75
REMIND_EVERY = timedelta(hours=1)
MAX_REMINDERS = 24
PAGER_CHANNEL = "pager"
"""The channel of escalation pages and SLA warnings (destination: $PLAYBOOK_CHANNEL_PAGER)."""


def incident_data(row: IncidentRow) -> dict[str, Any]:
    """The canonical incident the engine sees: the stored data with the store's state."""
    data = dict(row.data)
    data["id"] = row.id
    data["status"] = (
        "resolved"
        if row.status == "resolved"
        else "acknowledged"
        if row.acknowledged_at
        else "triggered"
    )
    data.pop("acknowledgedAt", None)
    data.pop("resolvedAt", None)
    if row.acknowledged_at is not None:
        data["acknowledgedAt"] = format_timestamp(row.acknowledged_at)
    if row.resolved_at is not None:
        data["resolvedAt"] = format_timestamp(row.resolved_at)
    return data


def plan_of(compiled: CompiledLibrary, row: IncidentRow, at: datetime) -> Plan:
    """The incident's plan at `at`."""
    from playbook_engine.engine.evaluation import evaluate

    return evaluate(compiled, incident_data(row), at)


def timers_of(row: IncidentRow, plan: Plan) -> list[Timer]:
    """The timers an open incident's plan sets, each with the page it sends when it fires
    (written now, so firing needs no evaluation)."""
    title = f"[{plan.priority.id}] {plan.incident_title}"
    timers = []
    for entry in plan.escalation.entries:
        if entry.status in ("cancelled", "elapsed"):  # elapsed: the incident is resolved
            continue
        whom = ", ".join(f"{t.name} ({t.team})" if t.team else t.name for t in entry.targets)
        repeat = f" (repeat {entry.cycle})" if entry.cycle else ""
        timers.append(
            Timer(
                row.id,
                f"escalate:t{entry.tier}c{entry.cycle}",
                entry.at,
                f"{title}: escalation tier {entry.tier}{repeat}",
                f"Incident {row.id} is not acknowledged. Paging: {whom}.",
            )
        )
    deadlines = plan.deadlines
    respond_by, resolve_by = deadlines.respond_by, deadlines.resolve_by
    if row.acknowledged_at is None and respond_by is not None:
        timers.append(
            Timer(
                row.id,
                "sla:respond",
                respond_by,
                f"{title}: respond-by deadline breached",
                f"Incident {row.id} was due a response by {format_timestamp(respond_by)}.",
            )
        )
    if resolve_by is None:  # a priority without a resolution target: nothing to warn about
        return timers
    warn_at = deadlines.sla_start + (resolve_by - deadlines.sla_start) * WARN_AT
    timers.append(
        Timer(
            row.id,
            "warn:resolve",
            warn_at,
            f"{title}: resolve-by deadline in {format_duration(resolve_by - warn_at)}",
            f"Incident {row.id} is due resolution by {format_timestamp(resolve_by)}.",
        )
    )
    if row.acknowledged_at is not None:
        done = sum(1 for step in plan.steps if step.id in row.steps or step.done_at is not None)
        for n in range(1, MAX_REMINDERS + 1):
            at = row.acknowledged_at + REMIND_EVERY * n
            if at >= resolve_by:
                break
            timers.append(
                Timer(
                    row.id,
                    f"remind:{n}",
                    at,
                    f"{title}: still open",
                    f"Incident {row.id} is still open: {done} of {len(plan.steps)} steps done; "
                    f"resolve by {format_timestamp(resolve_by)}.",
                )
            )
    timers.append(
        Timer(
            row.id,
            "sla:resolve",
            resolve_by,
            f"{title}: resolve-by deadline breached",
            f"Incident {row.id} was due resolution by {format_timestamp(resolve_by)}.",
        )
    )
    return timers


def notifications_of(row: IncidentRow, plan: Plan) -> list[OutboxItem]:
    """The plan's rendered notifications, keyed by (incident, notification, revision)."""
    revision = str(row.revision)
    return [
        OutboxItem(
            key=f"{row.id}/{note.id}/{revision}",
            incident_id=row.id,
            channel=note.channel,
            notification=note.id,
            revision=revision,
            subject=note.subject or plan.incident_title,
            body=note.body,
            attempts=0,
        )
        for note in plan.notifications
    ]


def follow(compiled: CompiledLibrary, at: datetime) -> Any:
    """The store's `follow` callback: an incident's timers and notifications at `at`."""

    def run(row: IncidentRow) -> tuple[list[Timer], list[OutboxItem]]:
        plan = plan_of(compiled, row, at)
        return timers_of(row, plan), notifications_of(row, plan)

    return run


def decide(acknowledged_at: datetime | None, timer: Timer) -> tuple[str, list[OutboxItem]]:
    """The scheduler's decision for a due timer of an open incident: fire it and send its
    page. Timers follow the plan (an acknowledgement or edit plans the incident again and
    replaces its pending timers), so a timer still pending is still meant; the respond-by
    warning is also checked against the acknowledgement itself."""
    if timer.action == "sla:respond" and acknowledged_at is not None:
        return "cancelled: acknowledged", []
    stamp = format_timestamp(timer.due_at)
    item = OutboxItem(
        key=f"{timer.incident_id}/{timer.action}/{stamp}",
        incident_id=timer.incident_id,
        channel=PAGER_CHANNEL,
        notification=timer.action,
        revision=stamp,
        subject=timer.subject,
        body=timer.body,
        attempts=0,
    )
    return "fired", [item]
