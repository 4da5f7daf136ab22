"""Compile a built library: conditions to predicates, templates in the sandbox.

Everything that can be known without an incident is found here and reported as diagnostics
(template syntax, unknown variables, regular expressions, comparison values). The result,
`CompiledLibrary`, is the only thing the engine evaluates.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from playbook_engine import sandbox
from playbook_engine.compile.conditions import CompiledCondition, ConditionCompiler, resolve
from playbook_engine.diagnostics import Diagnostic, Span, error
from playbook_engine.model import (
    ELAPSED_FIELDS,
    AllOf,
    AnyOf,
    Calendar,
    Channel,
    Condition,
    Escalation,
    Leaf,
    Library,
    Notification,
    OnCall,
    Playbook,
    Policy,
    Priority,
    Role,
    Rule,
    Step,
    Template,
    Tier,
)

if TYPE_CHECKING:  # a run imports the plan's classes with the engine, validation never
    pass

TEMPLATE_ROOTS = frozenset(
    {"incident", "priority", "impact", "urgency", "deadlines", "at", "playbook", "elapsed"}
)
TEMPLATE_FIELDS = {
    "priority": ("id", "name", "description", "incident"),
    "deadlines": ("respondBy", "resolveBy"),
    "playbook": ("id", "title", "owner"),
    "elapsed": tuple(ELAPSED_FIELDS),
}
"""The fields of the template roots that are mappings (the others are text)."""
TEXT_ROOTS = frozenset({"impact", "urgency", "at"})
BODY_MODE = {
    "chat": "chat",
    "email": "html",
    "pager": "plain",
    "webhook": "plain",
    "status-page": "plain",
}


class LazyTemplate:
    """A template and its compiled form: None when it does not compile (already reported).

    Made lazily (`compile_library(..., lazy=True)`), it compiles on first use: a run renders
    only the templates of the playbooks it selects.
    """

    __slots__ = ("source", "_compiled", "_pending")

    def __init__(
        self, source: Template, compiled: Any | None, pending: Callable[[], Any] | None = None
    ) -> None:
        self.source = source
        self._compiled = compiled
        self._pending = pending

    @property
    def compiled(self) -> Any | None:
        """The `sandbox.CompiledTemplate`, or None if the template does not compile."""
        if self._pending is not None:
            make, self._pending = self._pending, None
            try:
                self._compiled = make()
            except sandbox.TemplateError:
                self._compiled = None
        return self._compiled


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A classification rule with its compiled condition."""

    rule: Rule
    origin: str  # playbook id or "policy"
    when: CompiledCondition


@dataclass(frozen=True, slots=True)
class CompiledStep:
    """A step with its compiled condition and templates."""

    step: Step
    when: CompiledCondition | None
    title: LazyTemplate
    details: LazyTemplate | None

    @property
    def id(self) -> str:
        return self.step.id


@dataclass(frozen=True, slots=True)
class CompiledTier:
    """An escalation tier with its compiled condition."""

    tier: Tier
    when: CompiledCondition | None


@dataclass(frozen=True, slots=True)
class CompiledEscalation:
    """An escalation path with its compiled tiers."""

    escalation: Escalation
    tiers: tuple[CompiledTier, ...]


@dataclass(frozen=True, slots=True)
class CompiledNotification:
    """A notification with its channel, compiled condition and templates."""

    notification: Notification
    channel: Channel | None
    when: CompiledCondition | None
    to: tuple[LazyTemplate, ...]
    subject: LazyTemplate | None
    body: LazyTemplate

    @property
    def id(self) -> str:
        return self.notification.id


@dataclass(frozen=True, slots=True)
class PlaybookParts:
    """What a selected playbook contributes, compiled."""

    rules: tuple[CompiledRule, ...]
    steps: tuple[CompiledStep, ...]
    escalation: CompiledEscalation | None
    notifications: tuple[CompiledNotification, ...]


@dataclass(frozen=True, slots=True)
class PlaybookHead:
    """What selecting a playbook needs: enough to choose it without loading the rest."""

    id: str
    order: int
    fallback: bool
    applies_when: Condition | None

    @classmethod
    def of(cls, playbook: Playbook) -> PlaybookHead:
        """The head of a loaded playbook."""
        return cls(playbook.id, playbook.order, playbook.fallback, playbook.applies_when)


@dataclass(frozen=True, slots=True)
class DeferredPlaybook:
    """A playbook of a cache entry: where it merges is known without loading anything, its
    `appliesWhen` loads when selection first tests it, the rest when it is first used."""

    id: str
    order: int
    fallback: bool
    applies_when: Callable[[], Condition | None]
    playbook: Callable[[], Playbook]


