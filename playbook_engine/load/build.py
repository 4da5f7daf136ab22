"""Build model dataclasses from schema-valid documents.

The schema has already checked shapes, so this stage only converts: durations, times and dates
are parsed (a value the grammar refuses becomes a diagnostic) and every object keeps the span of
the YAML node it came from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

from playbook_engine.diagnostics import Diagnostic, Span, error, warning
from playbook_engine.load.documents import SourceDoc
from playbook_engine.model import (
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
from playbook_engine.timeparse import parse_date, parse_duration, parse_time_of_day

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_OPERATORS = frozenset(OPERATORS)
T = TypeVar("T")

# Spans, templates and condition leaves are two in three of the ~160 objects each playbook is
# built into. The __init__ of a frozen dataclass sets each field through object.__setattr__;
# setting the slots through their descriptors instead makes the same objects (same class and
# fields: equal, hashed, ordered and pickled alike) in about 60 % of the time, which is a
# tenth of a build. tests/test_build_fast.py checks that these classes keep exactly these
# fields and no __post_init__, so that nothing their __init__ does is skipped.


def _slot_setters(cls: type) -> tuple[Callable[[object, Any], None], ...]:
    """The setters of a slotted dataclass's fields, in field order."""
    return tuple(cls.__dict__[f.name].__set__ for f in fields(cls))


_SPAN_SETTERS = _slot_setters(Span)
_TEMPLATE_SETTERS = _slot_setters(Template)
_LEAF_SETTERS = _slot_setters(Leaf)


def _template(source: str, span: Span, body: Span | None = None) -> Template:
    """`Template(source, span, body)`, made faster (see above)."""
    template = object.__new__(Template)
    set_source, set_span, set_body = _TEMPLATE_SETTERS
    set_source(template, source)
    set_span(template, span)
    set_body(template, body)
    return template


def _leaf(path: str, operator: str, value: Any, span: Span, name: str, ignore_case: bool) -> Leaf:
    """`Leaf(path, operator, value, span, name, ignore_case)`, made faster (see above)."""
    leaf = object.__new__(Leaf)
    set_field, set_operator, set_value, set_span, set_name, set_ignore_case = _LEAF_SETTERS
    set_field(leaf, path)
    set_operator(leaf, operator)
    set_value(leaf, value)
    set_span(leaf, span)
    set_name(leaf, name)
    set_ignore_case(leaf, ignore_case)
    return leaf


