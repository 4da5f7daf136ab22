"""A plan as Markdown, to paste into a ticket or a chat; with `explain`, the trace after it.

Incident values, ids and anything else that is plain text are escaped here so that they render
as typed: no emphasis, link, HTML, table cell or line of their own. Step titles and details are
Markdown already (the sandbox escaped the incident values in them); they are only kept on their
lines. Notification bodies go verbatim into a fence longer than any backtick run they hold.
Every string is also cleared of control and bidi characters (shown as `\\x1b`, `\\u202e`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, tzinfo
from urllib.parse import quote

from playbook_engine.plan import (
    ConditionTrace,
    EscalationPlan,
    LinkOut,
    Plan,
    PlanStep,
    RenderedNotification,
    Trace,
)
from playbook_engine.render.common import (
    after,
    clock_time,
    in_zone,
    lifecycle_text,
    lines,
    plus,
    sla_outcome,
    timestamp,
    value_text,
    zone_label,
)
from playbook_engine.textsafe import one_line

# Backslash escapes for what could start inline syntax: code, emphasis, strikethrough, math,
# table cells and backslashes always; `_` where it can open or close emphasis; `](` (links and
# images); `<` before a tag, comment or autolink; `&` before an entity; trailing `#`s (they close
# a heading); and what makes a GFM autolink: the `:` of `://` and the `.` of `www.`. Nothing
# else is escaped, so `INC-2041` or `matrix[extensive][critical]` stay readable where a chat
# does not render Markdown. A value never starts a line, so line-start syntax cannot occur.
_SPECIAL = re.compile(
    r"[\\`*~$|]|\](?=\()|<(?=[A-Za-z/!?])|&(?=#?[A-Za-z0-9]+;)"
    r"|(?<![^\W_])_|_(?![^\W_])|#(?=[#\s]*$)|:(?=//)|(?<=[wW]{3})\."
)
_BACKTICKS = re.compile("`+")
_WEB_URL = re.compile(r"(?i)https?://")
# Kept by percent-encoding: RFC 3986 reserved characters and `%` (already encoded URLs).
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"


def md(text: str) -> str:
    """Plain text as inline Markdown that renders as typed, on one line."""
    return _SPECIAL.sub(lambda m: "\\" + m.group(), one_line(text))


def code(text: str) -> str:
    """Text as an inline code span, fenced by more backticks than any run inside it."""
    text = one_line(text)
    if not text:
        return "` `"
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    # A span strips one space from each end when both ends have one; pad to keep the text.
    padded = text[0] in "` " or text[-1] in "` "
    pad = " " if padded else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def render_markdown(
    plan: Plan, explain: bool = False, checked: Mapping[str, str] | None = None
) -> str:
    """The plan as Markdown ending in one newline; `checked` ticks steps (id -> `done` or
    `skipped`)."""
    blocks = [f"# {md(plan.incident_id)} — {md(plan.incident_title)}"]
    if plan.errors:
        blocks.append(_errors(plan))
    blocks += _summary(plan)
    blocks.append(_deadlines(plan))
    blocks.append(_checklist(plan, checked or {}))
    blocks.append(_escalation(plan))
    blocks.append(_notifications(plan.notifications))
    if explain:
        blocks.append(_explain(plan.trace))
    return "\n\n".join(blocks) + "\n"


def _errors(plan: Plan) -> str:
    count = len(plan.errors)
    noun = "error" if count == 1 else "errors"
    out = [
        f"> **⚠ {count} {noun} while building this plan** — the texts concerned show "
        "their template source.",
        ">",
    ]
    out += [f"> - At {md(e.where)}: {md(e.message)}" for e in plan.errors]
    return "\n".join(out)


def _summary(plan: Plan) -> list[str]:
    c, p = plan.classification, plan.priority
    headline = (
        f"**{md(p.id)} — {md(p.name)}** · impact **{md(c.impact.value)}** × "
        f"urgency **{md(c.urgency.value)}**"
    )
    priority_note = md(c.priority.decided_by)
    if c.priority.value != c.matrix_priority:
        priority_note += f" (the matrix gives {md(c.matrix_priority)})"
    playbooks = ", ".join(f"{md(ident)} ({md(title)})" for ident, title in plan.playbooks)
    facts = [
        f"- Impact: {md(c.impact.value)}, decided by {md(c.impact.decided_by)}",
        f"- Urgency: {md(c.urgency.value)}, decided by {md(c.urgency.decided_by)}",
        f"- Priority: {md(c.priority.value)}, decided by {priority_note}",
        f"- Playbooks: {playbooks or 'none selected'}",
        *([f"- Status: {md(lifecycle_text(plan))}"] if plan.lifecycle else []),
        f"- Plan as of {timestamp(plan.at, plan.at.tzinfo)}; times in {zone_label(plan.at)}",
    ]
    blocks = [headline]
    if not p.incident:
        blocks.append("**Not an incident**: nobody is paged.")
    if p.description:
        blocks.append(f"Definition of {md(p.id)}: {md(p.description)}")
    blocks.append("\n".join(facts))
    return blocks


def _deadlines(plan: Plan) -> str:
    d, zone = plan.deadlines, plan.at.tzinfo
    clock = "24x7" if d.clock == "24x7" else f"calendar {md(d.clock)} (working hours only)"
    out = ["## SLA", ""]
    for label, moment, within, outcome in (
        ("Respond by", d.respond_by, d.respond_within, sla_outcome(plan, "respond")),
        ("Resolve by", d.resolve_by, d.resolve_within, sla_outcome(plan, "resolve")),
    ):
        if moment is None or within is None:
            out.append(f"- **{label}:** no target")
            continue
        mark = {"overdue": " — **OVERDUE**", "missed": " — **missed**", "met": " — met"}.get(
            outcome, ""
        )
        out.append(
            f"- **{label}:** {timestamp(moment, zone)} ({plus(within, d.clock != '24x7')}){mark}"
        )
    out.append(f"- Clock: {clock}, from {timestamp(d.sla_start, zone)} (SLA start)")
    return "\n".join(out)


def _checklist(plan: Plan, checked: Mapping[str, str]) -> str:
    if not plan.steps:
        return "## Checklist\n\nNo steps."
    zone = plan.at.tzinfo
    day = in_zone(plan.at, zone).date()  # a time without a date is on the "as of" day
    items = [
        _step(step, plan, zone, day, checked.get(step.id) or ("done" if step.done_at else None))
        for step in plan.steps
    ]
    return "## Checklist\n\n" + "\n".join(items)


def _step(
    step: PlanStep, plan: Plan, zone: tzinfo | None, day: date, mark: str | None = None
) -> str:
    line = f"- [{' ' if mark is None else 'x'}] **{one_line(step.title).strip()}**"
    if mark == "skipped":
        line += " (skipped)"
    if step.owner is not None:
        line += f" — {md(step.owner)}"
        if step.owner_name is not None:
            line += f" ({md(step.owner_name)})"
    if step.due is not None:
        if step.due_after is not None:
            offset = plus(step.due_after, plan.deadlines.clock != "24x7")
        else:
            offset = plus(step.due - plan.deadlines.sla_start)
        line += f" · due {clock_time(step.due, zone, day)} ({offset})"
    if step.done_at is not None:
        line += f" · done {clock_time(step.done_at, zone, day)} (the {step.done_by})"
    if step.overdue:
        line += " **OVERDUE**"
    if step.depends_on:
        line += " · after: " + ", ".join(md(dep) for dep in after(step, plan))
    body: list[str] = []
    if step.details:
        body += [f"  {text}" if text.strip() else "" for text in lines(step.details.strip("\n"))]
    if step.links:
        if body:
            body.append("")
        body += [f"  - {_link(link)}" for link in step.links]
    if not body:
        return line
    # Blank lines around the body keep it inside the item and apart from the next item.
    return "\n".join([line, "", *body, ""])


def _link(link: LinkOut) -> str:
    url = one_line(link.url)
    if not _WEB_URL.match(url):
        return f"Link: {md(link.title)} — {md(url)}"
    return f"[{md(link.title) or md(url)}](<{quote(url, safe=_URL_SAFE)}>)"


def _escalation(plan: Plan) -> str:
    escalation: EscalationPlan = plan.escalation
    if not escalation.source:
        return "## Escalation\n\nNo escalation path applies."
    source = "the policy" if escalation.source == "policy" else f"playbook {md(escalation.source)}"
    stop = (
        "stops when acknowledged"
        if escalation.stop_when_acknowledged
        else "continues after acknowledgement"
    )
    out = ["## Escalation", "", f"From {source}; {stop}.", ""]
    if not escalation.entries:
        out.append("No tier applies.")
        return "\n".join(out)
    zone = plan.at.tzinfo
    day = in_zone(plan.at, zone).date()  # a time without a date is on the "as of" day
    out += [
        "| Time | After | Tier | Cycle | Targets | Status |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for e in escalation.entries:
        cycle = "first" if e.cycle == 0 else f"repeat {e.cycle}"
        targets = ", ".join(
            md(t.id) if t.name == t.id else f"{md(t.name)} ({md(t.id)})" for t in e.targets
        )
        status = "**due**" if e.status == "due" else md(e.status)
        out.append(
            f"| {clock_time(e.at, zone, day)} | {plus(e.after)} | {e.tier} | {cycle} | "
            f"{targets or '—'} | {status} |"
        )
    return "\n".join(out)


def _notifications(notifications: tuple[RenderedNotification, ...]) -> str:
    if not notifications:
        return "## Notifications\n\nNo notifications."
    return "## Notifications\n\n" + "\n\n".join(_notification(n) for n in notifications)


def _notification(n: RenderedNotification) -> str:
    kind = f" ({md(n.kind)})" if n.kind else ""
    out = [f"### {md(n.id)} → {md(n.channel)}{kind}", ""]
    out.append("- To: " + (", ".join(md(r) for r in n.to) or "nobody"))
    if n.subject is not None:
        out.append(f"- Subject: {md(n.subject)}")
    out.append("- Body (cut to the channel's limit):" if n.truncated else "- Body:")
    body = lines(n.body.rstrip("\n"))
    longest = max((len(run) for run in _BACKTICKS.findall(n.body)), default=0)
    fence = "`" * max(3, longest + 1)
    out += ["", f"  {fence}text"]
    # Indented with the list item, so that no body line starts a line of the document.
    out += [f"  {text}" if text else "" for text in body]
    out.append(f"  {fence}")
    return "\n".join(out)


# --- explain ----------------------------------------------------------------------------


def _explain(trace: Trace | None) -> str:
    if trace is None:
        return "## Explain\n\nNo trace was recorded: evaluate with explain=True."
    out = ["## Explain", "", "### Playbooks", ""]
    if not trace.playbooks:
        out.append("No playbooks.")
    for p in trace.playbooks:
        verdict = "selected" if p.selected else "not selected"
        out.append(f"- **{md(p.id)}**: {verdict} — {md(p.reason)}")
        out += _condition(p.condition, 1)
    out += ["", "### Classification rules", ""]
    if not trace.rules:
        out.append("No rules evaluated.")
    for r in trace.rules:
        verdict = "matched" if r.matched else "not matched"
        line = f"- **{md(r.origin)}/{md(r.id)}**: {verdict} — {md(r.effect) or 'no effect'}"
        if r.decided:
            line += " · decided " + ", ".join(md(value) for value in r.decided)
        out.append(line)
        out += _condition(r.condition, 1)
    out += ["", f"Matrix cell: {md(trace.matrix_cell)}", "", "### Steps, tiers and notifications"]
    out.append("")
    if not trace.items:
        out.append("No items.")
    for i in trace.items:
        verdict = "kept" if i.kept else "skipped"
        out.append(f"- **{md(i.kind)} {md(i.id)}** ({md(i.playbook)}): {verdict} — {md(i.reason)}")
        out += _condition(i.condition, 1)
    return "\n".join(out)


def _condition(node: ConditionTrace | None, depth: int) -> list[str]:
    if node is None:
        return []
    result = "true" if node.result else "false"
    name = f"**{md(node.name)}**: " if node.name else ""
    if node.kind in ("all", "any", "not"):
        text = f"{name}{node.kind}: {result}"
    elif node.kind == "expr":
        source = node.expected if isinstance(node.expected, str) else ""
        text = f"{name}expr {code(source)}: {result}"
    else:
        text = (
            f"{name}{code(node.field)} {md(node.operator)} {code(value_text(node.expected))} → "
            f"{code(value_text(node.actual))}: {result}"
        )
    if node.note:
        text += f" ({md(node.note)})"
    out = ["  " * depth + "- " + text]
    for child in node.children:
        out += _condition(child, depth + 1)
    return out
