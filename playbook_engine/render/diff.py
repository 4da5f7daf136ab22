"""A behaviour diff as Markdown (a pull-request comment), text (a terminal) or JSON.

Markdown and text start with a summary (incident → before → after) and then give the details
of every incident whose plan changed. Everything shown that comes from incidents or templates
is made inert: escaped in Markdown, control characters made visible everywhere.
"""

from __future__ import annotations

import re
from typing import Any

from playbook_engine.authoring.behaviour_diff import BehaviourDiff, IncidentDiff, Outcome
from playbook_engine.authoring.plan_compare import Change
from playbook_engine.jsonio import dumps
from playbook_engine.render.common import timestamp
from playbook_engine.render.markdown import code, md
from playbook_engine.textsafe import one_line

FORMATS = ("markdown", "text", "json")
NO_CHANGE = "No behavioural change"
_BACKTICKS = re.compile("`+")


def render_diff(result: BehaviourDiff, fmt: str, max_length: int | None = None) -> str:
    """The diff in `fmt` (markdown, text or json), ending in one newline. With `max_length`,
    markdown leaves out the details of the last changed incidents until it fits (a
    pull-request comment has a size limit: GitHub's is 65,536 characters), and says so."""
    if fmt == "markdown":
        return _markdown(result, max_length)
    if fmt == "text":
        return _text(result)
    if fmt == "json":
        return dumps(diff_to_dict(result))
    raise ValueError(f"unknown diff format {fmt!r}; known: {', '.join(FORMATS)}")


def diff_to_dict(result: BehaviourDiff) -> dict[str, Any]:
    """The diff as JSON-ready data."""
    return {
        "before": result.before,
        "after": result.after,
        "library": result.library,
        "changed": result.changed,
        "beforeMissing": result.before_missing or None,
        "incidents": [
            {
                "source": i.source,
                "id": i.incident_id,
                "title": i.title,
                "at": timestamp(i.at, i.at.tzinfo),
                "changed": bool(i.changes),
                "before": _outcome_dict(i.before),
                "after": _outcome_dict(i.after),
                "changes": [_change_dict(c) for c in i.changes],
            }
            for i in result.incidents
        ],
        "skipped": [{"source": s.source, "reason": s.reason} for s in result.skipped],
    }


def _outcome_dict(outcome: Outcome | None) -> dict[str, Any] | None:
    if outcome is None:
        return None
    return {"priority": outcome.priority, "playbooks": list(outcome.playbooks)}


def _change_dict(change: Change) -> dict[str, Any]:
    return {
        "area": change.area,
        "kind": change.kind,
        "subject": change.subject,
        "field": change.field,
        "before": change.before,
        "after": change.after,
        "diff": list(change.diff),
    }


def summary(incident: IncidentDiff) -> str:
    """What changed, in a few words: `priority, 2 steps, 1 notification`."""
    subjects: dict[str, set[str]] = {}
    for c in incident.changes:
        subjects.setdefault(c.area, set()).add(c.subject)
    classified = subjects.get("classification", set())
    parts: list[str] = [n for n in ("priority", "impact", "urgency") if n in classified]
    for area, singular, plural in (
        ("playbooks", "playbook", "playbooks"),
        ("deadlines", "deadline", "deadlines"),
        ("steps", "step", "steps"),
        ("escalation", "escalation change", "escalation changes"),
        ("notifications", "notification", "notifications"),
        ("errors", "error", "errors"),
    ):
        count = len(subjects.get(area, ()))
        if count:
            parts.append(f"{count} {singular if count == 1 else plural}")
    return ", ".join(parts)


def _headline(outcome: Outcome | None) -> str:
    if outcome is None:
        return "(no library)"
    return f"{outcome.priority} · {', '.join(outcome.playbooks) or 'no playbook'}"


def _clock(result: BehaviourDiff) -> str:
    if result.at is None:
        return "Clock: each incident's startedAt + 30m."
    return f"Clock: {timestamp(result.at, result.at.tzinfo)}."


def _before_missing(result: BehaviourDiff) -> str:
    return f"No plans before: {result.before_missing}; every plan is new."


def _title(result: BehaviourDiff) -> str:
    return f"Behaviour diff of {result.library}: {result.before} → {result.after}"


# --- markdown ---------------------------------------------------------------------------


