"""The plan: what the library says to do about one incident at one moment, and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

# --- explain trace ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConditionTrace:
    """How one condition node evaluated; leaves carry the field, actual and expected values."""

    kind: str  # all | any | not | leaf | expr
    result: bool
    name: str = ""
    field: str = ""
    operator: str = ""
    expected: Any = None
    actual: Any = None
    note: str = ""
    location: str = ""
    children: tuple[ConditionTrace, ...] = ()


@dataclass(frozen=True, slots=True)
class PlaybookTrace:
    """Why a playbook was or was not selected."""

    id: str
    selected: bool
    reason: str
    condition: ConditionTrace | None


@dataclass(frozen=True, slots=True)
class RuleTrace:
    """Why a classification rule matched or not."""

    origin: str  # playbook id, or "policy"
    id: str
    matched: bool
    effect: str  # e.g. "impact=extensive, urgency=critical" or "priority=P1"
    decided: tuple[str, ...]  # which values this rule decided: impact, urgency, priority
    condition: ConditionTrace


@dataclass(frozen=True, slots=True)
class ItemTrace:
    """A step, tier or notification: kept or skipped, and why."""

    kind: str  # step | tier | notification
    id: str
    playbook: str
    kept: bool
    reason: str
    condition: ConditionTrace | None


@dataclass(frozen=True, slots=True)
class Trace:
    """The whole explanation of a plan (kept with --explain)."""

    playbooks: tuple[PlaybookTrace, ...]
    rules: tuple[RuleTrace, ...]
    matrix_cell: str
    items: tuple[ItemTrace, ...]


# --- plan -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decision:
    """A classified value and what decided it."""

    value: str
    decided_by: str  # "rule <origin>/<id>", "defaults of playbook <id>", "policy defaults", ...


@dataclass(frozen=True, slots=True)
class Classification:
    """Impact, urgency and priority, each with what decided it."""

    impact: Decision
    urgency: Decision
    priority: Decision
    matrix_priority: str


@dataclass(frozen=True, slots=True)
class PriorityInfo:
    """The chosen priority as shown in a plan."""

    id: str
    name: str
    description: str
    incident: bool = True  # False: the policy's "not an incident" decision


@dataclass(frozen=True, slots=True)
class Deadlines:
    """The SLA deadlines: respond and resolve by, on the priority's clock."""

    sla_start: datetime
    respond_within: timedelta | None  # counted on the clock below; None: no target
    resolve_within: timedelta | None
    respond_by: datetime | None
    resolve_by: datetime | None
    clock: str  # "24x7" or a calendar id
    respond_overdue: bool
    resolve_overdue: bool


@dataclass(frozen=True, slots=True)
class LinkOut:
    """A link in a plan."""

    title: str
    url: str


@dataclass(frozen=True, slots=True)
class PlanStep:
    """A step of the responder's checklist, rendered."""

    id: str
    playbook: str
    title: str
    details: str
    owner: str | None
    owner_name: str | None
    due: datetime | None
    due_after: timedelta | None  # the step's `due`, counted on the SLA clock
    overdue: bool
    depends_on: tuple[str, ...]
    links: tuple[LinkOut, ...]
    done_by: str | None = None  # the lifecycle event its `completedBy` names, once it happened
    done_at: datetime | None = None  # when that was


@dataclass(frozen=True, slots=True)
class Target:
    """Someone an escalation tier pages."""

    id: str
    name: str
    team: str


@dataclass(frozen=True, slots=True)
class EscalationEntry:
    """One page of the escalation schedule: when, which tier, whom."""

    at: datetime
    after: timedelta
    tier: int  # 1-based
    cycle: int  # 0 = first pass, 1.. = repeats
    targets: tuple[Target, ...]
    status: str  # due | pending | cancelled | elapsed (README, Lifecycle)


@dataclass(frozen=True, slots=True)
class EscalationPlan:
    """The escalation schedule and where it came from."""

    source: str  # playbook id, "policy", or "" when none
    stop_when_acknowledged: bool
    entries: tuple[EscalationEntry, ...]


@dataclass(frozen=True, slots=True)
class RenderedNotification:
    """A notification rendered for its channel."""

    id: str
    playbook: str
    channel: str
    kind: str
    to: tuple[str, ...]
    subject: str | None
    body: str
    truncated: bool


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """Where the incident is in its life at the plan's moment (README, "Lifecycle").

    `status` is the word the incident gives (an alert state, a phase or a disposition), or
    the one its timestamps imply; `stage` is what the engine acts on: `open`, `acknowledged`,
    `resolved` or `closed` (resolved as not an incident). A time the status implies but the
    incident does not give is the clock's, and `assumed` says so."""

    status: str
    stage: str
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    assumed: tuple[str, ...] = ()  # "acknowledgedAt", "resolvedAt": taken as the clock
    respond: str = "open"  # "met", "missed", "open" (not yet, still in time), "overdue", "none"
    resolve: str = "open"


@dataclass(frozen=True, slots=True)
class PlanError:
    """A problem met while evaluating (e.g. a template failing on this incident)."""

    where: str  # "<file>:<line>:<col>"
    message: str


@dataclass(frozen=True, slots=True)
class Plan:
    """The responder's plan for one incident at one moment."""

    incident_id: str
    incident_title: str
    at: datetime
    playbooks: tuple[tuple[str, str], ...]  # (id, title) in merge order
    classification: Classification
    priority: PriorityInfo
    deadlines: Deadlines
    steps: tuple[PlanStep, ...]
    escalation: EscalationPlan
    notifications: tuple[RenderedNotification, ...]
    errors: tuple[PlanError, ...] = ()
    trace: Trace | None = field(default=None)
    lifecycle: Lifecycle | None = None  # None only for plans made by hand
