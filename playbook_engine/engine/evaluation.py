"""The evaluation: a pure function of (compiled library, incident, clock) → Plan.

No I/O and no clock of its own. Selection, classification, deadlines, steps, escalation and
notifications follow the semantics documented in the README's format reference; with
`explain=True` the plan carries a trace of every decision.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from playbook_engine import calendars as calendar_math
from playbook_engine import sandbox
from playbook_engine.compile.compiler import (
    CompiledEscalation,
    CompiledLibrary,
    CompiledNotification,
    CompiledPlaybook,
    CompiledRule,
    LazyTemplate,
)
from playbook_engine.compile.conditions import CompiledCondition, expression_failures
from playbook_engine.diagnostics import InputError, Span, error
from playbook_engine.engine.elapsed import elapsed
from playbook_engine.engine.lifecycle import lifecycle, outcome
from playbook_engine.engine.recipients import recipient_problem
from playbook_engine.load.incident import Incident, build_incident, pointer_span
from playbook_engine.model import Priority, Repeat, Rule, Tier
from playbook_engine.plan import (
    Classification,
    ConditionTrace,
    Deadlines,
    Decision,
    EscalationEntry,
    EscalationPlan,
    ItemTrace,
    LinkOut,
    Plan,
    PlanError,
    PlanStep,
    PlaybookTrace,
    PriorityInfo,
    RenderedNotification,
    RuleTrace,
    Target,
    Trace,
)
from playbook_engine.textsafe import visible
from playbook_engine.timeparse import format_duration, format_timestamp

Context = dict[str, Any]


class _Merged(Protocol):
    """A step or notification: merged across playbooks by id, kept when its condition holds."""

    @property
    def id(self) -> str: ...

    @property
    def when(self) -> CompiledCondition | None: ...


_Item = TypeVar("_Item", bound=_Merged)


class _Evaluation:
    """One evaluation's state: the contexts, errors met so far, and the trace if asked for."""

    def __init__(self, compiled: CompiledLibrary, incident: Incident, at: datetime, explain: bool):
        self.compiled = compiled
        self.incident = incident
        self.at = at
        self.explain = explain
        self.life = lifecycle(incident, at)
        self.errors: list[PlanError] = []
        self.items: list[ItemTrace] = []

    def holds(
        self, condition: CompiledCondition | None, ctx: Context
    ) -> tuple[bool, ConditionTrace | None]:
        if condition is None:
            return True, None
        result = condition.test(ctx)
        if self.explain:
            trace = condition.trace(ctx)  # the same leaf tests, so the same result
            return result, trace
        return result, None

    def render(self, template: LazyTemplate, ctx: Context) -> str:
        if template.compiled is None:
            self.errors.append(PlanError(str(template.source.span), "template does not compile"))
            return f"[template error] {template.source.source}"
        try:
            return sandbox.render(template.compiled, ctx)
        except sandbox.TemplateError as exc:
            self.errors.append(PlanError(str(template.source.span), exc.message))
            return f"[template error: {exc.message}] {template.source.source}"

    # --- selection ------------------------------------------------------------------

    def select(self, ctx: Context) -> tuple[list[CompiledPlaybook], list[PlaybookTrace]]:
        selected: list[CompiledPlaybook] = []
        traces: list[PlaybookTrace] = []
        playbooks = self.compiled.playbooks
        fallbacks = [p for p in playbooks if p.fallback]
        if self.explain:
            late = set(self.compiled.selection.late)
            regular = [p for i, p in enumerate(playbooks) if not p.fallback and i not in late]
        else:
            # Only the index's candidates can apply; the trace, which lists every playbook,
            # is not kept without --explain.
            regular = [playbooks[i] for i in self.compiled.selection.candidates(ctx)]
        for cp in regular:
            if cp.applies_when is None:
                traces.append(PlaybookTrace(cp.id, False, "has no appliesWhen", None))
                continue
            ok, trace = self.holds(cp.applies_when, ctx)
            if ok:
                selected.append(cp)
            reason = "appliesWhen holds" if ok else "appliesWhen does not hold"
            traces.append(PlaybookTrace(cp.id, ok, reason, trace))
        for cp in fallbacks:
            if selected:
                traces.append(
                    PlaybookTrace(cp.id, False, "fallback, and other playbooks apply", None)
                )
                continue
            ok, trace = self.holds(cp.applies_when, ctx)
            if ok:
                selected.append(cp)
            reason = "fallback: no other playbook applies" if ok else "appliesWhen does not hold"
            traces.append(PlaybookTrace(cp.id, ok, reason, trace))
        return selected, traces

    def select_procedures(
        self, selected: list[CompiledPlaybook], ctx: Context
    ) -> tuple[list[CompiledPlaybook], list[PlaybookTrace]]:
        """`selected` with the procedures (playbooks chosen by priority, impact, urgency or
        elapsed time) whose `appliesWhen` holds now that they are known, in merge order."""
        late = self.compiled.selection.late
        if not late:
            return selected, []
        playbooks = self.compiled.playbooks
        traces: list[PlaybookTrace] = []
        chosen = list(selected)
        for position in late:
            cp = playbooks[position]
            ok, trace = self.holds(cp.applies_when, ctx)
            if ok:
                chosen.append(cp)
            reason = (
                "appliesWhen holds after classification"
                if ok
                else ("appliesWhen does not hold after classification")
            )
            traces.append(PlaybookTrace(cp.id, ok, reason, trace))
        place = {id(cp): i for i, cp in enumerate(playbooks)}
        chosen.sort(key=lambda cp: place[id(cp)])
        return chosen, traces

    # --- classification -------------------------------------------------------------

    def classify(
        self, selected: list[CompiledPlaybook], ctx: Context
    ) -> tuple[Classification, list[RuleTrace]]:
        policy = self.compiled.policy
        candidates: list[CompiledRule] = [r for cp in selected for r in cp.rules]
        candidates += self.compiled.policy_rules
        impact: Decision | None = None
        urgency: Decision | None = None
        overrides: list[tuple[int, CompiledRule]] = []
        floors: list[tuple[int, CompiledRule]] = []
        ceilings: list[tuple[int, CompiledRule]] = []
        severity = {p.id: i for i, p in enumerate(policy.priorities)}
        traces: list[RuleTrace] = []
        for cr in candidates:
            rule = cr.rule
            useful = (
                rule.priority is not None
                or rule.at_least is not None
                or rule.at_most is not None
                or (rule.impact is not None and impact is None)
                or (rule.urgency is not None and urgency is None)
            )
            if not useful and not self.explain:
                continue
            matched, trace = self.holds(cr.when, ctx)
            decided: list[str] = []
            if matched:
                label = f"rule {cr.origin}/{rule.id}"
                if rule.impact is not None and impact is None:
                    impact = Decision(rule.impact, label)
                    decided.append("impact")
                if rule.urgency is not None and urgency is None:
                    urgency = Decision(rule.urgency, label)
                    decided.append("urgency")
                if rule.priority is not None:
                    overrides.append((severity[rule.priority], cr))
                if rule.at_least is not None:
                    floors.append((severity[rule.at_least], cr))
                if rule.at_most is not None:
                    ceilings.append((severity[rule.at_most], cr))
            if trace is not None:
                traces.append(
                    RuleTrace(cr.origin, rule.id, matched, rule_effect(rule), tuple(decided), trace)
                )
        impact = impact or self._default("impact", selected)
        urgency = urgency or self._default("urgency", selected)
        matrix_priority = policy.matrix[impact.value][urgency.value]
        deciders: list[CompiledRule] = []
        if overrides:
            _, winner = min(overrides, key=lambda item: item[0])
            priority = Decision(
                str(winner.rule.priority), f"override by rule {winner.origin}/{winner.rule.id}"
            )
            deciders.append(winner)
        else:
            priority = Decision(matrix_priority, f"matrix[{impact.value}][{urgency.value}]")
        # Bounds: the most restrictive ceiling first, then the most severe floor, so that a
        # floor wins where the two disagree ("if unsure, take the higher severity"). With
        # keepPeak, the incident's peak priority is a floor too: severity never goes down.
        peak = ctx["incident"].get("peakPriority") if policy.keep_peak else None
        if ceilings:
            level, ceiling = max(ceilings, key=lambda item: item[0])
            if severity[priority.value] < level:
                priority = Decision(
                    policy.priorities[level].id,
                    f"{priority.decided_by}, lowered to at most {policy.priorities[level].id} by "
                    f"rule {ceiling.origin}/{ceiling.rule.id}",
                )
                deciders.append(ceiling)
        if floors:
            level, floor = min(floors, key=lambda item: item[0])
            if severity[priority.value] > level:
                priority = Decision(
                    policy.priorities[level].id,
                    f"{priority.decided_by}, raised to at least {policy.priorities[level].id} by "
                    f"rule {floor.origin}/{floor.rule.id}",
                )
                deciders.append(floor)
        if isinstance(peak, str) and peak in severity and severity[priority.value] > severity[peak]:
            priority = Decision(
                peak, f"{priority.decided_by}, kept at its peak {peak} (policy keepPeak)"
            )
        if deciders:
            decisive = {(cr.origin, cr.rule.id) for cr in deciders}
            traces = [
                RuleTrace(
                    t.origin, t.id, t.matched, t.effect, (*t.decided, "priority"), t.condition
                )
                if (t.origin, t.id) in decisive
                else t
                for t in traces
            ]
        return Classification(impact, urgency, priority, matrix_priority), traces

    def _default(self, dimension: str, selected: list[CompiledPlaybook]) -> Decision:
        for cp in selected:
            defaults = cp.playbook.defaults
            value = getattr(defaults, dimension) if defaults else None
            if value is not None:
                return Decision(value, f"defaults of playbook {cp.id}")
        value = getattr(self.compiled.policy.defaults, dimension)
        return Decision(value, "policy defaults")

    # --- times ----------------------------------------------------------------------

    def offset(self, priority: Priority, start: datetime, delta: timedelta) -> datetime:
        try:
            if priority.calendar is None:
                return start + delta
            return calendar_math.add_working_time(
                self.compiled.calendars[priority.calendar], start, delta
            )
        except (OverflowError, ValueError) as exc:
            raise self.out_of_range(start, delta, exc) from None

    def out_of_range(self, start: datetime, delta: timedelta, exc: Exception) -> InputError:
        """The input error for a time that cannot be computed from the SLA start."""
        name = "detectedAt" if self.incident.detected_at is not None else "startedAt"
        reason = "it falls after the year 9999" if isinstance(exc, OverflowError) else str(exc)
        message = (
            f"{name}: the time {format_duration(delta)} after {format_timestamp(start)} "
            f"cannot be computed: {reason}"
        )
        span = self.incident.spans.get(name, Span(name))
        hint = "deadlines count from this timestamp on the priority's clock, up to the year 9999"
        return InputError([error("IN106", message, span, hint=hint, pointer=f"/{name}")])

    def deadlines(self, priority: Priority) -> Deadlines:
        incident = self.incident
        start = incident.detected_at or incident.started_at
        respond_by = resolve_by = None  # a level without a target ("planned", "no SLA")
        if priority.respond_within is not None:
            respond_by = self.offset(priority, start, priority.respond_within)
        if priority.resolve_within is not None:
            resolve_by = self.offset(priority, start, priority.resolve_within)
        # Resolving an incident answers it too, even if nobody acknowledged it first; an
        # answer later than the clock has not happened yet at the clock.
        life = self.life
        responded = min((t for t in (life.acknowledged_at, life.resolved_at) if t), default=None)
        self.life = replace(
            life,
            respond=outcome(responded, respond_by, self.at),
            resolve=outcome(life.resolved_at, resolve_by, self.at),
        )
        return Deadlines(
            sla_start=start,
            respond_within=priority.respond_within,
            resolve_within=priority.resolve_within,
            respond_by=respond_by,
            resolve_by=resolve_by,
            clock=priority.calendar or "24x7",
            respond_overdue=respond_by is not None
            and min(responded or self.at, self.at) > respond_by,
            resolve_overdue=resolve_by is not None and self.judged_at > resolve_by,
        )

    @property
    def judged_at(self) -> datetime:
        """The moment lateness is judged at: the clock, or the resolution if earlier (a
        resolved incident has nothing overdue after it was resolved)."""
        resolved = self.life.resolved_at
        return min(resolved, self.at) if resolved is not None else self.at

    # --- steps, escalation, notifications -------------------------------------------

    def done_at(self, completed_by: str | None) -> datetime | None:
        """When the lifecycle event a step is `completedBy` happened, if it has by the clock:
        an incident resolved without an acknowledgement has had its acknowledgement then."""
        life = self.life
        if completed_by == "acknowledgement":
            return life.acknowledged_at or life.resolved_at
        if completed_by == "resolution":
            return life.resolved_at
        return None

    def steps(
        self,
        selected: list[CompiledPlaybook],
        ctx: Context,
        tctx: Context,
        priority: Priority,
        start: datetime,
    ) -> list[PlanStep]:
        out: list[PlanStep] = []
        roles = self.compiled.roles
        steps = self._merged("step", selected, ctx, tctx, lambda cp: cp.steps)
        for cp, cs, playbook_ctx in steps:
            step = cs.step
            due = self.offset(priority, start, step.due) if step.due is not None else None
            role = roles.get(step.owner) if step.owner else None
            done = self.done_at(step.completed_by)
            out.append(
                PlanStep(
                    id=step.id,
                    playbook=cp.id,
                    title=self.render(cs.title, playbook_ctx),
                    details=self.render(cs.details, playbook_ctx) if cs.details else "",
                    owner=step.owner,
                    owner_name=role.name if role else None,
                    due=due,
                    due_after=step.due,
                    overdue=done is None and due is not None and due < self.judged_at,
                    depends_on=step.depends_on,
                    links=tuple(LinkOut(link.title, link.url) for link in step.links),
                    done_by=step.completed_by if done is not None else None,
                    done_at=done,
                )
            )
        return checklist_order(out)

    def _merged(
        self,
        kind: str,
        selected: list[CompiledPlaybook],
        ctx: Context,
        tctx: Context,
        items: Callable[[CompiledPlaybook], Sequence[_Item]],
    ) -> Iterator[tuple[CompiledPlaybook, _Item, Context]]:
        """The steps or notifications of the selected playbooks, in merge order, whose
        condition holds, each with its template context; a duplicate id keeps the first that
        holds (a later one is traced as shadowed)."""
        owners: dict[str, str] = {}
        for cp in selected:
            playbook_ctx = {**tctx, "playbook": _playbook_info(cp)}
            for item in items(cp):
                ident = item.id
                if ident in owners:
                    shadowed = f"shadowed by the {kind} of playbook {owners[ident]}"
                    self._item(kind, ident, cp.id, False, shadowed, None)
                    continue
                ok, trace = self.holds(item.when, ctx)
                self._item(kind, ident, cp.id, ok, _reason(ok), trace)
                if ok:
                    owners[ident] = cp.id
                    yield cp, item, playbook_ctx

    def escalation(
        self, selected: list[CompiledPlaybook], ctx: Context, start: datetime
    ) -> EscalationPlan:
        source, chosen = "", None
        for cp in selected:
            if cp.escalation is not None:
                source, chosen = cp.id, cp.escalation
                break
        else:
            if self.compiled.policy_escalation is not None:
                source, chosen = "policy", self.compiled.policy_escalation
        if chosen is None:
            return EscalationPlan("", True, ())
        return EscalationPlan(
            source,
            chosen.escalation.stop_when_acknowledged,
            self._entries(chosen, source, ctx, start),
        )

    def _entries(
        self, chosen: CompiledEscalation, source: str, ctx: Context, start: datetime
    ) -> tuple[EscalationEntry, ...]:
        escalation = chosen.escalation
        kept: list[tuple[int, Tier]] = []
        for number, ct in enumerate(chosen.tiers, start=1):
            ok, trace = self.holds(ct.when, ctx)
            self._item("tier", str(number), source, ok, _reason(ok), trace)
            if ok:
                kept.append((number, ct.tier))
        # An acknowledgement or resolution after the clock has not happened yet at the clock.
        stop = self.life.acknowledged_at if escalation.stop_when_acknowledged else None
        resolved = self.life.resolved_at
        entries = []
        for cycle, number, after, tier in schedule(kept, escalation.repeat):
            targets = tier.targets
            try:
                when = start + after
            except OverflowError as exc:
                raise self.out_of_range(start, after, exc) from None
            if (stop is not None and stop <= when) or (resolved is not None and resolved <= when):
                status = "cancelled"
            elif resolved is not None:
                status = "elapsed"  # its time came before the resolution: nothing pages now
            elif when <= self.at:
                status = "due"
            else:
                status = "pending"
            entries.append(
                EscalationEntry(
                    when, after, number, cycle, tuple(self._target(t) for t in targets), status
                )
            )
        return tuple(entries)

    def _target(self, ident: str) -> Target:
        oncall = self.compiled.oncall.get(ident)
        if oncall is None:
            return Target(ident, ident, "")
        return Target(oncall.id, oncall.name, oncall.team)

    def notifications(
        self, selected: list[CompiledPlaybook], ctx: Context, tctx: Context
    ) -> list[RenderedNotification]:
        out: list[RenderedNotification] = []
        notifications = self._merged(
            "notification", selected, ctx, tctx, lambda cp: cp.notifications
        )
        for cp, cn, playbook_ctx in notifications:
            n = cn.notification
            channel = cn.channel
            body = self.render(cn.body, playbook_ctx)
            limit = channel.max_length if channel else len(body)
            truncated = len(body) > limit
            if truncated:
                body = fit(body, limit)
            recipients = tuple(self._recipients(cn, playbook_ctx))
            if not recipients and not cn.to and channel is not None and channel.address:
                recipients = (channel.address,)
            out.append(
                RenderedNotification(
                    id=n.id,
                    playbook=cp.id,
                    channel=n.channel,
                    kind=channel.kind if channel else "",
                    to=recipients,
                    subject=cap_subject(self.render(cn.subject, playbook_ctx))
                    if cn.subject
                    else None,
                    body=body,
                    truncated=truncated,
                )
            )
        return out

    def _recipients(self, cn: CompiledNotification, ctx: Context) -> Iterator[str]:
        """The notification's rendered recipients that suit its channel; each refused one is a
        plan error naming the template and why."""
        channel = cn.channel
        kind = channel.kind if channel else ""
        allow_private = channel.allow_private if channel else False
        for template in cn.to:
            value = self.render(template, ctx)
            if not value.strip():
                continue  # `{{ x | default('') }}`: this template names no recipient here
            problem = recipient_problem(kind, value, allow_private)
            if problem is None:
                yield value
            else:
                self.errors.append(
                    PlanError(
                        str(template.source.span),
                        f"recipient {visible(value, keep_newlines=False)!r} refused: {problem}",
                    )
                )

    def _item(
        self,
        kind: str,
        ident: str,
        playbook: str,
        kept: bool,
        reason: str,
        trace: ConditionTrace | None,
    ) -> None:
        if self.explain:
            self.items.append(ItemTrace(kind, ident, playbook, kept, reason, trace))


