"""Lint beyond the schema: rules that never fire, playbooks nothing selects, mistyped
comparisons, definitions nobody uses, P1 steps without an owner, priorities without an
escalation and notifications without a recipient.

Each finding is a warning with a stable PB5xx code; `suppress` lets authors disable one per
line or per file with a comment.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from playbook_engine.check.semantic import uses_computed_values
from playbook_engine.diagnostics import Diagnostic, Span, warning
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
    Rule,
    leaves,
)

NUMERIC_OPERATORS = frozenset({"greaterThan", "greaterOrEqual", "lessThan", "lessOrEqual"})
STRING_OPERATORS = frozenset({"matches"})
TIMESTAMP_FIELDS = frozenset({"startedAt", "detectedAt", "acknowledgedAt", "resolvedAt"})
_ORDERING_OPERATORS = NUMERIC_OPERATORS | {"between"}
_JUST_TEXT = frozenset({str})


def lint_library(
    library: Library, incident_schema: dict[str, Any], complete: bool = True
) -> list[Diagnostic]:
    """Every lint warning of a library whose schema and references already check out.

    Without `complete` (a document of the library did not load), the warnings that judge
    the library as a whole — definitions nothing uses — are left out: they would blame the
    definitions the missing document uses, burying its one real error.
    """
    out: list[Diagnostic] = []
    out += _unreachable_rules(library.policy.rules)
    for playbook in library.playbooks:
        out += _unreachable_rules(playbook.rules)
        out += _unselectable(playbook)
        out += _ownerless_p1_steps(playbook, library.policy.priorities[0].id)
    mistyped, calendars = _read_leaves(library, incident_schema)
    out += mistyped
    out += _unused_definitions(library, calendars) if complete else []
    out += _priorities_without_escalation(library)
    out += _notifications_without_recipient(library)
    return out


def always_true(condition: Condition) -> bool:
    """Whether a condition holds for every incident, judged from its shape alone."""
    if isinstance(condition, AllOf):
        return all(always_true(c) for c in condition.conditions)
    if isinstance(condition, AnyOf):
        return any(always_true(c) for c in condition.conditions)
    if isinstance(condition, Not):
        return always_false(condition.condition)
    return False


def always_false(condition: Condition) -> bool:
    """Whether a condition holds for no incident, judged from its shape alone."""
    if isinstance(condition, AllOf):
        return any(always_false(c) for c in condition.conditions) or _contradiction(
            [c for c in condition.conditions if isinstance(c, Leaf)]
        )
    if isinstance(condition, AnyOf):
        return all(always_false(c) for c in condition.conditions)
    if isinstance(condition, Not):
        return always_true(condition.condition)
    if isinstance(condition, Leaf) and condition.operator == "oneOf":
        return not condition.value
    return False


def _contradiction(siblings: list[Leaf]) -> bool:
    """Two `equals` leaves on one field with different values cannot both hold."""
    wanted: dict[str, Any] = {}
    for leaf in siblings:
        if leaf.operator != "equals" or leaf.ignore_case:
            continue
        if leaf.field in wanted and wanted[leaf.field] != leaf.value:
            return True
        wanted[leaf.field] = leaf.value
    return False


def _shape(condition: Condition) -> object:
    """A condition without its spans and names, to compare two conditions."""
    if isinstance(condition, AllOf | AnyOf):
        return (type(condition).__name__, tuple(_shape(c) for c in condition.conditions))
    if isinstance(condition, Not):
        return ("not", _shape(condition.condition))
    if isinstance(condition, Expr):
        return ("expr", condition.source)
    value = tuple(condition.value) if isinstance(condition.value, list) else condition.value
    return ("leaf", condition.field, condition.operator, value, condition.ignore_case)


def _dimensions(rule: Rule) -> set[str]:
    return {name for name in ("impact", "urgency") if getattr(rule, name) is not None}


def _unreachable_rules(rules: tuple[Rule, ...]) -> list[Diagnostic]:
    if len(rules) < 2:
        return []  # no rule has an earlier one
    out = []
    # Each rule is compared with every earlier one: what each sets and whether it always
    # holds are worked out once, and its shape once it is needed.
    dimensions = [_dimensions(rule) for rule in rules]
    broad: dict[int, bool] = {}
    shapes: dict[int, object] = {}
    for i, rule in enumerate(rules):
        if rule.priority is not None or rule.at_least is not None or rule.at_most is not None:
            continue
        for j, previous in enumerate(rules[:i]):
            if not dimensions[i] <= dimensions[j]:
                continue
            if j not in broad:
                broad[j] = always_true(previous.when)
            covers = broad[j]
            # Shapes of different kinds of condition differ in their first item.
            if not covers and type(previous.when) is type(rule.when):
                for k in (i, j):
                    if k not in shapes:
                        shapes[k] = _shape(rules[k].when)
                covers = shapes[i] == shapes[j]
            if covers:
                out.append(
                    warning(
                        "PB501",
                        f"rule '{rule.id}' can never decide anything: the earlier rule "
                        f"'{previous.id}' matches whenever it does and sets the same values",
                        rule.span,
                        hint="first match wins; move this rule above the broader one, or remove it",
                    )
                )
                break
    return out


def _unselectable(playbook: Playbook) -> list[Diagnostic]:
    if playbook.fallback:
        return []
    if playbook.applies_when is None:
        reason = "it has no appliesWhen and is not a fallback"
    elif always_false(playbook.applies_when):
        reason = "its appliesWhen can never hold"
    else:
        return []
    return [
        warning(
            "PB502",
            f"no incident can select playbook '{playbook.id}': {reason}",
            playbook.span,
            hint="add an appliesWhen condition, or set `fallback: true`",
        )
    ]


def _field_type(path: str, incident_schema: dict[str, Any]) -> str | None:
    parts = path.split(".")
    if parts[0] != "incident" or len(parts) < 2:
        return None
    properties = incident_schema.get("properties", {})
    if parts[1] in TIMESTAMP_FIELDS and len(parts) == 2:
        return "timestamp"
    declared = properties.get(parts[1], {})
    if len(parts) == 2:
        kind = declared.get("type")
        return kind if isinstance(kind, str) else None
    extra = declared.get("additionalProperties")
    if len(parts) == 3 and isinstance(extra, dict) and isinstance(extra.get("type"), str):
        return str(extra["type"])
    return None


def _value_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "other"


def _mistyped(leaf: Leaf, declared: str) -> str | None:
    if leaf.operator in _ORDERING_OPERATORS:
        if declared == "string":
            return f"'{leaf.operator}' compares numbers or timestamps, but the field is a string"
        return None
    if leaf.operator in STRING_OPERATORS and declared != "string" and declared != "timestamp":
        return f"'matches' tests text, but the field is {declared}"
    if leaf.operator in ("equals", "oneOf"):
        numeric = declared in ("integer", "number")
        values = leaf.value if leaf.operator == "oneOf" else [leaf.value]
        if declared == "string" and set(map(type, values)) <= _JUST_TEXT:
            return None  # the common case, without naming each value's kind
        kinds = {_value_kind(v) for v in values}
        if numeric and kinds - {"number"}:
            return f"the field is a number, but '{leaf.operator}' compares with {_describe(values)}"
        if declared == "string" and kinds - {"string"}:
            return f"the field is a string, but '{leaf.operator}' compares with {_describe(values)}"
    if leaf.operator == "withinCalendar" and declared != "timestamp" and declared != "string":
        return f"'withinCalendar' needs a timestamp field, but the field is {declared}"
    return None


def _describe(values: list[Any]) -> str:
    return ", ".join(repr(v) for v in values)


def _own_conditions(playbook: Playbook) -> Iterator[Condition]:
    """A playbook's conditions (not those of the policy's escalation, which it may use)."""
    if playbook.applies_when is not None:
        yield playbook.applies_when
    for rule in playbook.rules:
        yield rule.when
    for step in playbook.steps:
        if step.when is not None:
            yield step.when
    for notification in playbook.notifications:
        if notification.when is not None:
            yield notification.when
    for tier in playbook.escalation.tiers if playbook.escalation else ():
        if tier.when is not None:
            yield tier.when


class _FieldTypes(dict[str, str | None]):
    """The declared type of each field path, looked up in the incident schema on first use:
    a library tests a few dozen fields thousands of times."""

    def __init__(self, incident_schema: dict[str, Any]) -> None:
        super().__init__()
        self.incident_schema = incident_schema

    def __missing__(self, path: str) -> str | None:
        found = self[path] = _field_type(path, incident_schema=self.incident_schema)
        return found


class _LeafReader:
    """PB503 for the leaves of conditions, noting the calendars that leaves name."""

    def __init__(self, incident_schema: dict[str, Any]) -> None:
        self.calendars: set[str] = set()
        self.types = _FieldTypes(incident_schema)

    def warnings(self, condition: Condition) -> list[Diagnostic]:
        out = []
        # Most conditions are one leaf: those need no list of leaves made for them.
        for leaf in (condition,) if isinstance(condition, Leaf) else leaves(condition):
            if not isinstance(leaf, Leaf):
                continue
            if leaf.operator == "withinCalendar":
                self.calendars.add(str(leaf.value))
            declared = self.types[leaf.field]
            problem = _mistyped(leaf, declared) if declared else None
            if problem:
                out.append(
                    warning(
                        "PB503",
                        f"'{leaf.field}': {problem}; this leaf never holds",
                        leaf.span,
                        hint="compare with a value of the field's type",
                    )
                )
        return out


def _read_leaves(
    library: Library, incident_schema: dict[str, Any]
) -> tuple[list[Diagnostic], set[str]]:
    """The PB503 warnings of every condition's leaves, and the calendars leaves name.

    One walk over the leaves serves both. The policy's escalation is judged once, and its
    warnings repeated for every playbook, which it pages for too.
    """
    policy = library.policy
    reader = _LeafReader(incident_schema)
    out: list[Diagnostic] = []
    for rule in policy.rules:
        out += reader.warnings(rule.when)
    policy_tiers: list[Diagnostic] = []
    for tier in policy.escalation.tiers if policy.escalation else ():
        if tier.when is not None:
            policy_tiers += reader.warnings(tier.when)
    for playbook in (*library.playbooks, *library.shared):
        for condition in _own_conditions(playbook):
            out += reader.warnings(condition)
        out += policy_tiers
    return out, reader.calendars


def _unused_definitions(library: Library, calendars: set[str]) -> list[Diagnostic]:
    """PB504 for definitions nothing uses; `calendars` are those conditions name."""
    policy = library.policy
    playbooks = (*library.playbooks, *library.shared)
    used: dict[str, set[str]] = {
        "team": {p.owner for p in playbooks if p.owner} | {o.team for o in policy.oncall},
        "channel": {n.channel for p in playbooks for n in p.notifications}
        | {t.channel for t in policy.teams if t.channel}
        | {o.channel for o in policy.oncall if o.channel},
        "calendar": {p.calendar for p in policy.priorities if p.calendar} | calendars,
        "role": {s.owner for p in playbooks for s in p.steps if s.owner},
        "on-call target": set(),
    }
    for escalation in _escalations(library):
        used["on-call target"] |= {t for tier in escalation.tiers for t in tier.targets}
    defined: list[tuple[str, str, Span]] = [
        *(("team", t.id, t.span) for t in policy.teams),
        *(("channel", c.id, c.span) for c in policy.channels),
        *(("calendar", c.id, c.span) for c in policy.calendars),
        *(("role", r.id, r.span) for r in policy.roles),
        *(("on-call target", o.id, o.span) for o in policy.oncall),
    ]
    return [
        warning(
            "PB504",
            f"{kind} '{ident}' is defined but never used",
            span,
            hint="remove it, or disable PB504 for it if it documents the organisation",
        )
        for kind, ident, span in defined
        if ident not in used[kind]
    ]


def _escalations(library: Library) -> list[Escalation]:
    found = [p.escalation for p in (*library.playbooks, *library.shared) if p.escalation]
    if library.policy.escalation:
        found.append(library.policy.escalation)
    return found


def _excludes(condition: Condition | None, priority: str) -> bool:
    """Whether a condition's top-level `priority` leaf rules out `priority`."""
    if condition is None:
        return False
    if isinstance(condition, AllOf):
        return any(_excludes(c, priority) for c in condition.conditions)
    if isinstance(condition, Leaf) and condition.field == "priority":
        values = condition.value if condition.operator == "oneOf" else [condition.value]
        if condition.operator in ("equals", "oneOf"):
            return priority not in values
    return False


