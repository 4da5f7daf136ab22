"""Compare two plans of the same incident: what a library change changes for it.

Selected playbooks, classification (values and what decided them), deadlines, steps (added,
removed, retitled, re-timed, re-owned...), escalation entries, notifications (added, removed,
re-addressed, with a shortened unified diff of a changed body) and evaluation errors. Every
difference is one `Change`, in a fixed order, so that renderers and tests need no plan logic.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from playbook_engine.plan import EscalationEntry, Plan, PlanStep, RenderedNotification
from playbook_engine.render.common import plus, timestamp

BODY_DIFF_LINES = 12


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between the two plans of an incident."""

    # playbooks | classification | deadlines | steps | escalation | notifications | errors
    area: str
    kind: str  # added | removed | changed
    subject: str  # what changed: "priority", a step or notification id, an escalation entry...
    field: str = ""  # the attribute of the subject that changed, for kind "changed"
    before: str | None = None
    after: str | None = None
    diff: tuple[str, ...] = ()  # unified diff of a body or of step details, shortened


def compare_plans(
    before: Plan, after: Plan, before_prefix: str = "", after_prefix: str = ""
) -> list[Change]:
    """Every difference between two plans of the same incident at the same clock.

    The prefixes are stripped from the places of evaluation errors, so that the same error in
    two copies of a library is the same error.
    """
    changes = _playbooks(before, after)
    changes += _classification(before, after)
    changes += _deadlines(before, after)
    changes += _steps(before, after)
    changes += _escalation(before, after)
    changes += _notifications(before, after)
    old_errors = [_where(e.where, before_prefix) + ": " + e.message for e in before.errors]
    new_errors = [_where(e.where, after_prefix) + ": " + e.message for e in after.errors]
    changes += _multiset("errors", old_errors, new_errors)
    return changes


def _where(where: str, prefix: str) -> str:
    return where[len(prefix) :] if prefix and where.startswith(prefix) else where


def _playbooks(before: Plan, after: Plan) -> list[Change]:
    old = [p for p, _ in before.playbooks]
    new = [p for p, _ in after.playbooks]
    changes = _multiset("playbooks", old, new)
    if not changes and old != new:
        changes.append(
            Change("playbooks", "changed", "merge order", "", ", ".join(old), ", ".join(new))
        )
    return changes


def _classification(before: Plan, after: Plan) -> list[Change]:
    old, new = before.classification, after.classification
    changes = []
    for name, a, b in (
        ("priority", old.priority, new.priority),
        ("impact", old.impact, new.impact),
        ("urgency", old.urgency, new.urgency),
    ):
        if a.value != b.value:
            changes.append(Change("classification", "changed", name, "value", a.value, b.value))
        if a.decided_by != b.decided_by:
            changes.append(
                Change("classification", "changed", name, "decided by", a.decided_by, b.decided_by)
            )
    return changes


def _deadlines(before: Plan, after: Plan) -> list[Change]:
    old, new = before.deadlines, after.deadlines
    zone = before.at.tzinfo
    changes = []
    for name, a, b in (
        ("respond by", old.respond_by, new.respond_by),
        ("resolve by", old.resolve_by, new.resolve_by),
    ):
        if a != b:
            shown = (
                "no target" if a is None else f"{timestamp(a, zone)} ({plus(a - old.sla_start)})",
                "no target" if b is None else f"{timestamp(b, zone)} ({plus(b - new.sla_start)})",
            )
            changes.append(Change("deadlines", "changed", name, "", *shown))
    if old.clock != new.clock:
        changes.append(Change("deadlines", "changed", "clock", "", old.clock, new.clock))
    return changes


def _steps(before: Plan, after: Plan) -> list[Change]:
    return _keyed(
        "steps",
        {s.id: s for s in before.steps},
        {s.id: s for s in after.steps},
        _step_line,
        lambda a, b: (
            ("title", a.title, b.title),
            ("owner", a.owner or "", b.owner or ""),
            ("due", _due(a, before), _due(b, after)),
            ("depends on", ", ".join(a.depends_on), ", ".join(b.depends_on)),
            ("playbook", a.playbook, b.playbook),
            ("details", a.details, b.details),
            ("links", _links(a), _links(b)),
        ),
        (before, after),
    )


_LONG_TEXT = frozenset({"details", "body"})
"""Fields whose change is shown as a diff: it says it better than both versions."""


