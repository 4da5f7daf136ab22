"""The incident store's views as text and Markdown: `status` (the open incidents at a glance)
and `timeline` (one incident's events and milestones, for the post-incident review).

Input is the JSON-ready data of `store.views`; output is deterministic for a fixed clock.
Incident values are escaped as in plans (`md`, `one_line`).
"""

from __future__ import annotations

from typing import Any

from playbook_engine.render.markdown import md
from playbook_engine.textsafe import one_line

_COLUMNS = ("ID", "PRI", "STAGE", "AGE", "RESPOND", "RESOLVE", "NEXT ESCALATION", "STEPS", "TITLE")


def duration(seconds: float | int | None) -> str:
    """Seconds for people: the two largest units (`1h05m`, `12m30s`, `3d04h`, `45s`)."""
    if seconds is None:
        return ""
    total = abs(int(round(seconds)))
    sign = "-" if seconds < 0 else ""
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d{hours:02d}h"
    if hours:
        return f"{sign}{hours}h{minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m{secs:02d}s"
    return f"{sign}{secs}s"


def _deadline(item: dict[str, Any] | None) -> str:
    if item is None:
        return "-"
    if item["state"] in ("met", "missed"):
        return str(item["state"])
    left = item["leftSeconds"]
    return f"{duration(left)} left" if left >= 0 else f"OVERDUE {duration(-left)}"


def _escalation(item: dict[str, Any] | None) -> str:
    if item is None:
        return "-"
    left = item["inSeconds"]
    when = f"in {duration(left)}" if left > 0 else f"due {duration(-left)} ago"
    return f"tier {item['tier']} {when}"


def _priority(row: dict[str, Any]) -> str:
    current, peak = row["priority"] or "-", row["peak"]
    return current if not peak or peak == current else f"{current} (peak {peak})"


def _cells(row: dict[str, Any]) -> list[str]:
    steps = row["steps"]
    return [
        row["id"],
        _priority(row),
        row["stage"],
        duration(row["ageSeconds"]),
        _deadline(row["respond"]),
        _deadline(row["resolve"]),
        _escalation(row["nextEscalation"]),
        f"{steps['done']}/{steps['total']}",
        row["title"],
    ]


def status_text(rows: list[dict[str, Any]], now: str) -> str:
    """The open incidents as an aligned table (or a line saying there are none)."""
    if not rows:
        return f"No open incidents (as of {now}).\n"
    table = [list(_COLUMNS)] + [[one_line(c) for c in _cells(row)] for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(_COLUMNS) - 1)]
    out = []
    for cells in table:
        parts = [c.ljust(w) for c, w in zip(cells, widths, strict=False)]
        out.append(("  ".join(parts) + "  " + cells[-1]).rstrip())
    noun = "incident" if len(rows) == 1 else "incidents"
    out.append(f"\n{len(rows)} open {noun} as of {now}.")
    return "\n".join(out) + "\n"


def status_markdown(rows: list[dict[str, Any]], now: str) -> str:
    """The open incidents as a Markdown table."""
    lines = [f"# Open incidents as of {now}", ""]
    if not rows:
        return "\n".join([*lines, "None."]) + "\n"
    lines.append("| " + " | ".join(c.title() for c in _COLUMNS) + " |")
    lines.append("|" + " --- |" * len(_COLUMNS))
    for row in rows:
        lines.append("| " + " | ".join(md(c) for c in _cells(row)) + " |")
    return "\n".join(lines) + "\n"


def incident_header(view: dict[str, Any], fmt: str) -> str:
    """The lines above one incident's plan in `status ID`: stage, priority, who did what."""
    facts = [
        f"Stage: {view['stage']}",
        f"Priority: {_priority(view)}",
        f"Opened: {view['openedAt']} by {view['openedBy']}",
    ]
    if view.get("acknowledgedAt"):
        facts.append(f"Acknowledged: {view['acknowledgedAt']} by {view['acknowledgedBy']}")
    if view.get("resolvedAt"):
        facts.append(f"Resolved: {view['resolvedAt']} by {view['resolvedBy']}")
    steps = view["steps"]
    facts.append(f"Checklist: {steps['done']}/{steps['total']} steps done or skipped")
    facts.append(f"Log: {view['events']} events; library {view['library']}")
    if view.get("libraryNow") and view["libraryNow"] != view["library"]:
        facts.append(
            f"The library changed since: it is {view['libraryNow']} now; this plan uses it"
        )
    if fmt == "markdown":
        return "\n".join(f"- {md(f)}" for f in facts) + "\n\n"
    return "\n".join(one_line(f) for f in facts) + "\n\n"


