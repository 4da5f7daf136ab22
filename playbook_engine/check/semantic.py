"""Semantic checks over a built library: what a schema cannot express.

Unique ids, references between documents, a complete matrix, increasing escalation delays,
dependencies on earlier steps, sane calendars and SLA targets, and condition fields that exist
where they are used. Every check returns diagnostics; none stops at the first.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from operator import attrgetter
from typing import Protocol

from playbook_engine.calendars import validate_timezone, zone_caution
from playbook_engine.diagnostics import Diagnostic, Span, error, warning
from playbook_engine.model import (
    ELAPSED_FIELDS,
    Calendar,
    Condition,
    Escalation,
    Expr,
    Leaf,
    Library,
    Playbook,
    Policy,
    Rule,
    Tier,
    leaves,
    root_of,
)
from playbook_engine.sandbox import TemplateError, attribute_paths, template_variables

SELECTION_ROOTS = frozenset({"incident"})
CLASSIFICATION_ROOTS = frozenset({"incident", "elapsed"})
PLAN_ROOTS = frozenset({"incident", "elapsed", "priority", "impact", "urgency"})
_LEVEL_FIELDS = frozenset({"priority", "impact", "urgency"})
_ID = attrgetter("id")
# Where conditions are written: the roots available there, and a name for the place.
_APPLIES_WHEN = (SELECTION_ROOTS, "'appliesWhen'")
# A procedure: a playbook chosen by what classification computes (see `_procedure_problems`).
_PROCEDURE_WHEN = (PLAN_ROOTS, "'appliesWhen'")
_RULE = (CLASSIFICATION_ROOTS, "a classification rule")
_STEP = (PLAN_ROOTS, "a step")
_TIER = (PLAN_ROOTS, "an escalation tier")
_NOTIFICATION = (PLAN_ROOTS, "a notification")


def check_library(
    library: Library,
    incident_fields: frozenset[str],
    complete: bool = True,
    other_playbooks: Sequence[tuple[str, Span]] = (),
) -> list[Diagnostic]:
    """All semantic diagnostics of a library; `incident_fields` are the schema's declared ones.
    Without `complete` (a document did not load), "no fallback playbook" is not judged.
    `other_playbooks`: the ids (and where they are written) of the library's playbooks that
    were not loaded this time, for the duplicate check."""
    policy = library.policy
    out: list[Diagnostic] = []
    refs = _References(policy, incident_fields)
    out += _check_policy(policy, refs)
    out += _duplicates(_in_file_order(library, other_playbooks), "playbook")
    for playbook in (*library.playbooks, *library.shared):
        out += _check_playbook(playbook, refs)
    out += refs.field_problems
    if complete and not any(p.fallback for p in library.playbooks):
        out.append(
            warning(
                "PB312",
                "no playbook has 'fallback: true': an incident no playbook selects gets no steps",
                policy.span,
                hint="add a catch-all triage playbook with `fallback: true`",
            )
        )
    return out


class _Identified(Protocol):
    """Anything with an id, written at a span: a playbook, step, rule, level..."""

    @property
    def id(self) -> str: ...

    @property
    def span(self) -> Span: ...


def _duplicates(items: Sequence[_Identified], what: str) -> list[Diagnostic]:
    if len(set(map(_ID, items))) == len(items):
        return []  # the common case, without pairing each id with its span
    seen: dict[str, Span] = {}
    out = []
    for item in items:
        ident, span = item.id, item.span
        if ident in seen:
            out.append(
                error(
                    "PB302",
                    f"duplicate {what} id '{ident}' (first defined at {_where(seen[ident], span)})",
                    span,
                    hint=f"{what} ids must be unique; rename one",
                )
            )
        else:
            seen[ident] = span
    return out


@dataclass(frozen=True, slots=True)
class _Written:
    """A playbook id known only by where it is written (its file was not loaded)."""

    id: str
    span: Span


def _in_file_order(library: Library, others: Sequence[tuple[str, Span]]) -> Sequence[_Identified]:
    """The library's playbooks and `others` in the order of their files, as if all loaded."""
    if not others:
        return library.playbooks
    position = {path: index for index, path in enumerate(library.files)}
    merged: list[_Identified] = [*library.playbooks, *(_Written(i, s) for i, s in others)]
    merged.sort(key=lambda p: (position.get(p.span.path, -1), p.span.line, p.span.col))
    return merged


