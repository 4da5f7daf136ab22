"""A plan as plain text for a terminal: compact, aligned, optionally coloured.

Whatever comes from an incident or a rendered template is shown with its control and bidi
characters as visible escapes (`\\x1b`, `\\u202e`), so a title cannot move the cursor, recolour
the screen or reorder what follows. Colour (ANSI) is added only when asked for, around text
that is already inert.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, tzinfo

from playbook_engine.plan import (
    ConditionTrace,
    EscalationPlan,
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

_CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "alarm": "1;31"}
_STATUS_STYLE = {"due": "yellow", "pending": "", "cancelled": "dim", "elapsed": "dim"}


@dataclass(frozen=True, slots=True)
class _Paint:
    """Colours text when the output is a terminal that wants colour."""

    color: bool

    def __call__(self, text: str, style: str) -> str:
        if not self.color or not style or not text:
            return text
        return f"\x1b[{_CODES[style]}m{text}\x1b[0m"


# A cell is its plain text and a style; widths are measured on the plain text.
Cell = tuple[str, str]


def _rows(rows: Sequence[Sequence[Cell]], indent: str, paint: _Paint) -> list[str]:
    """Rows of cells in aligned columns; a row's last cell is neither padded nor measured."""
    widths: dict[int, int] = {}
    for row in rows:
        for index, (text, _) in enumerate(row[:-1]):
            widths[index] = max(widths.get(index, 0), len(text))
    out = []
    for row in rows:
        parts = []
        for index, (text, style) in enumerate(row):
            pad = "" if index == len(row) - 1 else " " * (widths[index] - len(text) + 2)
            parts.append(paint(text, style) + pad)
        out.append((indent + "".join(parts)).rstrip())
    return out


def render_text(
    plan: Plan, explain: bool = False, color: bool = False, checked: Mapping[str, str] | None = None
) -> str:
    """The plan as text for a terminal, ending in one newline; ANSI colour only if `color`;
    `checked` ticks steps (id -> `done` or `skipped`)."""
    paint = _Paint(color)
    blocks = [paint(f"{one_line(plan.incident_id)} — {one_line(plan.incident_title)}", "bold")]
    if plan.errors:
        blocks.append(_errors(plan, paint))
    blocks.append(_summary(plan, paint))
    blocks.append(_deadlines(plan, paint))
    blocks.append(_checklist(plan, paint, checked or {}))
    blocks.append(_escalation(plan, paint))
    blocks.append(_notifications(plan.notifications, paint))
    if explain:
        blocks.append(_explain(plan.trace, paint))
    return "\n\n".join(blocks) + "\n"


def _errors(plan: Plan, paint: _Paint) -> str:
    count = len(plan.errors)
    noun = "error" if count == 1 else "errors"
    head = paint(f"! {count} {noun} while building this plan", "alarm")
    rows = [[(one_line(e.where), ""), (one_line(e.message), "")] for e in plan.errors]
    tail = " (the texts concerned show their template source)"
    return "\n".join([head + tail, *_rows(rows, "!   ", paint)])


def _summary(plan: Plan, paint: _Paint) -> str:
    c, p = plan.classification, plan.priority
    head = (
        paint(f"{one_line(p.id)} {one_line(p.name)}", "bold")
        + f" — impact {one_line(c.impact.value)} × urgency {one_line(c.urgency.value)}"
    )
    priority_note = one_line(c.priority.decided_by)
    if c.priority.value != c.matrix_priority:
        priority_note += f" (the matrix gives {one_line(c.matrix_priority)})"
    playbooks = ", ".join(f"{one_line(i)} ({one_line(t)})" for i, t in plan.playbooks)
    rows = [
        [("impact", ""), (one_line(c.impact.value), ""), (one_line(c.impact.decided_by), "")],
        [("urgency", ""), (one_line(c.urgency.value), ""), (one_line(c.urgency.decided_by), "")],
        [("priority", ""), (one_line(c.priority.value), ""), (priority_note, "")],
        [("playbooks", ""), (playbooks or "none selected", "")],
        *([[("status", ""), (lifecycle_text(plan), "")]] if plan.lifecycle else []),
        [
            ("as of", ""),
            (f"{timestamp(plan.at, plan.at.tzinfo)} (times in {zone_label(plan.at)})", ""),
        ],
    ]
    out = [head]
    if not p.incident:
        out.append("  " + paint("NOT AN INCIDENT", "bold") + ": nobody is paged")
    if p.description:
        out.append("  " + one_line(p.description))
    return "\n".join(out + _rows(rows, "  ", paint))