class _Builder:
    """Converts one document, collecting diagnostics for values the grammars refuse."""

    def __init__(self, doc: SourceDoc) -> None:
        self.doc = doc
        self.path = doc.path
        self.positions = doc.value_positions
        self.blocks = doc.block_positions
        self.diagnostics: list[Diagnostic] = []

    def span(self, pointer: str) -> Span:
        # `doc.span` with its common case inlined: a schema-valid document has a position for
        # every pointer built here, and this runs ~67 times per playbook. The nearest ancestor
        # is only searched for (by `doc.span`) where the pointer has no position of its own.
        position = self.positions.get(pointer)
        if position is None:
            return self.doc.span(pointer)
        # `Span(self.path, *position)`, made by its slots (see above) without a further call.
        span = object.__new__(Span)
        set_path, set_line, set_col = _SPAN_SETTERS
        set_path(span, self.path)
        set_line(span, position[0])
        set_col(span, position[1])
        return span

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

    def working_time_warnings(
        self, priority: dict[str, Any], index: int, day: timedelta | None
    ) -> None:
        """Warn where days or weeks are counted on a business-hours clock whose working day
        is `day` long (None if unknown)."""
        if day is not None and day > timedelta(0):
            hint = f"write working hours: a working day of this calendar is {_hours(day)}"
            hint += f", so three working days are {_hours(3 * day)}"
        else:
            hint = "write working hours: with 09:00-17:30 days, three working days are 25h30m"
        for key in ("respondWithin", "resolveWithin"):
            if key not in priority:
                continue  # no such target
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
                        hint=hint,
                        pointer=pointer,
                    )
                )

    def duration(self, text: str, pointer: str) -> timedelta:
        try:
            return parse_duration(text)  # the common case without `parsed`'s indirection
        except ValueError:
            return self.parsed(parse_duration, text, pointer, timedelta(0))

    def condition(self, data: Any, pointer: str) -> Condition:
        # Leaves are three in four conditions: test for them first. The schema allows `field`
        # in leaves only, and exactly one operator beside it: the first key that is one is it
        # (a leaf has two to four keys, where OPERATORS has eleven).
        if "field" in data:
            for operator in data:
                if operator in _OPERATORS:
                    break
            return _leaf(
                data["field"],
                operator,
                data[operator],
                self.span(pointer),
                data.get("name", ""),
                bool(data.get("ignoreCase", False)),
            )
        if "all" in data:
            base = f"{pointer}/all/"
            items = data["all"]
            return AllOf(
                tuple([self.condition(c, f"{base}{i}") for i, c in enumerate(items)]),
                self.span(pointer),
            )
        if "any" in data:
            base = f"{pointer}/any/"
            items = data["any"]
            return AnyOf(
                tuple([self.condition(c, f"{base}{i}") for i, c in enumerate(items)]),
                self.span(pointer),
            )
        if "not" in data:
            return Not(self.condition(data["not"], f"{pointer}/not"), self.span(pointer))
        return Expr(data["expr"], self.span(f"{pointer}/expr"), data.get("name", ""))

    def optional_condition(self, data: dict[str, Any], key: str, pointer: str) -> Condition | None:
        if key not in data:
            return None
        return self.condition(data[key], f"{pointer}/{key}")

    def template(self, data: dict[str, Any], key: str, pointer: str) -> Template | None:
        if key not in data:
            return None
        return self.text(data[key], f"{pointer}/{key}")

    def text(self, source: str, pointer: str) -> Template:
        """The template written at `pointer`."""
        block = self.blocks.get(pointer) if self.blocks else None
        body = None if block is None else Span(self.path, *block)
        return _template(source, self.span(pointer), body)

    def links(self, data: dict[str, Any]) -> tuple[Link, ...]:
        if "links" not in data:
            return ()
        return tuple([Link(link["title"], link["url"]) for link in data["links"]])

    def rule(self, data: dict[str, Any], pointer: str) -> Rule:
        assignment = data.get("set", {})
        priority = data.get("priority")
        bound = priority if isinstance(priority, dict) else {}
        return Rule(
            id=data["id"],
            when=self.condition(data["when"], f"{pointer}/when"),
            impact=assignment.get("impact"),
            urgency=assignment.get("urgency"),
            priority=None if bound else priority,
            span=self.span(pointer),
            at_least=bound.get("atLeast"),
            at_most=bound.get("atMost"),
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

    def step(self, s: dict[str, Any], pointer: str) -> Step:
        return Step(
            id=s["id"],
            title=self.text(s["title"], f"{pointer}/title"),
            details=self.template(s, "details", pointer),
            owner=s.get("owner"),
            due=self.duration(s["due"], f"{pointer}/due") if "due" in s else None,
            when=self.condition(s["when"], f"{pointer}/when") if "when" in s else None,
            links=self.links(s),
            depends_on=tuple(s["dependsOn"]) if "dependsOn" in s else (),
            span=self.span(pointer),
            owner_span=self.span(f"{pointer}/owner") if "owner" in s else None,
            completed_by=s.get("completedBy"),
        )

    def notification(self, n: dict[str, Any], pointer: str) -> Notification:
        return Notification(
            id=n["id"],
            channel=n["channel"],
            to=tuple(self.text(to, f"{pointer}/to/{j}") for j, to in enumerate(n.get("to", ()))),
            subject=self.template(n, "subject", pointer),
            body=self.text(n["body"], f"{pointer}/body"),
            when=self.optional_condition(n, "when", pointer),
            span=self.span(pointer),
            channel_span=self.span(f"{pointer}/channel"),
        )

    def escalation(self, data: dict[str, Any], pointer: str) -> Escalation | None:
        if "escalation" not in data:
            return None
        return self.escalation_section(data["escalation"], f"{pointer}/escalation")

    def escalation_section(self, section: dict[str, Any], base: str) -> Escalation:
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
            respond_within=b.duration(p["respondWithin"], f"/spec/priorities/{i}/respondWithin")
            if "respondWithin" in p
            else None,
            resolve_within=b.duration(p["resolveWithin"], f"/spec/priorities/{i}/resolveWithin")
            if "resolveWithin" in p
            else None,
            calendar=p.get("calendar"),
            span=b.span(f"/spec/priorities/{i}"),
            incident=p.get("incident", True),
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
                for j, day in enumerate(_holiday_list(c))
                if isinstance(day, str)
            ),
            span=b.span(f"/spec/calendars/{i}"),
            timezone_span=b.span(f"/spec/calendars/{i}/timezone"),
            public_holidays=tuple(
                (entry["country"], entry.get("subdivision"))
                for entry in _holiday_list(c)
                if isinstance(entry, dict)
            ),
            public_holidays_span=b.span(f"/spec/calendars/{i}/holidays"),
        )
        for i, c in enumerate(spec.get("calendars", ()))
    )
    day_length = {c.id: _day_length(c) for c in calendars}
    for i, p in enumerate(spec["priorities"]):
        if "calendar" in p:
            b.working_time_warnings(p, i, day_length.get(p["calendar"]))
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
                allow_private=c.get("allowPrivateAddresses", False),
            )
            for i, c in enumerate(spec.get("channels", ()))
        ),
        escalation=b.escalation(spec, "/spec"),
        path=doc.path,
        span=b.span(""),
        keep_peak=bool(spec.get("classification", {}).get("keepPeak", False)),
        alert_grouping=spec.get("alertGrouping", "alert"),
    )
    return policy, b.diagnostics