def merge_order(playbooks: Sequence[Playbook | PlaybookHead | DeferredPlaybook]) -> list[int]:
    """Positions of `playbooks` (in file order) in merge order: by `order`, then id."""
    return sorted(range(len(playbooks)), key=lambda i: (playbooks[i].order, playbooks[i].id))


class CompiledPlaybook:
    """A playbook with its compiled condition and parts.

    Made lazily, `applies_when` compiles when selection first tests it and the parts when
    the playbook is first used, so a run compiles only what its incident reaches. A playbook
    from the cache is itself loaded only when first used (`source` is then a function).
    """

    __slots__ = ("id", "fallback", "_source", "_when", "_parts")

    def __init__(
        self,
        ident: str,
        fallback: bool,
        source: Playbook | Callable[[], Playbook],
        applies_when: Callable[[], CompiledCondition | None],
        parts: Callable[[], PlaybookParts],
    ) -> None:
        self.id = ident
        self.fallback = fallback
        self._source = source
        self._when: CompiledCondition | None | Callable[[], CompiledCondition | None] = applies_when
        self._parts: PlaybookParts | Callable[[], PlaybookParts] = parts

    @property
    def playbook(self) -> Playbook:
        """The playbook itself."""
        if not isinstance(self._source, Playbook):
            self._source = self._source()
        return self._source

    @property
    def applies_when(self) -> CompiledCondition | None:
        """The compiled `appliesWhen`, None when the playbook has none."""
        if self._when is not None and not isinstance(self._when, CompiledCondition):
            self._when = self._when()
        return self._when

    @property
    def parts(self) -> PlaybookParts:
        """Rules, steps, escalation and notifications, compiled."""
        if not isinstance(self._parts, PlaybookParts):
            self._parts = self._parts()
        return self._parts

    @property
    def rules(self) -> tuple[CompiledRule, ...]:
        """The classification rules."""
        return self.parts.rules

    @property
    def steps(self) -> tuple[CompiledStep, ...]:
        """The steps."""
        return self.parts.steps

    @property
    def escalation(self) -> CompiledEscalation | None:
        """The escalation, if the playbook has one."""
        return self.parts.escalation

    @property
    def notifications(self) -> tuple[CompiledNotification, ...]:
        """The notifications."""
        return self.parts.notifications


@dataclass(frozen=True, slots=True)
class SelectionIndex:
    """Which regular playbooks an incident can select, without testing every `appliesWhen`.

    Many playbooks can only apply when one field has one of a few values (`incident.service`
    is one of theirs): for those, `fields` maps the field to each value and the positions (in
    `CompiledLibrary.playbooks`) of the playbooks that need it. Every other regular playbook is
    in `always`. An incident's candidates are `always` plus the playbooks its own values
    reach; every other playbook's `appliesWhen` is known to be false.
    """

    fields: tuple[tuple[str, dict[str, tuple[int, ...]]], ...]
    always: tuple[int, ...]
    # Playbooks whose `appliesWhen` reads computed values (`priority`, `impact`, `urgency`,
    # `elapsed`): procedures, tested after classification (see `uses_computed_values`).
    late: tuple[int, ...] = ()

    def candidates(self, ctx: Mapping[str, Any]) -> list[int]:
        """Positions of the regular playbooks whose `appliesWhen` must be tested, in order."""
        found = list(self.always)
        for path, by_value in self.fields:
            value = resolve(ctx, path)
            if isinstance(value, str):
                found.extend(by_value.get(value, ()))
        found.sort()
        return found


def _required_values(condition: Condition | None) -> tuple[str, frozenset[str]] | None:
    """A field under `incident.` and string values one of which it must equal (exactly, as
    `equals`/`oneOf` compare) for `condition` to hold; None if there is no such field."""
    if isinstance(condition, Leaf):
        if condition.ignore_case or not condition.field.startswith("incident."):
            return None
        if condition.operator == "equals":
            values = [condition.value]
        elif condition.operator == "oneOf":
            values = list(condition.value)
        else:
            return None
        if not values or not all(isinstance(v, str) for v in values):
            return None
        return condition.field, frozenset(values)
    if isinstance(condition, AllOf):
        for child in condition.conditions:
            found = _required_values(child)
            if found is not None:
                return found
        return None
    if isinstance(condition, AnyOf):
        parts = [_required_values(child) for child in condition.conditions]
        if not parts or any(p is None or p[0] != parts[0][0] for p in parts):  # type: ignore[index]
            return None
        return parts[0][0], frozenset().union(*(p[1] for p in parts if p))  # type: ignore[index]
    return None