def _where(first: Span, here: Span) -> str:
    """Where `first` is, said briefly when it is in the same file as `here`."""
    return f"line {first.line}" if first.path == here.path else str(first)


class _References:
    """The ids a playbook may refer to, and a checker for one reference or condition.

    A condition's field paths are checked in the same walk over its leaves as its references;
    their diagnostics are kept in `field_problems`, which `check_library` reports after all
    the others.
    """

    def __init__(self, policy: Policy, incident_fields: frozenset[str]) -> None:
        self.incident_fields = incident_fields
        self.field_problems: list[Diagnostic] = []
        # A library tests a few dozen field paths thousands of times. Whether a path is fine
        # depends only on the path and the roots allowed (the place and span only word the
        # diagnostics), so paths found fine are not checked again.
        self.fine_fields: dict[frozenset[str], set[str]] = {}
        self.known: Mapping[str, frozenset[str]] = {
            "priority": frozenset(p.id for p in policy.priorities),
            "impact": frozenset(level.id for level in policy.impacts),
            "urgency": frozenset(level.id for level in policy.urgencies),
            "calendar": frozenset(c.id for c in policy.calendars),
            "role": frozenset(r.id for r in policy.roles),
            "team": frozenset(t.id for t in policy.teams),
            "on-call target": frozenset(o.id for o in policy.oncall),
            "channel": frozenset(c.id for c in policy.channels),
        }
        # What a reference may be without a diagnostic: a known id, or None (no reference).
        # The hot loops test this first and call `check` only to word a diagnostic.
        self.allowed: Mapping[str, frozenset[str | None]] = {
            kind: ids | {None} for kind, ids in self.known.items()
        }

    def check(self, kind: str, ident: str | None, span: Span) -> list[Diagnostic]:
        if ident is None or ident in self.known[kind]:
            return []
        known = sorted(self.known[kind])
        listed = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "") if known else "none"
        return [
            error(
                "PB303",
                f"unknown {kind} '{ident}'",
                span,
                hint=f"define it in the policy; known: {listed}",
            )
        ]

    def condition(
        self, condition: Condition | None, roots: frozenset[str], place: str
    ) -> list[Diagnostic]:
        """The reference diagnostics of a condition written in `place`, where `roots` are
        available; its field diagnostics go to `field_problems`."""
        if condition is None:
            return []
        out: list[Diagnostic] = []
        fine = self.fine_fields.get(roots)
        if fine is None:
            fine = self.fine_fields[roots] = set()
        # Most conditions are one leaf: those need no list of leaves made for them.
        for leaf in (condition,) if isinstance(condition, Leaf) else leaves(condition):
            if isinstance(leaf, Leaf):
                if leaf.operator == "withinCalendar":
                    out += self.check("calendar", str(leaf.value), leaf.span)
                if leaf.field in _LEVEL_FIELDS:
                    out += self._level_values(leaf)
                if leaf.field not in fine:
                    found = check_field_path(
                        leaf.field, roots, place, leaf.span, self.incident_fields
                    )
                    if found:
                        self.field_problems += found
                    else:
                        fine.add(leaf.field)
            else:
                self.field_problems += _check_expression(leaf, roots, place, self.incident_fields)
        return out

    def _level_values(self, leaf: Leaf) -> list[Diagnostic]:
        kind = leaf.field
        if leaf.operator not in ("equals", "oneOf"):
            return []
        values = leaf.value if leaf.operator == "oneOf" else [leaf.value]
        # The common case: every value is a known id (text, so its own str()).
        if self.known[kind].issuperset(values):
            return []
        return [d for v in values for d in self.check(kind, str(v), leaf.span)]

    def rule(self, rule: Rule) -> list[Diagnostic]:
        allowed = self.allowed
        if (
            rule.impact in allowed["impact"]
            and rule.urgency in allowed["urgency"]
            and rule.priority in allowed["priority"]
            and rule.at_least in allowed["priority"]
            and rule.at_most in allowed["priority"]
        ):
            return self.condition(rule.when, *_RULE)
        return (
            self.check("impact", rule.impact, rule.span)
            + self.check("urgency", rule.urgency, rule.span)
            + self.check("priority", rule.priority, rule.span)
            + self.check("priority", rule.at_least, rule.span)
            + self.check("priority", rule.at_most, rule.span)
            + self.condition(rule.when, *_RULE)
        )

    def escalation(self, escalation: Escalation | None) -> list[Diagnostic]:
        if escalation is None:
            return []
        out: list[Diagnostic] = []
        previous: Tier | None = None
        targets = self.allowed["on-call target"]
        for tier in escalation.tiers:
            if not targets.issuperset(tier.targets):
                for target in tier.targets:
                    out += self.check("on-call target", target, tier.span)
            out += self.condition(tier.when, *_TIER)
            # Tiers at the same moment are fine when each has its own `when` (page the P1
            # rota now, the P3 rota now too, but other people): they are alternatives.
            alternatives = previous is not None and bool(previous.when and tier.when)
            if previous is not None and (
                tier.after < previous.after or (tier.after == previous.after and not alternatives)
            ):
                out.append(
                    error(
                        "PB306",
                        "escalation delays must increase: this tier's 'after' is not later "
                        "than the previous tier's",
                        tier.span,
                        hint="'after' counts from the incident's start, not from the previous "
                        "tier; tiers at the same moment each need their own 'when'",
                    )
                )
            previous = tier
        repeat = escalation.repeat
        if repeat is not None:
            if not 1 <= repeat.from_tier <= len(escalation.tiers):
                out.append(
                    error(
                        "PB306",
                        f"repeat.fromTier {repeat.from_tier} is not a tier "
                        f"(1..{len(escalation.tiers)})",
                        repeat.span,
                    )
                )
            if repeat.after <= timedelta(0):
                out.append(error("PB306", "repeat.after must be longer than 0m", repeat.span))
        return out