def _hours(delta: timedelta) -> str:
    """A duration in hours and minutes (`25h30m`): never days, which would mean 24 hours."""
    hours, minutes = divmod(int(delta.total_seconds()) // 60, 60)
    return f"{hours}h{minutes}m" if minutes else f"{hours}h"


def _holiday_list(calendar: dict[str, Any]) -> list[Any]:
    """A calendar's `holidays`: dates and `{country, subdivision}` entries, as a list."""
    found = calendar.get("holidays", [])
    return [found] if isinstance(found, dict) else list(found)


def _day_length(calendar: Calendar) -> timedelta:
    today = date(2000, 1, 1)
    return datetime.combine(today, calendar.end) - datetime.combine(today, calendar.start)


def _matrix_spans(b: _Builder, matrix: dict[str, dict[str, str]]) -> dict[str, Span]:
    spans = {"": b.span("/spec/matrix")}
    for impact, row in matrix.items():
        spans[impact] = b.doc.key_span(f"/spec/matrix/{impact}")
        for urgency in row:
            spans[f"{impact}/{urgency}"] = b.span(f"/spec/matrix/{impact}/{urgency}")
    return spans


@dataclass(frozen=True, slots=True)
class _StepGroup:
    doc: SourceDoc
    pointer: str
    items: list[dict[str, Any]]
    span: Span


@dataclass
class SharedIndex:
    """Everything the library's Shared documents define, by id."""

    step_groups: dict[str, _StepGroup] = field(default_factory=dict)
    escalations: dict[str, Escalation] = field(default_factory=dict)
    notifications: dict[str, Notification] = field(default_factory=dict)
    macros: list[Template] = field(default_factory=list)


def build_shared(docs: list[SourceDoc]) -> tuple[SharedIndex, list[Diagnostic]]:
    """The definitions of schema-valid Shared documents, and diagnostics (duplicate ids...)."""
    index = SharedIndex()
    diagnostics: list[Diagnostic] = []
    seen: dict[tuple[str, str], Span] = {}

    def add(what: str, ident: str, span: Span) -> bool:
        first = seen.setdefault((what, ident), span)
        if first is not span:
            diagnostics.append(
                error(
                    "PB302",
                    f"duplicate shared {what} id '{ident}' (first defined at {first})",
                    span,
                    hint="shared ids must be unique across the library's Shared documents",
                )
            )
            return False
        return True

    for doc in docs:
        b = _Builder(doc)
        spec = doc.data["spec"]
        for i, group in enumerate(spec.get("stepGroups", ())):
            pointer = f"/spec/stepGroups/{i}"
            if add("step group", group["id"], b.span(pointer)):
                index.step_groups[group["id"]] = _StepGroup(
                    doc, f"{pointer}/steps", group["steps"], b.span(pointer)
                )
        for i, section in enumerate(spec.get("escalations", ())):
            pointer = f"/spec/escalations/{i}"
            if add("escalation", section["id"], b.span(pointer)):
                index.escalations[section["id"]] = b.escalation_section(section, pointer)
        for i, data in enumerate(spec.get("notifications", ())):
            pointer = f"/spec/notifications/{i}"
            if add("notification", data["id"], b.span(pointer)):
                index.notifications[data["id"]] = b.notification(data, pointer)
        if "macros" in spec:
            index.macros.append(b.text(spec["macros"], "/spec/macros"))
        diagnostics += b.diagnostics
    return index, diagnostics


def shared_for_validation(shared: SharedIndex) -> tuple[list[Playbook], list[Diagnostic]]:
    """Every shared definition wrapped as a playbook that is never selected, so that the
    semantic checks and the compiler see it even where no playbook uses it."""
    playbooks: list[Playbook] = []
    diagnostics: list[Diagnostic] = []
    for name, group in sorted(shared.step_groups.items()):
        b = _Builder(group.doc)
        steps: list[Step] = []
        _expand_steps(b, group.items, group.pointer, shared, None, (name,), steps)
        diagnostics += b.diagnostics
        playbooks.append(_holder(f"step group {name}", group.span, steps=tuple(steps)))
    for name, escalation in sorted(shared.escalations.items()):
        playbooks.append(_holder(f"escalation {name}", escalation.span, escalation=escalation))
    for name, notification in sorted(shared.notifications.items()):
        holder = _holder(f"notification {name}", notification.span)
        playbooks.append(replace(holder, notifications=(notification,)))
    return playbooks, diagnostics


def _holder(
    name: str, span: Span, steps: tuple[Step, ...] = (), escalation: Escalation | None = None
) -> Playbook:
    return Playbook(
        id=f"shared {name}",
        title=name,
        owner=None,
        owner_span=span,
        description="",
        tags=(),
        links=(),
        applies_when=None,
        fallback=False,
        order=0,
        rules=(),
        defaults=None,
        steps=steps,
        escalation=escalation,
        notifications=(),
        path=span.path,
        span=span,
    )


def _unknown_shared(what: str, ident: str, span: Span, known: Iterable[str]) -> Diagnostic:
    listed = ", ".join(sorted(known)) or "none"
    return error(
        "PB303",
        f"unknown shared {what} '{ident}'",
        span,
        hint=f"define it in a document with `kind: Shared`; known: {listed}",
    )


def _expand_steps(
    b: _Builder,
    items: list[dict[str, Any]],
    pointer: str,
    shared: SharedIndex,
    extra: Condition | None,
    stack: tuple[str, ...],
    out: list[Step],
) -> None:
    for i, item in enumerate(items):
        item_pointer = f"{pointer}/{i}"
        if "include" not in item:
            step = b.step(item, item_pointer)
            if extra is not None:
                when = extra if step.when is None else AllOf((extra, step.when), step.span)
                step = replace(step, when=when)
            out.append(step)
            continue
        name, span = item["include"], b.span(item_pointer)
        group = shared.step_groups.get(name)
        if group is None:
            b.diagnostics.append(_unknown_shared("step group", name, span, shared.step_groups))
            continue
        if name in stack:
            cycle = " → ".join((*stack, name))
            b.diagnostics.append(
                error(
                    "PB316",
                    f"step groups include each other in a cycle: {cycle}",
                    span,
                    hint="a step group cannot include itself, directly or through another",
                )
            )
            continue
        own = b.optional_condition(item, "when", item_pointer)
        combined = extra if own is None else own if extra is None else AllOf((extra, own), span)
        inner = _Builder(group.doc)
        _expand_steps(inner, group.items, group.pointer, shared, combined, (*stack, name), out)
        b.diagnostics += inner.diagnostics


def build_playbook(
    doc: SourceDoc, shared: SharedIndex | None = None
) -> tuple[Playbook, list[Diagnostic]]:
    """The `Playbook` of a schema-valid playbook document, with its shared references expanded,
    and diagnostics for refused values and unknown references."""
    shared = shared or SharedIndex()
    b = _Builder(doc)
    meta, spec = doc.data["metadata"], doc.data["spec"]
    steps: list[Step] = []
    _expand_steps(b, spec.get("steps", []), "/spec/steps", shared, None, (), steps)
    notifications = []
    for i, data in enumerate(spec.get("notifications", ())):
        pointer = f"/spec/notifications/{i}"
        if "use" not in data:
            notifications.append(b.notification(data, pointer))
            continue
        found = shared.notifications.get(data["use"])
        if found is None:
            b.diagnostics.append(
                _unknown_shared("notification", data["use"], b.span(pointer), shared.notifications)
            )
        elif "when" in data:
            notifications.append(replace(found, when=b.condition(data["when"], f"{pointer}/when")))
        else:
            notifications.append(found)
    escalation = None
    if "escalation" in spec:
        section = spec["escalation"]
        if "use" in section:
            escalation = shared.escalations.get(section["use"])
            if escalation is None:
                b.diagnostics.append(
                    _unknown_shared(
                        "escalation", section["use"], b.span("/spec/escalation"), shared.escalations
                    )
                )
        else:
            escalation = b.escalation_section(section, "/spec/escalation")
    rules, defaults = b.classification(spec, "/spec")
    playbook = Playbook(
        id=meta["id"],
        title=meta.get("title", meta["id"]),
        owner=meta.get("owner"),
        owner_span=b.span("/metadata/owner"),
        description=meta.get("description", ""),
        tags=tuple(meta.get("tags", ())),
        links=b.links(meta),
        applies_when=b.optional_condition(spec, "appliesWhen", "/spec"),
        fallback=bool(spec.get("fallback", False)),
        order=int(spec.get("order", 100)),
        rules=rules,
        defaults=defaults,
        steps=tuple(steps),
        escalation=escalation,
        notifications=tuple(notifications),
        path=doc.path,
        span=b.span("/metadata/id"),
    )
    return playbook, b.diagnostics