def selection_index(playbooks: Sequence[PlaybookHead]) -> SelectionIndex:
    """The selection index of regular playbooks in merge order (fallbacks are not in it)."""
    from playbook_engine.check.semantic import uses_computed_values

    fields: dict[str, dict[str, list[int]]] = {}
    always: list[int] = []
    late: list[int] = []
    for position, playbook in enumerate(playbooks):
        if playbook.fallback or playbook.applies_when is None:
            continue
        if uses_computed_values(playbook.applies_when):
            late.append(position)
            continue
        found = _required_values(playbook.applies_when)
        if found is None:
            always.append(position)
            continue
        by_value = fields.setdefault(found[0], {})
        for value in found[1]:
            by_value.setdefault(value, []).append(position)
    return SelectionIndex(
        tuple(
            (field, {v: tuple(ps) for v, ps in by_value.items()})
            for field, by_value in sorted(fields.items())
        ),
        tuple(always),
        tuple(late),
    )


@dataclass(frozen=True, slots=True)
class CompiledLibrary:
    """A validated, compiled library: what `engine.evaluate` accepts."""

    head: Library  # the library; without its playbooks when they load on first use
    policy: Policy
    playbooks: tuple[CompiledPlaybook, ...]  # merge order: `order`, then id
    file_order: tuple[int, ...]  # positions in `playbooks` of the library's, in file order
    policy_rules: tuple[CompiledRule, ...]
    policy_escalation: CompiledEscalation | None
    priorities: dict[str, Priority]
    calendars: dict[str, Calendar]
    roles: dict[str, Role]
    oncall: dict[str, OnCall]
    selection: SelectionIndex

    @property
    def library(self) -> Library:
        """The whole library (a cached library's playbooks are loaded here if not yet)."""
        if len(self.head.playbooks) == len(self.playbooks):
            return self.head
        return replace(
            self.head, playbooks=tuple(self.playbooks[i].playbook for i in self.file_order)
        )

    @property
    def mappings(self) -> dict[str, Any]:
        """The library's payload mappings by id."""
        return self.head.mappings


def _syntax_problem(template: Template, line: int | None, message: str) -> Diagnostic:
    """PB403 for a template that does not compile, at its wrong line where that is known: a
    literal block's lines are the file's; elsewhere the message says which line it is."""
    span, where = template.span, ""
    if line and "\n" in template.source:
        body = template.body
        if body is not None:
            span = Span(body.path, body.line + line - 1, body.col)
        else:
            where = f" (its line {line})"
    return error(
        "PB403",
        f"template does not compile{where}: {message}",
        span,
        hint="Jinja2 syntax: {{ incident.title }}, {% if ... %}...{% endif %}",
    )


def _root_field_problems(root: str, name: str, template: Template) -> list[Diagnostic]:
    """PB404 for `priority.nmae` and the like: the fixed roots' fields are known."""
    if root in TEXT_ROOTS:
        message = f"template reads '{root}.{name}', but '{root}' is a text with no fields"
        return [error("PB404", message, template.span, hint=f"write {{{{ {root} }}}}")]
    fields = TEMPLATE_FIELDS.get(root)
    if fields is None or name in fields:
        return []
    close = difflib.get_close_matches(name, fields, n=1)
    hint = (
        (f"did you mean '{root}.{close[0]}'? " if close else "")
        + f"'{root}' has: "
        + ", ".join(fields)
    )
    message = f"template reads '{root}.{name}', but '{root}' has no field '{name}'"
    return [error("PB404", message, template.span, hint=hint)]