def timeline_markdown(view: dict[str, Any]) -> str:
    """The timeline for a post-incident review, in Markdown (UTC times)."""
    out = [f"# Timeline: {md(view['incident'])} — {md(view['title'])}", ""]
    priority = view["priority"] or "unclassified"
    if view["peak"] and view["peak"] != view["priority"]:
        priority += f" (peak {view['peak']})"
    playbooks = ", ".join(view["playbooks"]) or "none"
    out += [
        f"- Priority: {md(priority)}; playbooks: {md(playbooks)}",
        f"- Stage: {md(view['stage'])}; library {md(view['library'])}",
        f"- Started {view['startedAt']}; respond by {view['respondBy'] or '-'}, "
        f"resolve by {view['resolveBy'] or '-'}",
    ]
    for label, key, by in (
        ("Time to acknowledge", "acknowledgedAt", "respondBy"),
        ("Time to resolve", "resolvedAt", "resolveBy"),
    ):
        if view[key]:
            since = _since(view, view[key])
            verdict = ""
            if view[by]:
                verdict = "; met" if view[key] <= view[by] else "; **missed**"
            out.append(f"- {label}: {duration(since)}{verdict}")
    out += ["", "## Milestones", "", "| Milestone | Time (UTC) | Since start | Since previous |"]
    out.append("| --- | --- | ---: | ---: |")
    for m in view["milestones"]:
        who = f" ({md(m['by'])})" if m["by"] else ""
        out.append(
            f"| {md(m['what'])}{who} | {m['at']} | {duration(m['sinceStartSeconds'])} | "
            f"{duration(m['sincePreviousSeconds'])} |"
        )
    out += ["", "## Events", "", "| # | Time (UTC) | Since start | Event | By | Details |"]
    out.append("| ---: | --- | ---: | --- | --- | --- |")
    for e in view["events"]:
        out.append(
            f"| {e['n']} | {e['at']} | {duration(e['sinceStartSeconds'])} | {e['kind']} | "
            f"{md(e['by'])} | {md(details(e))} |"
        )
    return "\n".join(out) + "\n"


def _since(view: dict[str, Any], at: str) -> int:
    for m in view["milestones"]:
        if m["at"] == at:
            return int(m["sinceStartSeconds"])
    return 0


def details(event: dict[str, Any]) -> str:
    """One line saying what an event holds."""
    kind, d = event["kind"], event["data"]
    if kind == "opened":
        source = f" from {d['source']}" if d.get("source") else ""
        return f"opened{source}; library {d.get('library', '')}"
    if kind == "classified":
        return (
            f"{d.get('priority')} (impact {d.get('impact')}, urgency {d.get('urgency')}); "
            f"playbooks {', '.join(d.get('playbooks', [])) or 'none'}; respond by "
            f"{d.get('respondBy')}, resolve by {d.get('resolveBy')}"
        )
    if kind == "reclassified":
        return "set " + ", ".join(d.get("set", [])) + f"; library {d.get('library', '')}"
    if kind == "updated":
        return "fields updated" + (f" from {d['source']}" if d.get("source") else "")
    if kind == "step":
        note = f": {d['note']}" if d.get("note") else ""
        return f"{d.get('state')} {d.get('step')}{note}"
    if kind == "notification":
        subject = f": {d['subject']}" if d.get("subject") else ""
        return f"{d.get('id')} to {d.get('channel')}{subject}"
    if kind == "escalated":
        cycle = f" (repeat {d['cycle']})" if d.get("cycle") else ""
        return f"tier {d.get('tier')}{cycle} -> {', '.join(d.get('targets', []))}"
    if kind == "note":
        return str(d.get("text", ""))
    return str(d.get("note", ""))
