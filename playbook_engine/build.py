"""Build model dataclasses from schema-valid documents.

The schema has already checked shapes, so this stage only converts: durations, times and dates
are parsed (a value the grammar refuses becomes a diagnostic) and every object keeps the span of
the YAML node it came from.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time, timedelta
from typing import Any, TypeVar

from .diagnostics import Diagnostic, Span, error, warning
from .loader import SourceDoc
from .model import (
    DEFAULT_MAX_LENGTH,
    OPERATORS,
    AllOf,
    AnyOf,
    Calendar,
    Channel,
    Condition,
    Defaults,
    Escalation,
    Expr,
    Leaf,
    Level,
    Link,
    Not,
    Notification,
    OnCall,
    Playbook,
    Policy,
    Priority,
    Repeat,
    Role,
    Rule,
    Step,
    Team,
    Template,
    Tier,
)
from .timeparse import parse_date, parse_duration, parse_time_of_day

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
T = TypeVar("T")


class _Builder:
    """Converts one document, collecting diagnostics for values the grammars refuse."""

    def __init__(self, doc: SourceDoc) -> None:
        self.doc = doc
        self.diagnostics: list[Diagnostic] = []

    def span(self, pointer: str) -> Span:
        return self.doc.span(pointer)

    def parsed(self, parse: Callable[[str], T], text: str, pointer: str, fallback: T) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            self.diagnostics.append(
                error(
                    "PB301", f"invalid value {text!r}: {exc}", self.span(pointer), pointer=pointer
                )
            )
            return fallback

    def working_time_warnings(self, priority: dict[str, Any], index: int) -> None:
        """Warn where days or weeks are counted on a business-hours clock."""
        for key in ("respondWithin", "resolveWithin"):
            text = priority[key]
            try:
                hours = parse_duration(text).total_seconds() / 3600
            except ValueError:
                continue  # reported as PB301 where the duration is parsed
            if any(unit in text for unit in "wd"):
                pointer = f"/spec/priorities/{index}/{key}"
                self.diagnostics.append(
                    warning(
                        "PB314",
                        f"{priority['id']}.{key} {text} counts working time on calendar "
                        f"'{priority['calendar']}': {text} is {hours:g} working hours, "
                        "not that many working days",
                        self.span(pointer),
                        hint="write working hours: with 09:00-17:30 days, three working days "
                        "are 25h30m",
                        pointer=pointer,
                    )
                )

    def duration(self, text: str, pointer: str) -> timedelta:
        return self.parsed(parse_duration, text, pointer, timedelta(0))

    def condition(self, data: Any, pointer: str) -> Condition:
        span = self.span(pointer)
        if "all" in data:
            items = data["all"]
            return AllOf(
                tuple(self.condition(c, f"{pointer}/all/{i}") for i, c in enumerate(items)), span
            )
        if "any" in data:
            items = data["any"]
            return AnyOf(
                tuple(self.condition(c, f"{pointer}/any/{i}") for i, c in enumerate(items)), span
            )
        if "not" in data:
            return Not(self.condition(data["not"], f"{pointer}/not"), span)
        if "expr" in data:
            return Expr(data["expr"], self.span(f"{pointer}/expr"), data.get("name", ""))
        operator = next(op for op in OPERATORS if op in data)
        return Leaf(
            field=data["field"],
            operator=operator,
            value=data[operator],
            span=span,
            name=data.get("name", ""),
            ignore_case=bool(data.get("ignoreCase", False)),
        )

    def optional_condition(self, data: dict[str, Any], key: str, pointer: str) -> Condition | None:
        if key not in data:
            return None
        return self.condition(data[key], f"{pointer}/{key}")

    def template(self, data: dict[str, Any], key: str, pointer: str) -> Template | None:
        if key not in data:
            return None
        return Template(data[key], self.span(f"{pointer}/{key}"))

    def links(self, data: dict[str, Any]) -> tuple[Link, ...]:
        return tuple(Link(link["title"], link["url"]) for link in data.get("links", ()))

    def rule(self, data: dict[str, Any], pointer: str) -> Rule:
        assignment = data.get("set", {})
        return Rule(
            id=data["id"],
            when=self.condition(data["when"], f"{pointer}/when"),
            impact=assignment.get("impact"),
            urgency=assignment.get("urgency"),
            priority=data.get("priority"),
            span=self.span(pointer),
        )

    def classification(
        self, data: dict[str, Any], pointer: str
    ) -> tuple[tuple[Rule, ...], Defaults | None]:
        section = data.get("classification", {})
        base = f"{pointer}/classification"
        rules = tuple(
            self.rule(rule, f"{base}/rules/{i}") for i, rule in enumerate(section.get("rules", ()))
        )
        defaults = None
        if "defaults" in section:
            found = section["defaults"]
            defaults = Defaults(
                found.get("impact"), found.get("urgency"), self.span(f"{base}/defaults")
            )
        return rules, defaults

    def escalation(self, data: dict[str, Any], pointer: str) -> Escalation | None:
        if "escalation" not in data:
            return None
        section = data["escalation"]
        base = f"{pointer}/escalation"
        tiers = tuple(
            Tier(
                after=self.duration(tier["after"], f"{base}/tiers/{i}/after"),
                targets=tuple(tier["targets"]),
                when=self.optional_condition(tier, "when", f"{base}/tiers/{i}"),
                span=self.span(f"{base}/tiers/{i}"),
            )
            for i, tier in enumerate(section["tiers"])
        )
        repeat = None
        if "repeat" in section:
            found = section["repeat"]
            repeat = Repeat(
                times=found["times"],
                from_tier=found.get("fromTier", 1),
                after=self.duration(found["after"], f"{base}/repeat/after"),
                span=self.span(f"{base}/repeat"),
            )
        return Escalation(tiers, section.get("stopWhenAcknowledged", True), repeat, self.span(base))


def build_policy(doc: SourceDoc) -> tuple[Policy, list[Diagnostic]]:
    """The `Policy` of a schema-valid policy document, and diagnostics for refused values."""
    b = _Builder(doc)
    meta, spec = doc.data["metadata"], doc.data["spec"]
    priorities = tuple(
        Priority(
            id=p["id"],
            name=p["name"],
            description=p.get("description", ""),
            respond_within=b.duration(p["respondWithin"], f"/spec/priorities/{i}/respondWithin"),
            resolve_within=b.duration(p["resolveWithin"], f"/spec/priorities/{i}/resolveWithin"),
            calendar=p.get("calendar"),
            span=b.span(f"/spec/priorities/{i}"),
        )
        for i, p in enumerate(spec["priorities"])
    )

    def levels(key: str) -> tuple[Level, ...]:
        return tuple(
            Level(level["id"], level.get("description", ""), b.span(f"/spec/{key}/{i}"))
            for i, level in enumerate(spec[key])
        )

    calendars = tuple(
        Calendar(
            id=c["id"],
            timezone=c["timezone"],
            weekdays=frozenset(WEEKDAYS.index(day) for day in c["weekdays"]),
            start=b.parsed(
                parse_time_of_day, c["hours"]["start"], f"/spec/calendars/{i}/hours/start", time(0)
            ),
            end=b.parsed(
                parse_time_of_day, c["hours"]["end"], f"/spec/calendars/{i}/hours/end", time(0)
            ),
            holidays=frozenset(
                b.parsed(parse_date, day, f"/spec/calendars/{i}/holidays/{j}", date(1970, 1, 1))
                for j, day in enumerate(c.get("holidays", ()))
            ),
            span=b.span(f"/spec/calendars/{i}"),
        )
        for i, c in enumerate(spec.get("calendars", ()))
    )
    for i, p in enumerate(spec["priorities"]):
        if "calendar" in p:
            b.working_time_warnings(p, i)
    rules, defaults = b.classification(spec, "/spec")
    policy = Policy(
        id=meta["id"],
        title=meta.get("title", meta["id"]),
        description=meta.get("description", ""),
        priorities=priorities,
        impacts=levels("impacts"),
        urgencies=levels("urgencies"),
        matrix={impact: dict(row) for impact, row in spec["matrix"].items()},
        matrix_spans=_matrix_spans(b, spec["matrix"]),
        rules=rules,
        defaults=defaults or Defaults(None, None, b.span("/spec")),
        calendars=calendars,
        roles=tuple(
            Role(r["id"], r.get("name", r["id"]), b.span(f"/spec/roles/{i}"))
            for i, r in enumerate(spec.get("roles", ()))
        ),
        teams=tuple(
            Team(t["id"], t.get("name", t["id"]), t.get("channel"), b.span(f"/spec/teams/{i}"))
            for i, t in enumerate(spec.get("teams", ()))
        ),
        oncall=tuple(
            OnCall(
                o["id"],
                o["team"],
                o.get("name", o["id"]),
                o.get("channel"),
                b.span(f"/spec/oncall/{i}"),
            )
            for i, o in enumerate(spec.get("oncall", ()))
        ),
        channels=tuple(
            Channel(
                id=c["id"],
                kind=c["kind"],
                address=c.get("address", ""),
                max_length=c.get("maxLength", DEFAULT_MAX_LENGTH[c["kind"]]),
                span=b.span(f"/spec/channels/{i}"),
            )
            for i, c in enumerate(spec.get("channels", ()))
        ),
        escalation=b.escalation(spec, "/spec"),
        path=doc.path,
        span=b.span(""),
    )
    return policy, b.diagnostics


def _matrix_spans(b: _Builder, matrix: dict[str, dict[str, str]]) -> dict[str, Span]:
    spans = {"": b.span("/spec/matrix")}
    for impact, row in matrix.items():
        spans[impact] = b.doc.key_span(f"/spec/matrix/{impact}")
        for urgency in row:
            spans[f"{impact}/{urgency}"] = b.span(f"/spec/matrix/{impact}/{urgency}")
    return spans


def build_playbook(doc: SourceDoc) -> tuple[Playbook, list[Diagnostic]]:
    """The `Playbook` of a schema-valid playbook document, and diagnostics for refused values."""
    b = _Builder(doc)
    meta, spec = doc.data["metadata"], doc.data["spec"]
    steps = []
    for i, s in enumerate(spec.get("steps", ())):
        pointer = f"/spec/steps/{i}"
        steps.append(
            Step(
                id=s["id"],
                title=Template(s["title"], b.span(f"{pointer}/title")),
                details=b.template(s, "details", pointer),
                owner=s.get("owner"),
                due=b.duration(s["due"], f"{pointer}/due") if "due" in s else None,
                when=b.optional_condition(s, "when", pointer),
                links=b.links(s),
                depends_on=tuple(s.get("dependsOn", ())),
                span=b.span(pointer),
            )
        )
    notifications = []
    for i, n in enumerate(spec.get("notifications", ())):
        pointer = f"/spec/notifications/{i}"
        notifications.append(
            Notification(
                id=n["id"],
                channel=n["channel"],
                to=tuple(
                    Template(to, b.span(f"{pointer}/to/{j}"))
                    for j, to in enumerate(n.get("to", ()))
                ),
                subject=b.template(n, "subject", pointer),
                body=Template(n["body"], b.span(f"{pointer}/body")),
                when=b.optional_condition(n, "when", pointer),
                span=b.span(pointer),
            )
        )
    rules, defaults = b.classification(spec, "/spec")
    playbook = Playbook(
        id=meta["id"],
        title=meta.get("title", meta["id"]),
        owner=meta.get("owner"),
        description=meta.get("description", ""),
        tags=tuple(meta.get("tags", ())),
        links=b.links(meta),
        applies_when=b.optional_condition(spec, "appliesWhen", "/spec"),
        fallback=bool(spec.get("fallback", False)),
        order=int(spec.get("order", 100)),
        rules=rules,
        defaults=defaults,
        steps=tuple(steps),
        escalation=b.escalation(spec, "/spec"),
        notifications=tuple(notifications),
        path=doc.path,
        span=b.span(""),
    )
    return playbook, b.diagnostics