def checklist_order(steps: list[PlanStep]) -> list[PlanStep]:
    """Steps by due time, earliest first, a step without a due time after those with one;
    ties in authoring (merge) order; and never before a step it `dependsOn`."""
    index = {step.id: i for i, step in enumerate(steps)}
    waiting = {
        step.id: {d for d in step.depends_on if d in index and d != step.id} for step in steps
    }
    unlocks: dict[str, list[str]] = {}
    for ident, needs in waiting.items():
        for need in needs:
            unlocks.setdefault(need, []).append(ident)

    def key(step: PlanStep) -> tuple[bool, datetime, int]:
        return (step.due is None, step.due or datetime.max.replace(tzinfo=UTC), index[step.id])

    ready = [key(s) + (s.id,) for s in steps if not waiting[s.id]]
    heapq.heapify(ready)
    ordered: list[PlanStep] = []
    by_id = {step.id: step for step in steps}
    while ready:
        *_, ident = heapq.heappop(ready)
        ordered.append(by_id[ident])
        for later in unlocks.get(ident, ()):
            waiting[later].discard(ident)
            if not waiting[later]:
                heapq.heappush(ready, key(by_id[later]) + (later,))
    if len(ordered) < len(steps):  # a dependency cycle (validate refuses it): keep the rest
        placed = {s.id for s in ordered}
        ordered += [s for s in steps if s.id not in placed]
    return ordered


