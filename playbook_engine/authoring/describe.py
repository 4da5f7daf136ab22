"""Static descriptions of a library, shared by `playbook list` and `playbook docs`.

Conditions as one line of pseudo-code, rule effects, escalation paths and their static
timeline, and the priorities a playbook can produce: all computed from the model alone, without
an incident. The results are plain text; callers make them safe for where they go.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from playbook_engine.check.lint import always_true
from playbook_engine.engine.evaluation import schedule
from playbook_engine.model import (
    AllOf,
    AnyOf,
    Condition,
    Escalation,
    Expr,
    Leaf,
    Library,
    Not,
    Playbook,
    Policy,
    Rule,
)
from playbook_engine.timeparse import format_duration

_COMPARISONS = {
    "equals": "==",
    "greaterThan": ">",
    "greaterOrEqual": ">=",
    "lessThan": "<",
    "lessOrEqual": "<=",
}
# A string shown without quotes must not read as a number, a boolean or null, nor hold spaces,
# brackets or commas that would blur where a list item ends.
_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/@+-]*")
_KEYWORDS = frozenset({"true", "false", "null", "and", "or", "not", "in"})


def library_path(library: Library, path: str) -> str:
    """A document path relative to the library root, the same from whichever directory."""
    root = library.root.rstrip("/")
    if root in ("", "."):
        return path
    return path[len(root) + 1 :] if path.startswith(root + "/") else path


def value_text(value: Any) -> str:
    """A condition value as written in pseudo-code: bare words, quoted strings, `[a, b]` lists."""
    if isinstance(value, str):
        if _BARE.fullmatch(value) and value.lower() not in _KEYWORDS:
            return value
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(value_text(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def condition_text(condition: Condition | None) -> str:
    """A condition on one line, e.g. `incident.severity in [critical, sev1] or x >= 100`.

    `and` binds tighter than `or`; a group inside a different group is parenthesised.
    No condition at all reads `always`.
    """
    if condition is None:
        return "always"
    return _text(condition)


def _text(condition: Condition) -> str:
    if isinstance(condition, Leaf):
        return _leaf(condition)
    if isinstance(condition, Expr):
        return f"expr({condition.source.strip()})"
    if isinstance(condition, Not):
        return _negated(condition.condition)
    if isinstance(condition, AllOf):
        return _group(condition.conditions, "and", "always")
    return _group(condition.conditions, "or", "never")


def _group(children: tuple[Condition, ...], joiner: str, empty: str) -> str:
    if not children:
        return empty
    parts = []
    for child in children:
        text = _text(child)
        if _is_group(child) and _joiner(child) != joiner:
            text = f"({text})"
        parts.append(text)
    return f" {joiner} ".join(parts)


def _is_group(condition: Condition) -> bool:
    return isinstance(condition, AllOf | AnyOf) and len(condition.conditions) > 1


def _joiner(condition: Condition) -> str:
    return "and" if isinstance(condition, AllOf) else "or"


def _negated(condition: Condition) -> str:
    if isinstance(condition, Leaf) and not condition.ignore_case:
        if condition.operator == "equals":
            return f"{condition.field} != {value_text(condition.value)}"
        if condition.operator == "oneOf":
            return f"{condition.field} not in {value_text(condition.value)}"
        if condition.operator == "exists":
            return _leaf(Leaf(condition.field, "exists", not condition.value, condition.span))
    if isinstance(condition, Not):
        return _text(condition.condition)
    return f"not ({_text(condition)})"


def _leaf(leaf: Leaf) -> str:
    op, value, field = leaf.operator, leaf.value, leaf.field
    if op in _COMPARISONS:
        text = f"{field} {_COMPARISONS[op]} {value_text(value)}"
    elif op == "oneOf":
        text = f"{field} in {value_text(value)}"
    elif op == "contains":
        text = f"{field} contains {value_text(value)}"
    elif op == "matches":
        text = f"{field} matches /{value}/"
    elif op == "between":
        low, high = value
        text = f"{value_text(low)} <= {field} <= {value_text(high)}"
    elif op == "exists":
        text = f"{field} exists" if value is True else f"{field} is absent"
    else:  # withinCalendar: the only operator left
        text = f"{field} within calendar {value_text(value)}"
    return text + " (any case)" if leaf.ignore_case else text


def duration_text(delta: timedelta | None) -> str:
    """A duration as an author writes it: `3d` for whole days, else hours first (`25h30m`);
    `no target` for None (a priority without that target).

    Working-time targets such as 25h30m (three business days of 8h30m) would read wrongly as
    `1d1h30m`: a day on a business-hours clock is not 24 hours.
    """
    if delta is None:
        return "no target"
    seconds = int(delta.total_seconds())
    if seconds < 86400 or seconds % 86400 == 0:
        return format_duration(delta)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h" + (format_duration(timedelta(seconds=rest)) if rest else "")


# --- escalation ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One page of the static escalation timeline: when, which tier, which pass, whom."""

    after: timedelta
    tier: int  # 1-based
    cycle: int  # 0 = first pass, 1.. = repeats
    targets: tuple[str, ...]
    when: Condition | None