def _ownerless_p1_steps(playbook: Playbook, top: str) -> list[Diagnostic]:
    return [
        warning(
            "PB505",
            f"step '{step.id}' can run at {top} but has no owner",
            step.span,
            hint="at the most severe priority every step needs an owner role",
        )
        for step in playbook.steps
        if step.owner is None and not _excludes(step.when, top)
    ]


def _priorities_without_escalation(library: Library) -> list[Diagnostic]:
    out = []
    priorities = [p.id for p in library.policy.priorities]
    default = library.policy.escalation
    for playbook in library.playbooks:
        if playbook.applies_when is not None and uses_computed_values(playbook.applies_when):
            continue  # a procedure joins other playbooks: the page is theirs (or the policy's)
        escalation = playbook.escalation or default
        where = "its own escalation" if playbook.escalation else "the policy's escalation"
        if escalation is None:
            silent = priorities
            why = "it has no escalation, and the policy has no default one"
        else:
            silent = [p for p in priorities if all(_excludes(t.when, p) for t in escalation.tiers)]
            why = f"{where} has no tier for {'it' if len(silent) == 1 else 'them'}"
        if silent:
            out.append(
                warning(
                    "PB506",
                    f"playbook '{playbook.id}' pages nobody at {', '.join(silent)}: {why}",
                    playbook.span,
                    hint="add a tier for it, or a default escalation to the policy",
                )
            )
    return out


def _notifications_without_recipient(library: Library) -> list[Diagnostic]:
    channels = {c.id: c for c in library.policy.channels}
    out = []
    for playbook in (*library.playbooks, *library.shared):
        for notification in playbook.notifications:
            channel = channels.get(notification.channel)
            if not notification.to and (channel is None or not channel.address):
                out.append(
                    warning(
                        "PB507",
                        f"notification '{notification.id}' has no recipient: no 'to' and "
                        f"channel '{notification.channel}' has no address",
                        notification.span,
                        hint="add `to:` recipients or an address to the channel",
                    )
                )
    return out