SUBJECT_OCTETS = 998 - len("Subject: ")
"""RFC 5322 caps a header line at 998 octets: a subject fits one line with its field name."""


def cap_subject(subject: str) -> str:
    """`subject` cut to fit one header line (UTF-8 octets, whole characters), ending in `…`
    when cut."""
    if len(subject.encode("utf-8")) <= SUBJECT_OCTETS:
        return subject
    room = SUBJECT_OCTETS - len("…".encode())
    cut = subject.encode("utf-8")[:room].decode("utf-8", "ignore")
    return cut + "…"


TAIL_SHARE = 3
"""A body cut to its channel's limit keeps its last lines within a third of the limit."""


def fit(body: str, limit: int) -> str:
    """`body` cut to at most `limit` characters, `…` where text was cut.

    A template usually ends with what the reader must act on (the deadlines, the bridge
    link) and puts the incident's own, unbounded text before it; so the last whole lines
    that fit in a third of the limit are kept, and the cut falls in the text before them.
    A body without such lines is cut at its end.
    """
    if len(body) <= limit:
        return body
    tail = ""
    for line in reversed(body.splitlines(keepends=True)):
        if len(tail) + len(line) > limit // TAIL_SHARE:
            break
        tail = line + tail
    if not tail.strip():
        return body[: max(limit - 1, 0)] + "…"
    head = body[: limit - len(tail) - 2].rstrip("\n")
    return f"{head}…\n{tail}"