def _markdown(result: BehaviourDiff, max_length: int | None = None) -> str:
    blocks = [f"## {md(_title(result))}"]
    if result.before_missing:
        blocks.append(f"*{md(_before_missing(result))}*")
    changed = [i for i in result.incidents if i.changes]
    count = len(result.incidents)
    evaluated = f"{count} incident{'s' * (count != 1)}"
    if not changed:
        blocks.append(f"**{NO_CHANGE}** for {evaluated}. {_clock(result)}")
    else:
        rows = [
            f"| {code(i.source)} | {md(_headline(i.before))} | {md(_headline(i.after))} | "
            f"{md(summary(i))} |"
            for i in changed
        ]
        table = ["| Incident | Before | After | Changes |", "| --- | --- | --- | --- |", *rows]
        blocks.append("\n".join(table))
        unchanged = count - len(changed)
        blocks.append(
            f"{len(changed)} of {evaluated} changed, {unchanged} unchanged. {_clock(result)}"
        )
    details = [_markdown_incident(i) for i in changed]
    tail = []
    if result.skipped:
        lines = [f"- {code(s.source)}: {md(s.reason)}" for s in result.skipped]
        tail.append("### Skipped inputs\n\n" + "\n".join(lines))
    text = "\n\n".join(blocks + details + tail) + "\n"
    while max_length is not None and len(text) > max_length and details:
        details.pop()
        omitted = len(changed) - len(details)
        note = (
            f"*The details of {omitted} more incident{'s' * (omitted != 1)} are left out "
            f"to stay under {max_length} characters: `playbook diff --format text` shows all.*"
        )
        text = "\n\n".join(blocks + details + [note] + tail) + "\n"
    if max_length is not None and len(text) > max_length:  # the summary alone is too long
        cut = "\n\n*Cut to stay under the size limit: `playbook diff --format text` shows all.*\n"
        text = text[: max(0, max_length - len(cut))] + cut
    return text


def _markdown_incident(incident: IncidentDiff) -> str:
    out = [
        f"### {md(incident.incident_id)} — {md(incident.title)}",
        "",
        f"From {code(incident.source)}, at {timestamp(incident.at, incident.at.tzinfo)}.",
        "",
    ]
    for change in incident.changes:
        out.append(f"- {_markdown_change(change)}")
        if change.diff:
            out += _fenced(change.diff)
    return "\n".join(out)


def _markdown_change(c: Change) -> str:
    area = _area_label(c.area)
    if c.kind in ("added", "removed"):
        value = c.after if c.kind == "added" else c.before
        detail = f": {md(value)}" if value else ""
        return f"{area} {c.kind}: {code(c.subject)}{detail}"
    name = f"{code(c.subject)} {md(c.field)}" if c.field else md(c.subject)
    if c.diff and c.before is None and c.after is None:
        return f"{area}: {name} changed:"
    suffix = ":" if c.diff else ""
    return f"{area}: {name}: {_value_md(c.before)} → {_value_md(c.after)}{suffix}"


def _value_md(value: str | None) -> str:
    return md(value) if value else "*(none)*"


def _fenced(lines: tuple[str, ...]) -> list[str]:
    text = "\n".join(lines)
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    body = [f"  {one_line(line)}" if line else "" for line in lines]
    return ["", f"  {fence}diff", *body, f"  {fence}"]


def _area_label(area: str) -> str:
    return {
        "playbooks": "Playbook",
        "classification": "Classification",
        "deadlines": "Deadline",
        "steps": "Step",
        "escalation": "Escalation",
        "notifications": "Notification",
        "errors": "Evaluation error",
    }.get(area, area)


# --- text -------------------------------------------------------------------------------


def _text(result: BehaviourDiff) -> str:
    out = [one_line(_title(result)), ""]
    if result.before_missing:
        out.append(one_line(_before_missing(result)))
    changed = [i for i in result.incidents if i.changes]
    out.append(_clock(result))
    if not changed:
        out.append(f"{NO_CHANGE} ({len(result.incidents)} incidents).")
    for i in changed:
        out.append(
            f"{one_line(i.source)}: {one_line(_headline(i.before))} -> "
            f"{one_line(_headline(i.after))} ({summary(i)})"
        )
    if changed:
        out.append(f"{len(result.incidents) - len(changed)} incidents unchanged.")
    for i in changed:
        out += ["", f"{one_line(i.incident_id)} {one_line(i.title)} [{one_line(i.source)}]"]
        out.append(f"  at {timestamp(i.at, i.at.tzinfo)}")
        for c in i.changes:
            out.append("  " + _text_change(c))
            out += [f"      {one_line(line)}" for line in c.diff]
    if result.skipped:
        out += ["", "Skipped inputs:"]
        out += [f"  {one_line(s.source)}: {one_line(s.reason)}" for s in result.skipped]
    return "\n".join(out) + "\n"


def _text_change(c: Change) -> str:
    area = _area_label(c.area).lower()
    if c.kind in ("added", "removed"):
        sign = "+" if c.kind == "added" else "-"
        value = c.after if c.kind == "added" else c.before
        detail = f": {one_line(value)}" if value else ""
        return f"{sign} {area} {one_line(c.subject)}{detail}"
    name = f"{one_line(c.subject)} {c.field}" if c.field else one_line(c.subject)
    if c.before is None and c.after is None:
        return f"~ {area} {name} changed:"
    before = one_line(c.before) if c.before else "(none)"
    after = one_line(c.after) if c.after else "(none)"
    return f"~ {area} {name}: {before} -> {after}"