def _keyed(
    area: str,
    old: dict[str, Any],
    new: dict[str, Any],
    line: Callable[[Any, Plan], str],
    fields: Callable[[Any, Any], tuple[tuple[str, str, str], ...]],
    plans: tuple[Plan, Plan],
) -> list[Change]:
    """Changes of items with ids (steps, notifications): removed, added, then each changed
    field of the items in both, in the order `fields` gives."""
    changes = [
        Change(area, "removed", ident, "", line(item, plans[0]), None)
        for ident, item in old.items()
        if ident not in new
    ]
    changes += [
        Change(area, "added", ident, "", None, line(item, plans[1]))
        for ident, item in new.items()
        if ident not in old
    ]
    for ident, a in old.items():
        b = new.get(ident)
        if b is None:
            continue
        for name, x, y in fields(a, b):
            if x == y:
                continue
            if name in _LONG_TEXT:
                changes.append(Change(area, "changed", ident, name, diff=_body_diff(x, y)))
            else:
                changes.append(Change(area, "changed", ident, name, x or None, y or None))
    return changes


def _due(step: PlanStep, plan: Plan) -> str:
    if step.due is None:
        return ""
    start = plan.deadlines.sla_start
    return f"{timestamp(step.due, plan.at.tzinfo)} ({plus(step.due - start)})"


def _step_line(step: PlanStep, plan: Plan) -> str:
    parts = [step.title]
    if step.owner:
        parts.append(f"owner {step.owner}")
    if step.due is not None:
        parts.append(f"due {_due(step, plan)}")
    return " · ".join(parts)


def _links(step: PlanStep) -> str:
    return ", ".join(f"{link.title} <{link.url}>" for link in step.links)


def _escalation(before: Plan, after: Plan) -> list[Change]:
    old, new = before.escalation, after.escalation
    changes = []
    if old.source != new.source:
        changes.append(
            Change(
                "escalation", "changed", "source", "", old.source or "none", new.source or "none"
            )
        )
    if old.source and new.source and old.stop_when_acknowledged != new.stop_when_acknowledged:
        changes.append(
            Change(
                "escalation",
                "changed",
                "stops when acknowledged",
                "",
                str(old.stop_when_acknowledged).lower(),
                str(new.stop_when_acknowledged).lower(),
            )
        )
    changes += _multiset(
        "escalation",
        [_entry(e, before) for e in old.entries],
        [_entry(e, after) for e in new.entries],
    )
    return changes


def _entry(entry: EscalationEntry, plan: Plan) -> str:
    cycle = "first" if entry.cycle == 0 else f"repeat {entry.cycle}"
    targets = ", ".join(t.id for t in entry.targets) or "nobody"
    when = timestamp(entry.at, plan.at.tzinfo)
    return f"{when} ({plus(entry.after)}) tier {entry.tier} {cycle}: {targets} [{entry.status}]"


def _notifications(before: Plan, after: Plan) -> list[Change]:
    return _keyed(
        "notifications",
        {n.id: n for n in before.notifications},
        {n.id: n for n in after.notifications},
        lambda n, _: _notification_line(n),
        lambda a, b: (
            ("channel", a.channel, b.channel),
            ("to", ", ".join(a.to), ", ".join(b.to)),
            ("subject", a.subject or "", b.subject or ""),
            ("playbook", a.playbook, b.playbook),
            ("body", a.body, b.body),
        ),
        (before, after),
    )


def _notification_line(n: RenderedNotification) -> str:
    to = ", ".join(n.to) or "nobody"
    return f"{n.channel} to {to}" + (f": {n.subject}" if n.subject else "")


def _body_diff(before: str, after: str) -> tuple[str, ...]:
    """A unified diff of two texts without file headers, cut at `BODY_DIFF_LINES` lines."""
    lines = list(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=1))[
        2:
    ]
    if len(lines) > BODY_DIFF_LINES:
        rest = len(lines) - BODY_DIFF_LINES
        lines = [*lines[:BODY_DIFF_LINES], f"… {rest} more line{'s' * (rest != 1)}"]
    return tuple(lines)


def _multiset(area: str, before: list[str], after: list[str]) -> list[Change]:
    """Items only in `before` (removed) and only in `after` (added), each in its list's order."""
    old, new = Counter(before), Counter(after)
    removed, added = old - new, new - old
    changes = []
    for item in before:
        if removed[item] > 0:
            removed[item] -= 1
            changes.append(Change(area, "removed", item))
    for item in after:
        if added[item] > 0:
            added[item] -= 1
            changes.append(Change(area, "added", item))
    return changes
