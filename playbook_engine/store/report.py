"""The metrics the policy is judged by, aggregated in SQL over the summary table.

For the incidents that started in [since, until): MTTA (start to acknowledgement), MTTR
(start to resolution), respond and resolve SLA compliance (met / judged; an incident is judged
once it met its deadline or the deadline has passed), escalation rate (paged past the first
tier), re-opened rate, and first-contact resolution (resolved without paging past the first
tier) — overall, by peak priority, by playbook (every playbook that applied to an incident
counts it), and by week (weeks start on Monday, UTC).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from playbook_engine.store.connection import Connection
from playbook_engine.store.events import epoch, iso, moment

_MONDAY = 345_600  # 1970-01-05T00:00:00Z, the first Monday after the epoch
_WEEK = 604_800

_METRICS = """count(*),
 sum(CASE WHEN acknowledged IS NOT NULL THEN 1 ELSE 0 END),
 avg(CASE WHEN acknowledged IS NOT NULL THEN acknowledged - started END),
 sum(CASE WHEN stage = 'resolved' THEN 1 ELSE 0 END),
 avg(CASE WHEN stage = 'resolved' THEN resolved - started END),
 sum(CASE WHEN acknowledged IS NOT NULL AND acknowledged <= respond_by THEN 1 ELSE 0 END),
 sum(CASE WHEN respond_by IS NOT NULL AND (acknowledged IS NOT NULL OR respond_by < ?)
     THEN 1 ELSE 0 END),
 sum(CASE WHEN stage = 'resolved' AND resolved <= resolve_by THEN 1 ELSE 0 END),
 sum(CASE WHEN resolve_by IS NOT NULL AND (stage = 'resolved' OR resolve_by < ?)
     THEN 1 ELSE 0 END),
 sum(CASE WHEN max_tier >= 2 THEN 1 ELSE 0 END),
 sum(CASE WHEN reopened > 0 THEN 1 ELSE 0 END),
 sum(CASE WHEN stage = 'resolved' AND max_tier <= 1 THEN 1 ELSE 0 END)"""


def report(conn: Connection, since: datetime, until: datetime, now: datetime) -> dict[str, Any]:
    """The report as JSON-ready data (see the module docstring)."""
    week = (
        f"floor((started - {_MONDAY}) / {_WEEK})"
        if conn.postgres
        else f"CAST((started - {_MONDAY}) / {_WEEK} AS INTEGER)"
    )
    window = (epoch(now), epoch(now), epoch(since), epoch(until))
    where = "FROM pb_incidents WHERE started >= ? AND started < ?"
    with conn.read():
        overall = conn.execute(f"SELECT {_METRICS} {where}", window).fetchone()
        priorities = conn.execute(
            f"SELECT peak, min(peak_rank), {_METRICS} {where} GROUP BY peak ORDER BY 2, 1",
            window,
        ).fetchall()
        playbooks = conn.execute(
            f"SELECT p.playbook, {_METRICS} FROM pb_incidents JOIN pb_incident_playbooks p "
            "ON p.incident = pb_incidents.id WHERE started >= ? AND started < ? "
            "GROUP BY p.playbook ORDER BY 1",
            window,
        ).fetchall()
        weeks = conn.execute(
            f"SELECT {week} AS week, {_METRICS} {where} GROUP BY {week} ORDER BY 1", window
        ).fetchall()
    return {
        "since": iso(since),
        "until": iso(until),
        "overall": _metrics(overall),
        "byPriority": [
            {"priority": row[0] or "(unclassified)", **_metrics(row[2:])} for row in priorities
        ],  # fmt: skip
        "byPlaybook": [{"playbook": row[0] or "(none)", **_metrics(row[1:])} for row in playbooks],
        "byWeek": [
            {"week": iso(moment(_MONDAY + int(row[0]) * _WEEK))[:10], **_metrics(row[1:])}
            for row in weeks
        ],
    }


def _metrics(row: Any) -> dict[str, Any]:
    count, acked, mtta, resolved, mttr, r_met, r_judged, s_met, s_judged, escalated = row[:10]
    reopened, first = row[10:12]
    return {
        "incidents": _int(count),
        "acknowledged": _int(acked),
        "resolved": _int(resolved),
        "mttaSeconds": _round(mtta),
        "mttrSeconds": _round(mttr),
        "mtta": _duration(mtta),
        "mttr": _duration(mttr),
        "respond": _compliance(r_met, r_judged),
        "resolve": _compliance(s_met, s_judged),
        "escalated": _int(escalated),
        "escalationRate": _rate(escalated, count),
        "reopened": _int(reopened),
        "reopenedRate": _rate(reopened, count),
        "firstContact": _int(first),
        "firstContactResolution": _rate(first, resolved),
    }


def _int(value: Any) -> int:
    return int(value or 0)  # a sum over no rows is NULL


def _compliance(met: Any, judged: Any) -> dict[str, Any]:
    return {"met": _int(met), "judged": _int(judged), "rate": _rate(met, judged)}


def _rate(part: Any, whole: Any) -> float | None:
    return round(_int(part) / _int(whole), 4) if _int(whole) else None


def _round(seconds: Any) -> float | None:
    return None if seconds is None else round(float(seconds), 1)


def _duration(seconds: Any) -> str | None:
    """Seconds as `1h05m`, `12m30s`, `3d4h`."""
    if seconds is None:
        return None
    return human(timedelta(seconds=round(float(seconds))))


def human(value: timedelta) -> str:
    """A duration for people: the two largest units (`1h05m`, `12m30s`, `3d04h`, `45s`)."""
    total = int(abs(value).total_seconds())
    sign = "-" if value < timedelta(0) else ""
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{sign}{days}d{hours:02d}h"
    if hours:
        return f"{sign}{hours}h{minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m{seconds:02d}s"
    return f"{sign}{seconds}s"
