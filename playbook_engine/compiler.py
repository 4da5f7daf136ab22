"""Compile a built library: conditions to predicates, templates in the sandbox.

Everything that can be known without an incident is found here and reported as diagnostics
(template syntax, unknown variables, regular expressions, comparison values). The result,
`CompiledLibrary`, is the only thing the engine evaluates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import sandbox
from .checks import PLAN_ROOTS, check_field_path
from .conditions import CompiledCondition, ConditionCompiler
from .diagnostics import Diagnostic, error
from .incident import Incident, pointer_span
from .model import (
    Calendar,
    Channel,
    Condition,
    Escalation,
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
from .plan import Plan

TEMPLATE_ROOTS = frozenset(
    {"incident", "priority", "impact", "urgency", "deadlines", "at", "playbook"}
)
BODY_MODE = {
    "chat": "chat",
    "email": "html",
    "pager": "plain",
    "webhook": "plain",
    "status-page": "plain",
}


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    source: Template
    compiled: Any | None  # None when the template does not compile (already reported)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule: Rule
    origin: str  # playbook id or "policy"
    when: CompiledCondition


@dataclass(frozen=True, slots=True)
class CompiledStep:
    step: Step
    when: CompiledCondition | None
    title: CompiledTemplate
    details: CompiledTemplate | None


@dataclass(frozen=True, slots=True)
class CompiledTier:
    tier: Tier
    when: CompiledCondition | None


@dataclass(frozen=True, slots=True)
class CompiledEscalation:
    escalation: Escalation
    tiers: tuple[CompiledTier, ...]


@dataclass(frozen=True, slots=True)
class CompiledNotification:
    notification: Notification
    channel: Channel | None
    when: CompiledCondition | None
    to: tuple[CompiledTemplate, ...]
    subject: CompiledTemplate | None
    body: CompiledTemplate


@dataclass(frozen=True, slots=True)
class CompiledPlaybook:
    playbook: Playbook
    applies_when: CompiledCondition | None
    rules: tuple[CompiledRule, ...]
    steps: tuple[CompiledStep, ...]
    escalation: CompiledEscalation | None
    notifications: tuple[CompiledNotification, ...]


@dataclass(frozen=True, slots=True)
class CompiledLibrary:
    """A validated, compiled library: what `engine.evaluate` accepts."""

    library: Library
    policy: Policy
    playbooks: tuple[CompiledPlaybook, ...]  # merge order: `order`, then id
    policy_rules: tuple[CompiledRule, ...]
    policy_escalation: CompiledEscalation | None
    priorities: dict[str, Priority]
    calendars: dict[str, Calendar]
    roles: dict[str, Role]
    oncall: dict[str, OnCall]

    def evaluate(
        self, incident: Incident | Mapping[str, Any], at: datetime, explain: bool = False
    ) -> Plan:
        """The plan for an incident (an `Incident` or its data) at the moment `at`.

        Incident data is validated first; invalid data raises `InputError`.
        """
        from .engine import evaluate
        from .incident import build_incident

        if not isinstance(incident, Incident):
            incident = build_incident(dict(incident), pointer_span("<incident>"))
        return evaluate(self, incident, at, explain)


class _Compiler:
    def __init__(self, library: Library, incident_fields: frozenset[str]) -> None:
        self.library = library
        self.incident_fields = incident_fields
        self.conditions = ConditionCompiler({c.id: c for c in library.policy.calendars})
        self.diagnostics: list[Diagnostic] = []
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

    def template(self, template: Template, mode: str) -> CompiledTemplate:
        try:
            compiled = sandbox.compile_template(template.source, mode, self.macros)
        except sandbox.TemplateError as exc:
            span = template.span
            self.diagnostics.append(
                error(
                    "PB403",
                    f"template does not compile: {exc.message}",
                    span,
                    hint="Jinja2 syntax: {{ incident.title }}, {% if ... %}...{% endif %}",
                )
            )
            return CompiledTemplate(template, None)
        for name in sorted(sandbox.template_variables(template.source) - self.roots):
            self.diagnostics.append(
                error(
                    "PB404",
                    f"template uses unknown variable '{name}'",
                    template.span,
                    hint="available: " + ", ".join(sorted(self.roots)),
                )
            )
        for path in sorted(sandbox.attribute_paths(template.source)):
            if path.split(".", 1)[0] == "incident":
                self.diagnostics += check_field_path(
                    path, PLAN_ROOTS, "a template", template.span, self.incident_fields
                )
        if self.macros:
            for name in sorted(sandbox.macro_uses(template.source) - self.macro_names):
                self.diagnostics.append(
                    error(
                        "PB404",
                        f"template uses unknown macro '{name}'",
                        template.span,
                        hint="defined macros: " + (", ".join(sorted(self.macro_names)) or "none"),
                    )
                )
        return CompiledTemplate(template, compiled)

    def rules(self, rules: tuple[Rule, ...], origin: str) -> tuple[CompiledRule, ...]:
        return tuple(CompiledRule(r, origin, self.conditions.compile(r.when)) for r in rules)

    def escalation(self, escalation: Escalation | None) -> CompiledEscalation | None:
        if escalation is None:
            return None
        tiers = tuple(CompiledTier(t, self.condition(t.when)) for t in escalation.tiers)
        return CompiledEscalation(escalation, tiers)

    def notification(self, n: Notification, channels: dict[str, Channel]) -> CompiledNotification:
        channel = channels.get(n.channel)
        kind = channel.kind if channel else "chat"
        return CompiledNotification(
            notification=n,
            channel=channel,
            when=self.condition(n.when),
            to=tuple(self.template(t, "header") for t in n.to),
            subject=self.template(n.subject, "header") if n.subject else None,
            body=self.template(n.body, BODY_MODE[kind]),
        )

    def step(self, step: Step) -> CompiledStep:
        return CompiledStep(
            step=step,
            when=self.condition(step.when),
            title=self.template(step.title, "markdown"),
            details=self.template(step.details, "markdown") if step.details else None,
        )

    def playbook(self, playbook: Playbook, channels: dict[str, Channel]) -> CompiledPlaybook:
        return CompiledPlaybook(
            playbook=playbook,
            applies_when=self.condition(playbook.applies_when),
            rules=self.rules(playbook.rules, playbook.id),
            steps=tuple(self.step(s) for s in playbook.steps),
            escalation=self.escalation(playbook.escalation),
            notifications=tuple(self.notification(n, channels) for n in playbook.notifications),
        )


def compile_library(
    library: Library, incident_fields: frozenset[str]
) -> tuple[CompiledLibrary, list[Diagnostic]]:
    """Compile every condition and template of a checked library, with compile diagnostics."""
    compiler = _Compiler(library, incident_fields)
    policy = library.policy
    channels = {c.id: c for c in policy.channels}
    playbooks = sorted(library.playbooks, key=lambda p: (p.order, p.id))
    for holder in library.shared:  # compiled for their diagnostics only
        compiler.playbook(holder, channels)
    compiled = CompiledLibrary(
        library=library,
        policy=policy,
        playbooks=tuple(compiler.playbook(p, channels) for p in playbooks),
        policy_rules=compiler.rules(policy.rules, "policy"),
        policy_escalation=compiler.escalation(policy.escalation),
        priorities={p.id: p for p in policy.priorities},
        calendars={c.id: c for c in policy.calendars},
        roles={r.id: r for r in policy.roles},
        oncall={o.id: o for o in policy.oncall},
    )
    return compiled, compiler.diagnostics + compiler.conditions.diagnostics