class _Compiler:
    def __init__(self, library: Library, incident_fields: frozenset[str], lazy: bool) -> None:
        self.library = library
        self.lazy = lazy
        self.incident_fields = incident_fields
        calendars = {c.id: c for c in library.policy.calendars}
        self.conditions = ConditionCompiler(calendars)
        self.diagnostics: list[Diagnostic] = []
        self.templates: dict[
            tuple[str, str], tuple[bool, tuple[int | None, str] | None, list[Diagnostic]]
        ] = {}
        self.macros = "\n".join(m.source for m in library.macros)
        self.macro_names: frozenset[str] = frozenset()
        self.roots = TEMPLATE_ROOTS | ({"macros"} if library.macros else set())
        for macros in library.macros:
            try:
                names = sandbox.macro_module(macros.source, "plain")
            except sandbox.TemplateError as exc:
                self.diagnostics.append(
                    error("PB403", f"macros do not compile: {exc.message}", macros.span)
                )
                self.macros = ""
                return
            self.macro_names |= names.keys()

    def condition(self, condition: Condition | None) -> CompiledCondition | None:
        return None if condition is None else self.conditions.compile(condition)

    def template(self, template: Template, mode: str) -> LazyTemplate:
        # Either way the template object is made when first rendered: validating needs only
        # the checks, a run renders a few of the library's templates.
        compile_later = partial(_compile_template, template.source, mode, self.macros)
        if self.lazy or self.check_template(template, mode):
            return LazyTemplate(template, None, compile_later)
        return LazyTemplate(template, None)

    def check_template(self, template: Template, mode: str) -> bool:
        """Add the template's diagnostics; whether it compiles."""
        # Libraries repeat templates (copied playbooks, shared wording): what a source says
        # in a mode is found once, and said again at each place it is written.
        key = (template.source, mode)
        known = self.templates.get(key)
        if known is None:
            known = self.templates[key] = self.template_problems(template, mode)
        compiles, syntax, problems = known
        if syntax is not None:
            self.diagnostics.append(_syntax_problem(template, *syntax))
        if problems:
            span = template.span
            self.diagnostics += [d if d.span == span else replace(d, span=span) for d in problems]
        return compiles

    def template_problems(
        self, template: Template, mode: str
    ) -> tuple[bool, tuple[int | None, str] | None, list[Diagnostic]]:
        """Whether `template` compiles in `mode`; its syntax error (line in the template,
        message) if it does not, else the diagnostics of what it uses."""
        problems: list[Diagnostic] = []
        try:
            if self.macros:
                sandbox.macro_module(self.macros, mode)  # as compiling the template would
            analysis = sandbox.check_template(template.source, mode)
        except sandbox.TemplateError as exc:
            return False, (exc.line, exc.message), problems
        for name in sorted((analysis.variables or frozenset()) - self.roots):
            problems.append(
                error(
                    "PB404",
                    f"template uses unknown variable '{name}'",
                    template.span,
                    hint="available: " + ", ".join(sorted(self.roots)),
                )
            )
        for path in sorted(analysis.paths):
            root, _, rest = path.partition(".")
            if root == "incident":
                from playbook_engine.check.semantic import PLAN_ROOTS, check_field_path

                problems += check_field_path(
                    path, PLAN_ROOTS, "a template", template.span, self.incident_fields
                )
            elif rest:
                problems += _root_field_problems(root, rest.split(".", 1)[0], template)
        for name in sorted(analysis.private):
            problems.append(
                error(
                    "PB405",
                    f"template looks up '{name}': names starting with '_' are refused",
                    template.span,
                    hint="templates may read data fields only; internals are not reachable",
                )
            )
        if self.macros:
            for name in sorted(analysis.macros - self.macro_names):
                problems.append(
                    error(
                        "PB404",
                        f"template uses unknown macro '{name}'",
                        template.span,
                        hint="defined macros: " + (", ".join(sorted(self.macro_names)) or "none"),
                    )
                )
        return True, None, problems

    def rules(self, rules: tuple[Rule, ...], origin: str) -> tuple[CompiledRule, ...]:
        return tuple(CompiledRule(r, origin, self.conditions.compile(r.when)) for r in rules)

    def escalation(self, escalation: Escalation | None) -> CompiledEscalation | None:
        if escalation is None:
            return None
        tiers = tuple(CompiledTier(t, self.condition(t.when)) for t in escalation.tiers)
        return CompiledEscalation(escalation, tiers)

    def notification(self, n: Notification, channels: dict[str, Channel]) -> CompiledNotification:
        channel = channels.get(n.channel)
        line_mode, body_mode = _notification_modes(channel)
        return CompiledNotification(
            notification=n,
            channel=channel,
            when=self.condition(n.when),
            to=tuple(self.template(t, line_mode) for t in n.to),
            subject=self.template(n.subject, line_mode) if n.subject else None,
            body=self.template(n.body, body_mode),
        )

    def step(self, step: Step) -> CompiledStep:
        return CompiledStep(
            step=step,
            when=self.condition(step.when),
            title=self.template(step.title, "markdown"),
            details=self.template(step.details, "markdown") if step.details else None,
        )

    def parts(self, playbook: Playbook, channels: dict[str, Channel]) -> PlaybookParts:
        return PlaybookParts(
            rules=self.rules(playbook.rules, playbook.id),
            steps=tuple(self.step(s) for s in playbook.steps),
            escalation=self.escalation(playbook.escalation),
            notifications=tuple(self.notification(n, channels) for n in playbook.notifications),
        )

    def playbook(
        self, source: Playbook | DeferredPlaybook, channels: dict[str, Channel]
    ) -> CompiledPlaybook:
        if isinstance(source, DeferredPlaybook):
            load_condition = source.applies_when
            compiled = CompiledPlaybook(
                source.id,
                source.fallback,
                source.playbook,
                lambda: self.condition(load_condition()),
                lambda: self.parts(compiled.playbook, channels),
            )
            return compiled
        compiled = CompiledPlaybook(
            source.id,
            source.fallback,
            source,
            lambda: self.condition(source.applies_when),
            lambda: self.parts(source, channels),
        )
        if not self.lazy:
            self.check(source, channels)  # the diagnostics now; the predicates on first use
        return compiled

    def check(self, playbook: Playbook, channels: dict[str, Channel]) -> None:
        """The diagnostics of compiling `playbook` (`applies_when` and `parts`)."""
        conditions = [playbook.applies_when, *(r.when for r in playbook.rules)]
        for step in playbook.steps:
            conditions.append(step.when)
            self.check_template(step.title, "markdown")
            if step.details:
                self.check_template(step.details, "markdown")
        if playbook.escalation is not None:
            conditions += [t.when for t in playbook.escalation.tiers]
        for n in playbook.notifications:
            conditions.append(n.when)
            line_mode, body_mode = _notification_modes(channels.get(n.channel))
            for line in n.to:
                self.check_template(line, line_mode)
            if n.subject:
                self.check_template(n.subject, line_mode)
            self.check_template(n.body, body_mode)
        for condition in conditions:
            if condition is not None:
                self.conditions.check(condition)