def schedule(
    tiers: Sequence[tuple[int, Tier]], repeat: Repeat | None
) -> list[tuple[int, int, timedelta, Tier]]:
    """The escalation schedule: `(cycle, tier number, offset from SLA start, tier)` for each
    tier in order (cycle 0), then each repeat re-running the tiers from `repeat.from_tier`,
    the first `repeat.after` the last tier, keeping the tiers' spacing."""
    entries = [(0, number, tier.after, tier) for number, tier in tiers]
    cycle_tiers = [(n, t) for n, t in tiers if repeat is not None and n >= repeat.from_tier]
    if repeat is None or not cycle_tiers:
        return entries
    last = tiers[-1][1].after
    first = cycle_tiers[0][1].after
    length = (last - first) + repeat.after
    for cycle in range(1, repeat.times + 1):
        begin = last + repeat.after + (cycle - 1) * length
        entries += [(cycle, n, begin + (t.after - first), t) for n, t in cycle_tiers]
    return entries


def _reason(holds: bool) -> str:
    return "condition holds" if holds else "condition does not hold"


def _deadline_text(by: datetime | None, at: datetime) -> str:
    """A deadline for templates, in the clock's offset; `no target` for a level without one."""
    return "no target" if by is None else format_timestamp(by.astimezone(at.tzinfo))