def _check_policy(policy: Policy, refs: _References) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for what, items in (
        ("priority", policy.priorities),
        ("impact", policy.impacts),
        ("urgency", policy.urgencies),
        ("calendar", policy.calendars),
        ("role", policy.roles),
        ("team", policy.teams),
        ("on-call target", policy.oncall),
        ("channel", policy.channels),
    ):
        out += _duplicates(items, what)
    out += _check_matrix(policy, refs)
    declared = [p.incident for p in policy.priorities]
    for position, priority in enumerate(policy.priorities):
        if not priority.incident and any(declared[position + 1 :]):
            out.append(
                error(
                    "PB322",
                    f"{priority.id} is 'not an incident' (incident: false) but a level after it "
                    "is an incident",
                    priority.span,
                    hint="priorities go from most to least severe: put the 'not an incident' "
                    "levels last",
                )
            )
    for priority in policy.priorities:
        out += refs.check("calendar", priority.calendar, priority.span)
        respond, resolve = priority.respond_within, priority.resolve_within
        if respond is not None and resolve is not None and respond > resolve:
            out.append(
                warning(
                    "PB313",
                    f"{priority.id}: respondWithin is longer than resolveWithin",
                    priority.span,
                    hint="responding normally comes before resolving",
                )
            )
    for calendar in policy.calendars:
        problem = validate_timezone(calendar.timezone)
        where = calendar.timezone_span or calendar.span
        if problem:
            out.append(error("PB308", problem, where))
        caution = None if problem else zone_caution(calendar.timezone)
        if caution:
            out.append(warning("PB318", caution[0], where, hint=caution[1]))
        if calendar.end <= calendar.start:
            out.append(error("PB308", "calendar hours must end after they start", calendar.span))
        if not calendar.weekdays:
            out.append(error("PB308", "calendar has no working weekdays", calendar.span))
        out += _public_holiday_problems(calendar)
    for team in policy.teams:
        out += refs.check("channel", team.channel, team.span)
    for oncall in policy.oncall:
        out += refs.check("team", oncall.team, oncall.span)
        out += refs.check("channel", oncall.channel, oncall.span)
    out += _duplicates(policy.rules, "rule")
    for rule in policy.rules:
        out += refs.rule(rule)
    out += refs.check("impact", policy.defaults.impact, policy.defaults.span)
    out += refs.check("urgency", policy.defaults.urgency, policy.defaults.span)
    out += refs.escalation(policy.escalation)
    return out