# A deadline still running says OVERDUE once passed; one judged (answered, resolved) says
# met or missed, so a plan of a resolved incident never reads as late work still to do.
_SLA_MARKS: dict[str, Cell] = {
    "overdue": ("OVERDUE", "alarm"),
    "missed": ("missed", "alarm"),
    "met": ("met", ""),
}


def _deadlines(plan: Plan, paint: _Paint) -> str:
    d, zone = plan.deadlines, plan.at.tzinfo
    clock = "24x7" if d.clock == "24x7" else f"calendar {one_line(d.clock)} (working hours only)"
    head = paint("SLA", "bold") + f"  clock {clock}, from {timestamp(d.sla_start, zone)}"
    rows: list[list[Cell]] = []
    for label, moment, within, outcome in (
        ("respond by", d.respond_by, d.respond_within, sla_outcome(plan, "respond")),
        ("resolve by", d.resolve_by, d.resolve_within, sla_outcome(plan, "resolve")),
    ):
        if moment is None or within is None:
            rows.append([(label, ""), ("no target", ""), ("", "")])
            continue
        row = [(label, ""), (timestamp(moment, zone), ""), (plus(within, d.clock != "24x7"), "")]
        mark = _SLA_MARKS.get(outcome)
        rows.append([*row, mark] if mark else row)
    return "\n".join([head, *_rows(rows, "  ", paint)])


def _checklist(plan: Plan, paint: _Paint, checked: Mapping[str, str]) -> str:
    head = paint("Checklist", "bold")
    if not plan.steps:
        return head + "\n  (no steps)"
    zone = plan.at.tzinfo
    day = in_zone(plan.at, zone).date()  # a time without a date is on the "as of" day
    times = [_due(step, plan, zone, day) for step in plan.steps]
    time_width = max(len(t) for t, _ in times)
    offset_width = max(len(o) for _, o in times)
    # Details and links line up under the title: "  [ ] " + time + 2 + offset + 2.
    body_indent = " " * (6 + time_width + 2 + offset_width + 2)
    out = [head]
    for step, (time_text, offset) in zip(plan.steps, times, strict=True):
        mark = checked.get(step.id) or ("done" if step.done_at is not None else "")
        box = {"done": "[x]", "skipped": "[-]"}.get(mark, "[ ]")
        line = f"  {box} {time_text.ljust(time_width)}  {offset.ljust(offset_width)}  "
        line += paint(one_line(step.title), "bold")
        if step.owner is not None:
            owner = one_line(step.owner)
            if step.owner_name is not None:
                owner += f" ({one_line(step.owner_name)})"
            line += f" · {owner}"
        if step.depends_on:
            line += " · after: " + ", ".join(one_line(dep) for dep in after(step, plan))
        if step.done_at is not None:
            line += f" · done {clock_time(step.done_at, zone, day)} (the {step.done_by})"
        if step.overdue:
            line += "  " + paint("OVERDUE", "alarm")
        out.append(line)
        if step.details:
            out += [(body_indent + text).rstrip() for text in lines(step.details.strip("\n"))]
        for link in step.links:
            out.append(f"{body_indent}{one_line(link.title)}: {one_line(link.url)}")
    return "\n".join(out)


def _due(step: PlanStep, plan: Plan, zone: tzinfo | None, day: date) -> tuple[str, str]:
    if step.due is None:
        return "", ""
    if step.due_after is not None:
        return clock_time(step.due, zone, day), plus(step.due_after, plan.deadlines.clock != "24x7")
    return clock_time(step.due, zone, day), plus(step.due - plan.deadlines.sla_start)


def _escalation(plan: Plan, paint: _Paint) -> str:
    escalation: EscalationPlan = plan.escalation
    head = paint("Escalation", "bold")
    if not escalation.source:
        return head + "  none applies"
    source = (
        "policy" if escalation.source == "policy" else f"playbook {one_line(escalation.source)}"
    )
    stop = (
        "stops when acknowledged"
        if escalation.stop_when_acknowledged
        else "continues after acknowledgement"
    )
    head += f"  from {source} · {stop}"
    if not escalation.entries:
        return head + "\n  (no tier applies)"
    zone = plan.at.tzinfo
    day = in_zone(plan.at, zone).date()  # a time without a date is on the "as of" day
    rows: list[list[Cell]] = []
    for e in escalation.entries:
        tier = f"tier {e.tier}" + (f" repeat {e.cycle}" if e.cycle else "")
        targets = ", ".join(
            one_line(t.id) if t.name == t.id else f"{one_line(t.name)} ({one_line(t.id)})"
            for t in e.targets
        )
        status = one_line(e.status)
        rows.append(
            [
                (clock_time(e.at, zone, day), ""),
                (plus(e.after), ""),
                (tier, ""),
                (status, _STATUS_STYLE.get(e.status, "")),
                (targets or "—", ""),
            ]
        )
    return "\n".join([head, *_rows(rows, "  ", paint)])