def _notification_modes(channel: Channel | None) -> tuple[str, str]:
    """The output modes of a notification's header lines (`to`, `subject`) and body."""
    kind = channel.kind if channel else "chat"
    return ("chat-header" if kind == "chat" else "header"), BODY_MODE[kind]


def _compile_template(source: str, mode: str, macros: str) -> sandbox.CompiledTemplate:
    """`sandbox.compile_template`, looked up when a template is first rendered: checking a
    library the code store answers imports no Jinja2."""
    return sandbox.compile_template(source, mode, macros)


def compile_library(
    library: Library,
    incident_fields: frozenset[str],
    lazy: bool = False,
    deferred: Sequence[DeferredPlaybook] = (),
    selection: SelectionIndex | None = None,
) -> tuple[CompiledLibrary, list[Diagnostic]]:
    """Compile a checked library, with the diagnostics of compiling it.

    Every condition and template is checked now; a playbook's predicates and template
    objects are made when it is first used (a run uses the few its incident reaches).
    `lazy=True` is for a library already known to be valid (the cache's): nothing is then
    checked and no diagnostics are returned, and its playbooks may be `deferred` (after
    `library.playbooks`, in file order) with the `selection` index made when it was stored.
    """
    compiler = _Compiler(library, incident_fields, lazy)
    policy = library.policy
    channels = {c.id: c for c in policy.channels}
    sources: list[Playbook | DeferredPlaybook] = [*library.playbooks, *deferred]
    order = merge_order(sources)
    file_order = [0] * len(sources)
    for position, index in enumerate(order):
        file_order[index] = position
    for holder in () if lazy else library.shared:  # compiled for their diagnostics only
        compiler.playbook(holder, channels)
    if selection is None:
        selection = selection_index([_head(sources[i]) for i in order])
    compiled = CompiledLibrary(
        head=library,
        policy=policy,
        playbooks=tuple(compiler.playbook(sources[i], channels) for i in order),
        file_order=tuple(file_order),
        policy_rules=compiler.rules(policy.rules, "policy"),
        policy_escalation=compiler.escalation(policy.escalation),
        priorities={p.id: p for p in policy.priorities},
        calendars={c.id: c for c in policy.calendars},
        roles={r.id: r for r in policy.roles},
        oncall={o.id: o for o in policy.oncall},
        selection=selection,
    )
    return compiled, compiler.diagnostics + compiler.conditions.diagnostics


def _head(source: Playbook | DeferredPlaybook) -> PlaybookHead:
    if isinstance(source, DeferredPlaybook):
        return PlaybookHead(source.id, source.order, source.fallback, source.applies_when())
    return PlaybookHead.of(source)