def timeline(escalation: Escalation) -> list[TimelineEntry]:
    """The escalation schedule as the engine builds it when every tier applies.

    A tier with a `when` can drop out for an incident; the repeats are then timed from the
    tiers that remain, so the times here are those of the case where all tiers apply.
    """
    tiers = list(enumerate(escalation.tiers, start=1))
    return [
        TimelineEntry(after, number, cycle, tier.targets, tier.when)
        for cycle, number, after, tier in schedule(tiers, escalation.repeat)
    ]


def escalation_summary(escalation: Escalation | None) -> str:
    """One line: tiers with their times and targets, repeats, and the acknowledgement rule."""
    if escalation is None:
        return "none"
    tiers = "; ".join(
        f"{duration_text(t.after)} {', '.join(t.targets)}" + (" (conditional)" if t.when else "")
        for t in escalation.tiers
    )
    count = len(escalation.tiers)
    text = f"{count} tier{'s' * (count != 1)}: {tiers}"
    repeat = escalation.repeat
    if repeat is not None:
        times = "once" if repeat.times == 1 else f"{repeat.times} times"
        text += (
            f"; repeats {times} from tier {repeat.from_tier}, "
            f"{duration_text(repeat.after)} after the last tier"
        )
    stop = "stops" if escalation.stop_when_acknowledged else "does not stop"
    return f"{text}; {stop} when acknowledged"


# --- priorities -----------------------------------------------------------------------------


def can_produce(policy: Policy, playbook: Playbook) -> tuple[str, ...]:
    """The priorities an incident can get when this playbook is selected alone.

    A superset, most severe first: every override of its rules and the policy's, and every
    matrix cell of an impact and an urgency that some rule can set (its rules, then the
    policy's, up to the first rule that always matches) or that the defaults give (its own,
    else the policy's). Other playbooks selected with it can add their rules and defaults.
    """
    rules = (*playbook.rules, *policy.rules)
    defaults = playbook.defaults
    impacts = _reachable(
        rules, "impact", (defaults.impact if defaults else None) or policy.defaults.impact
    )
    urgencies = _reachable(
        rules, "urgency", (defaults.urgency if defaults else None) or policy.defaults.urgency
    )
    return _priorities(policy, rules, impacts, urgencies)


def _priorities(
    policy: Policy, rules: tuple[Rule, ...], impacts: set[str], urgencies: set[str]
) -> tuple[str, ...]:
    """The rules' overrides and the matrix cells of `impacts` × `urgencies`, most severe first."""
    # A floor or a ceiling gives its own priority where it moves the matrix's.
    produced = {p for r in rules for p in (r.priority, r.at_least, r.at_most) if p is not None}
    for row_id in impacts:
        row = policy.matrix.get(row_id, {})
        produced.update(row[column] for column in urgencies if column in row)
    return tuple(p.id for p in policy.priorities if p.id in produced)


def own_priorities(policy: Policy, playbook: Playbook) -> tuple[str, ...]:
    """The priorities the playbook's own rules and defaults lead to, most severe first.

    Its overrides and the matrix cells of the impacts and urgencies its rules set, each with
    its default (its own, else the policy's) for when no rule matches. Empty when it has
    neither rules nor defaults: then the policy's rules and defaults decide alone.
    """
    if not playbook.rules and playbook.defaults is None:
        return ()
    defaults = playbook.defaults
    impacts = _reachable(
        playbook.rules, "impact", (defaults.impact if defaults else None) or policy.defaults.impact
    )
    urgencies = _reachable(
        playbook.rules,
        "urgency",
        (defaults.urgency if defaults else None) or policy.defaults.urgency,
    )
    return _priorities(policy, playbook.rules, impacts, urgencies)


def _reachable(rules: tuple[Rule, ...], dimension: str, default: str | None) -> set[str]:
    """Values of `dimension` the rules can decide, in order, and the default if it can be used."""
    found: set[str] = set()
    for rule in rules:
        value = getattr(rule, dimension)
        if value is None:
            continue
        found.add(value)
        if always_true(rule.when):
            return found
    return found | ({default} if default else set())


def policy_overrides(policy: Policy) -> tuple[str, ...]:
    """The priorities the policy's own rules can force, most severe first."""
    forced = {p for r in policy.rules for p in (r.priority, r.at_least, r.at_most) if p}
    return tuple(p.id for p in policy.priorities if p.id in forced)