def rule_effect(rule: Rule) -> str:
    """What a matching rule does: `impact=extensive, urgency=critical, priority=P1`."""
    parts = [
        f"{name}={value}"
        for name, value in (
            ("impact", rule.impact),
            ("urgency", rule.urgency),
            ("priority", rule.priority),
        )
        if value is not None
    ]
    if rule.at_least is not None:
        parts.append(f"priority at least {rule.at_least}")
    if rule.at_most is not None:
        parts.append(f"priority at most {rule.at_most}")
    return ", ".join(parts)


def _playbook_info(cp: CompiledPlaybook) -> dict[str, Any]:
    playbook = cp.playbook
    return {"id": playbook.id, "title": playbook.title, "owner": playbook.owner or ""}


def evaluate(
    compiled: CompiledLibrary,
    incident: Incident | Mapping[str, Any],
    at: datetime,
    explain: bool = False,
) -> Plan:
    """The plan for `incident` (an `Incident` or its data) at the moment `at` (an aware
    datetime). Incident data is validated first; invalid data raises `InputError`."""
    if not isinstance(incident, Incident):
        incident = build_incident(dict(incident), pointer_span("<incident>"))
    with expression_failures() as failures, sandbox.plan_budget():
        plan = _evaluate(compiled, incident, at, explain)
    if not failures:
        return plan
    found = tuple(
        PlanError(where, f"expression failed, counted as false: {message}")
        for where, message in sorted(failures.items())
    )
    return replace(plan, errors=plan.errors + found)