def _check_matrix(policy: Policy, refs: _References) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    spans = policy.matrix_spans
    for impact_id, row in policy.matrix.items():
        out += refs.check("impact", impact_id, spans.get(impact_id, policy.span))
        for urgency_id, priority_id in row.items():
            cell = spans.get(f"{impact_id}/{urgency_id}", policy.span)
            out += refs.check("urgency", urgency_id, cell)
            out += refs.check("priority", priority_id, cell)
    for level in policy.impacts:
        row = policy.matrix.get(level.id, {})
        missing = [u.id for u in policy.urgencies if u.id not in row]
        if missing:
            out.append(
                error(
                    "PB304",
                    f"matrix has no priority for impact '{level.id}' × urgency "
                    + ", ".join(f"'{u}'" for u in missing),
                    spans.get(level.id, spans.get("", policy.span)),
                    hint="every impact × urgency cell of the matrix needs a priority",
                )
            )
    return out


def _check_playbook(playbook: Playbook, refs: _References) -> list[Diagnostic]:
    out = refs.check("team", playbook.owner, playbook.owner_span)
    if playbook.applies_when is not None and uses_computed_values(playbook.applies_when):
        out += refs.condition(playbook.applies_when, *_PROCEDURE_WHEN)
        out += _procedure_problems(playbook)
    else:
        out += refs.condition(playbook.applies_when, *_APPLIES_WHEN)
    out += _duplicates(playbook.rules, "rule")
    for rule in playbook.rules:
        out += refs.rule(rule)
    if playbook.defaults is not None:
        out += refs.check("impact", playbook.defaults.impact, playbook.defaults.span)
        out += refs.check("urgency", playbook.defaults.urgency, playbook.defaults.span)
    out += _duplicates(playbook.steps, "step")
    earlier: set[str] = set()
    roles = refs.allowed["role"]
    for step in playbook.steps:
        if step.owner not in roles:
            out += refs.check("role", step.owner, step.owner_span or step.span)
        if step.when is not None:
            out += refs.condition(step.when, *_STEP)
        for dependency in step.depends_on:
            if dependency not in earlier:
                out.append(
                    error(
                        "PB307",
                        f"step '{step.id}' depends on '{dependency}', which is not an earlier "
                        "step of this playbook",
                        step.span,
                        hint="list a step after the steps it depends on",
                    )
                )
        earlier.add(step.id)
    out += refs.escalation(playbook.escalation)
    out += _duplicates(playbook.notifications, "notification")
    channels = refs.allowed["channel"]
    for notification in playbook.notifications:
        if notification.channel not in channels:
            out += refs.check(
                "channel", notification.channel, notification.channel_span or notification.span
            )
        if notification.when is not None:
            out += refs.condition(notification.when, *_NOTIFICATION)
    return out


COMPUTED_ROOTS = frozenset({"priority", "impact", "urgency", "elapsed"})
"""What classification computes (and the clock): a condition reading them can only be tested
after classification."""


def uses_computed_values(condition: Condition) -> bool:
    """Whether `condition` reads `priority`, `impact`, `urgency` or `elapsed`: an
    `appliesWhen` that does chooses a procedure after classification, not before."""
    for leaf in leaves(condition):
        if isinstance(leaf, Leaf):
            if root_of(leaf.field) in COMPUTED_ROOTS:
                return True
        else:
            try:
                names = template_variables(leaf.source, expression=True)
            except TemplateError:
                continue  # reported as PB402
            if names & COMPUTED_ROOTS:
                return True
    return False


def _procedure_problems(playbook: Playbook) -> list[Diagnostic]:
    """PB321 for a procedure (a playbook whose `appliesWhen` reads priority, impact, urgency
    or elapsed) that would classify, or is a fallback: it is chosen after classification."""
    span = playbook.applies_when.span if playbook.applies_when is not None else playbook.span
    why = ""
    if playbook.rules or playbook.defaults is not None:
        why = "it has classification rules or defaults, which would decide the priority "
        why += "that chooses it"
    elif playbook.fallback:
        why = "it is a fallback, and fallbacks are chosen before classification"
    if not why:
        return []
    return [
        error(
            "PB321",
            f"playbook '{playbook.id}' is chosen by a computed value in appliesWhen, but {why}",
            span,
            hint="move the classification to a playbook chosen by incident fields, or choose "
            "this one by incident fields",
        )
    ]