def _notifications(notifications: tuple[RenderedNotification, ...], paint: _Paint) -> str:
    head = paint("Notifications", "bold")
    if not notifications:
        return head + "\n  (none)"
    return "\n".join([head, *(line for n in notifications for line in _notification(n, paint))])


def _notification(n: RenderedNotification, paint: _Paint) -> list[str]:
    kind = f" ({one_line(n.kind)})" if n.kind else ""
    out = [f"  {paint(one_line(n.id), 'bold')} → {one_line(n.channel)}{kind}"]
    # Fixed label width, so that every notification lines up the same way.
    out.append("    to       " + (", ".join(one_line(r) for r in n.to) or "nobody"))
    if n.subject is not None:
        out.append(f"    subject  {one_line(n.subject)}")
    out += [f"    │ {text}".rstrip() for text in lines(n.body.rstrip("\n"))]
    if n.truncated:
        out.append("    " + paint("(cut to the channel's limit)", "dim"))
    return out


# --- explain ----------------------------------------------------------------------------


def _explain(trace: Trace | None, paint: _Paint) -> str:
    head = paint("Explain", "bold")
    if trace is None:
        return head + "\n  no trace was recorded: evaluate with explain=True"
    out = [head, "  Playbooks"]
    out += _entries(
        [
            (
                [one_line(p.id), "selected" if p.selected else "not selected", one_line(p.reason)],
                p.condition,
            )
            for p in trace.playbooks
        ],
        paint,
    ) or ["    (none)"]
    out.append("  Classification rules")
    rule_rows = []
    for r in trace.rules:
        cells = [
            f"{one_line(r.origin)}/{one_line(r.id)}",
            "matched" if r.matched else "not matched",
        ]
        effect = one_line(r.effect) or "no effect"
        if r.decided:
            effect += " · decided " + ", ".join(one_line(value) for value in r.decided)
        rule_rows.append(([*cells, effect], r.condition))
    out += _entries(rule_rows, paint) or ["    (none evaluated)"]
    out.append(f"  Matrix cell  {one_line(trace.matrix_cell)}")
    out.append("  Steps, tiers and notifications")
    item_rows = [
        (
            [
                f"{one_line(i.kind)} {one_line(i.id)} ({one_line(i.playbook)})",
                "kept" if i.kept else "skipped",
                one_line(i.reason),
            ],
            i.condition,
        )
        for i in trace.items
    ]
    out += _entries(item_rows, paint) or ["    (none)"]
    return "\n".join(out)


def _entries(
    entries: Sequence[tuple[list[str], ConditionTrace | None]], paint: _Paint
) -> list[str]:
    """Aligned header rows, each followed by its condition tree."""
    rows = [[(text, "") for text in cells] for cells, _ in entries]
    out: list[str] = []
    for line, (_, condition) in zip(_rows(rows, "    ", paint), entries, strict=True):
        out.append(line)
        out += _condition(condition, 3, paint)
    return out


def _condition(node: ConditionTrace | None, depth: int, paint: _Paint) -> list[str]:
    if node is None:
        return []
    result = paint("true", "green") if node.result else paint("false", "red")
    name = f"{one_line(node.name)}: " if node.name else ""
    if node.kind in ("all", "any", "not"):
        text = f"{name}{node.kind}: {result}"
    elif node.kind == "expr":
        source = node.expected if isinstance(node.expected, str) else ""
        text = f"{name}expr {one_line(source)}: {result}"
    else:
        text = (
            f"{name}{one_line(node.field)} {one_line(node.operator)} "
            f"{value_text(node.expected)} → {value_text(node.actual)}: {result}"
        )
    if node.note:
        text += f" ({one_line(node.note)})"
    out = ["  " * depth + text]
    for child in node.children:
        out += _condition(child, depth + 1, paint)
    return out