def _evaluate(compiled: CompiledLibrary, incident: Incident, at: datetime, explain: bool) -> Plan:
    run = _Evaluation(compiled, incident, at, explain)
    since = elapsed(incident, at, run.life)
    ctx: Context = {"incident": incident.data, "elapsed": since}
    selected, playbook_traces = run.select(ctx)
    classification, rule_traces = run.classify(selected, ctx)
    priority = compiled.priorities[classification.priority.value]
    deadlines = run.deadlines(priority)
    plan_ctx: Context = {
        "incident": incident.data,
        "elapsed": since,
        "priority": priority.id,
        "impact": classification.impact.value,
        "urgency": classification.urgency.value,
    }
    template_ctx: Context = {
        "incident": incident.data,
        "elapsed": since,
        "priority": {
            "id": priority.id,
            "name": priority.name,
            "description": priority.description,
            "incident": priority.incident,
        },
        "impact": classification.impact.value,
        "urgency": classification.urgency.value,
        "deadlines": {  # in the clock's offset, like every time the plan shows
            "respondBy": _deadline_text(deadlines.respond_by, at),
            "resolveBy": _deadline_text(deadlines.resolve_by, at),
        },
        "at": format_timestamp(at),
    }
    selected, procedure_traces = run.select_procedures(selected, plan_ctx)
    playbook_traces += procedure_traces
    steps = run.steps(selected, plan_ctx, template_ctx, priority, deadlines.sla_start)
    escalation = run.escalation(selected, plan_ctx, deadlines.sla_start)
    if not priority.incident:  # not an incident: nobody is paged
        escalation = replace(escalation, entries=())
    notifications = run.notifications(selected, plan_ctx, template_ctx)
    trace = None
    if explain:
        c = classification
        cell = f"{c.impact.value} × {c.urgency.value} → {c.matrix_priority}"
        trace = Trace(tuple(playbook_traces), tuple(rule_traces), cell, tuple(run.items))
    return Plan(
        incident_id=incident.id,
        incident_title=incident.title,
        at=at,
        playbooks=tuple((cp.id, cp.playbook.title) for cp in selected),
        classification=classification,
        priority=PriorityInfo(priority.id, priority.name, priority.description, priority.incident),
        deadlines=deadlines,
        steps=tuple(steps),
        escalation=escalation,
        notifications=tuple(notifications),
        errors=tuple(run.errors),
        trace=trace,
        lifecycle=run.life,
    )