def _public_holiday_problems(calendar: Calendar) -> list[Diagnostic]:
    """PB320 for a country or subdivision the `holidays` package does not know."""
    if not calendar.public_holidays:
        return []
    from playbook_engine.calendars import holiday_places

    places = holiday_places()
    where = calendar.public_holidays_span or calendar.span
    out: list[Diagnostic] = []
    for country, subdivision in calendar.public_holidays:
        if country not in places:
            close = difflib.get_close_matches(country, sorted(places), n=3)
            out.append(
                error(
                    "PB320",
                    f"no public holidays are known for country '{country}'",
                    where,
                    hint=(f"did you mean {' or '.join(close)}? " if close else "")
                    + "use an ISO 3166-1 alpha-2 code such as GB, US or DE",
                )
            )
        elif subdivision is not None and subdivision not in places[country]:
            known = ", ".join(places[country]) or "none"
            out.append(
                error(
                    "PB320",
                    f"country '{country}' has no subdivision '{subdivision}'",
                    where,
                    hint=f"its subdivisions: {known}",
                )
            )
    return out


def _check_expression(
    expr: Expr, roots: frozenset[str], place: str, incident_fields: frozenset[str]
) -> list[Diagnostic]:
    try:
        names = template_variables(expr.source, expression=True)
        paths = attribute_paths(expr.source, expression=True)
    except TemplateError:
        return []  # reported as PB402 by the compiler
    out: list[Diagnostic] = []
    for name in sorted(names):
        if name in roots:
            continue
        if name in PLAN_ROOTS:
            out += check_field_path(name, roots, place, expr.span, incident_fields)
        else:
            out.append(
                error(
                    "PB404",
                    f"expression uses unknown variable '{name}'",
                    expr.span,
                    hint="available here: " + ", ".join(sorted(roots)),
                )
            )
    for path in sorted(paths):
        if path.split(".", 1)[0] in ("incident", "elapsed"):
            out += check_field_path(path, roots, place, expr.span, incident_fields)
    return out


def check_field_path(
    path: str, roots: frozenset[str], place: str, span: Span, incident_fields: frozenset[str]
) -> list[Diagnostic]:
    """Diagnostics for a dotted field path used in `place` where `roots` are available."""
    root = root_of(path)
    if root not in roots:
        if root in PLAN_ROOTS:
            return [
                error(
                    "PB309",
                    f"'{root}' is not known yet in {place}: it is computed after "
                    "selection and classification",
                    span,
                    hint="test incident fields here, e.g. incident.severity",
                )
            ]
        return [
            error(
                "PB309",
                f"unknown field root '{root}' in '{path}'",
                span,
                hint="paths start with " + ", ".join(sorted(roots)) + " (e.g. incident.service)",
            )
        ]
    if root in ("priority", "impact", "urgency") and path != root:
        return [error("PB309", f"'{root}' is an id and has no fields: '{path}'", span)]
    parts = path.split(".")
    if root == "elapsed" and (len(parts) != 2 or parts[1] not in ELAPSED_FIELDS):
        close = difflib.get_close_matches(parts[-1], list(ELAPSED_FIELDS), n=1)
        hint = (f"did you mean 'elapsed.{close[0]}'? " if close else "") + "elapsed has: "
        return [
            error(
                "PB309",
                f"unknown field '{path}'",
                span,
                hint=hint + ", ".join(ELAPSED_FIELDS),
            )
        ]
    if root == "incident" and len(parts) > 1 and parts[1] not in incident_fields:
        close = difflib.get_close_matches(parts[1], sorted(incident_fields), n=1)
        hint = (
            f"did you mean '{close[0]}'? " if close else ""
        ) + "extra incident fields are allowed: ignore this if your incidents carry it"
        return [
            warning(
                "PB310",
                f"'{path}': field '{parts[1]}' is not declared by the incident schema",
                span,
                hint=hint,
            )
        ]
    return []
