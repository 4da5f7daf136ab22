"""What the plan renderers share: one display offset for times, and data values as inert text.

Every time of a plan is shown in the offset of the plan's clock (`at`), so a responder who ran
`--at ...+01:00` reads local times and everything in one plan lines up. Data values (the
expected and actual values of the explain trace) come from incidents and may be anything YAML
or JSON can hold; they are converted to JSON-ready values and shown as compact JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from playbook_engine.plan import Plan, PlanStep
from playbook_engine.textsafe import one_line, visible
from playbook_engine.timeparse import format_duration, format_timestamp

# Explain values are for reading: a whole alert payload as an `actual` would bury the tree.
VALUE_LIMIT = 200


def in_zone(moment: datetime, zone: tzinfo | None) -> datetime:
    """`moment` in `zone`, or unchanged when the conversion would leave the datetime range.

    Naive datetimes and a missing zone are left alone: `astimezone` would otherwise consult
    the host's local time zone, and output must not depend on the machine.
    """
    if zone is None or moment.utcoffset() is None:
        return moment
    try:
        return moment.astimezone(zone)
    except (OverflowError, ValueError):
        return moment


def timestamp(moment: datetime, zone: tzinfo | None) -> str:
    """An RFC 3339 timestamp of `moment` in the display zone (`Z` for UTC)."""
    return format_timestamp(in_zone(moment, zone))


def lifecycle_text(plan: Plan) -> str:
    """The plan's lifecycle in one line: status (and stage when they differ), the times in
    force, SLA outcomes: `monitoring (acknowledged), acknowledged at 2026-...Z; respond met,
    resolve open`. A time the status implies but the incident lacks says `(the clock)`."""
    life = plan.lifecycle
    assert life is not None, "a plan made by the engine has its lifecycle"
    status = one_line(life.status)
    parts = [status if status == life.stage or life.stage == "open" else f"{status} ({life.stage})"]
    for label, moment, name in (
        ("acknowledged", life.acknowledged_at, "acknowledgedAt"),
        ("resolved", life.resolved_at, "resolvedAt"),
    ):
        if moment is not None:
            assumed = " (the clock)" if name in life.assumed else ""
            parts.append(f"{label} at {timestamp(moment, plan.at.tzinfo)}{assumed}")
    respond, resolve = (_outcome_text(o) for o in (life.respond, life.resolve))
    return ", ".join(parts) + f"; respond {respond}, resolve {resolve}"


def sla_outcome(plan: Plan, which: str) -> str:
    """`respond` or `resolve` as the SLA section shows it: `overdue` or `open` while the
    deadline runs, `met` or `missed` once judged (README, "Lifecycle"), `none` without target."""
    life = plan.lifecycle
    if life is not None:
        return life.respond if which == "respond" else life.resolve
    d = plan.deadlines
    return "overdue" if (d.respond_overdue if which == "respond" else d.resolve_overdue) else "open"


def _outcome_text(outcome: str) -> str:
    return "no target" if outcome == "none" else outcome


def zone_label(at: datetime) -> str:
    """`UTC` or `UTC+01:00`: the offset in which a plan's times are shown."""
    offset = at.utcoffset() or timedelta(0)
    if not offset:
        return "UTC"
    sign = "-" if offset < timedelta(0) else "+"
    minutes = int(abs(offset).total_seconds()) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def plus(delta: timedelta, working: bool = False) -> str:
    """An offset such as `+15m`, `+1d2h` or `-5m`; working time (on a business-hours clock)
    in hours, such as `+25h30m working`, since a working day is not 24 hours."""
    if working and delta >= timedelta(hours=24):
        minutes = int(delta.total_seconds()) // 60
        hours, rest = divmod(minutes, 60)
        return f"+{hours}h{f'{rest}m' if rest else ''} working"
    text = format_duration(delta)
    suffix = " working" if working and delta else ""
    return (text if text.startswith("-") else "+" + text) + suffix


def after(step: PlanStep, plan: Plan) -> list[str]:
    """The steps `step` waits for, each marked when it is not in this plan (its `when` was
    false): the responder should not look for it."""
    present = {s.id for s in plan.steps}
    return [dep if dep in present else f"{dep} (not in this plan)" for dep in step.depends_on]


def clock_time(moment: datetime, zone: tzinfo | None, day: date) -> str:
    """`HH:MM` (`HH:MM:SS` when seconds matter), with the date in front when not on `day` (the
    plan's "as of" day: a reader takes a time without a date for that day)."""
    local = in_zone(moment, zone)
    shown = local.strftime("%H:%M:%S" if local.second or local.microsecond else "%H:%M")
    return shown if local.date() == day else f"{local.date().isoformat()} {shown}"


def json_value(value: Any) -> Any:
    """`value` as plain JSON data: mappings with sorted string keys, lists, finite numbers."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        # NaN and infinities (YAML .nan, .inf) have no JSON form; keep them readable.
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, datetime):
        return format_timestamp(value) if value.utcoffset() is not None else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, Mapping):
        items = {str(key): json_value(item) for key, item in value.items()}
        return {key: items[key] for key in sorted(items)}
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    if isinstance(value, set | frozenset):
        converted = [json_value(item) for item in value]
        return sorted(converted, key=lambda item: json.dumps(item, sort_keys=True))
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    return str(value)


def value_text(value: Any) -> str:
    """A data value as one line of compact JSON, cut at `VALUE_LIMIT` characters, made inert."""
    text = json.dumps(json_value(value), ensure_ascii=False, separators=(", ", ": "))
    if len(text) > VALUE_LIMIT:
        text = text[: VALUE_LIMIT - 1] + "…"
    return one_line(text)


def lines(text: str) -> list[str]:
    """`text` split into lines, each made inert (tabs kept: they cannot forge anything)."""
    return visible(text).split("\n")
