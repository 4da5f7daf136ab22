"""The library model: frozen dataclasses built from schema-valid documents.

Nothing here is compiled yet: conditions and templates hold their source text and the span
they came from, so that every later stage can point back at the file, line and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Any

from playbook_engine.diagnostics import Span

JSONScalar = str | int | float | bool | None

OPERATORS = (
    "equals",
    "oneOf",
    "contains",
    "matches",
    "greaterThan",
    "greaterOrEqual",
    "lessThan",
    "lessOrEqual",
    "between",
    "exists",
    "withinCalendar",
)
CHANNEL_KINDS = ("chat", "email", "pager", "webhook", "status-page")
DEFAULT_MAX_LENGTH = {
    "chat": 4000,
    "email": 100_000,
    "pager": 1024,
    "webhook": 100_000,
    "status-page": 5000,
}


# --- conditions -------------------------------------------------------------------------


# The fields of the `elapsed` root of conditions and templates (engine/elapsed.py).
ELAPSED_FIELDS = {
    "sinceStart": "minutes from startedAt to the clock",
    "sinceDetected": "minutes from detectedAt to the clock",
    "sinceAcknowledged": "minutes from acknowledgedAt to the clock",
    "sinceResolved": "minutes from resolvedAt to the clock",
    "toAcknowledge": "minutes from the SLA start (detectedAt, else startedAt) to acknowledgedAt",
    "toResolve": "minutes from the SLA start (detectedAt, else startedAt) to resolvedAt",
}
"""The fields of `elapsed`, each with what it measures."""


@dataclass(frozen=True, slots=True)
class Leaf:
    """`{field: PATH, OP: VALUE}`: one field tested with one named operator."""

    field: str
    operator: str
    value: Any
    span: Span
    name: str = ""
    ignore_case: bool = False


@dataclass(frozen=True, slots=True)
class Expr:
    """`{expr: "..."}`: a Jinja2 expression evaluated in the sandbox."""

    source: str
    span: Span
    name: str = ""


@dataclass(frozen=True, slots=True)
class AllOf:
    """`{all: [...]}`: every condition holds."""

    conditions: tuple[Condition, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class AnyOf:
    """`{any: [...]}`: at least one condition holds."""

    conditions: tuple[Condition, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Not:
    """`{not: ...}`: the condition does not hold."""

    condition: Condition
    span: Span


Condition = Leaf | Expr | AllOf | AnyOf | Not


# --- shared pieces ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Link:
    """A titled link shown with a playbook or step."""

    title: str
    url: str


@dataclass(frozen=True, slots=True)
class Template:
    """Jinja2 template source and where it is written; for a literal block (`|`), also
    where its text starts (`body`: the source's line k is the file's `body.line + k - 1`)."""

    source: str
    span: Span
    body: Span | None = None


# --- policy -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Priority:
    """A priority level (P1 most severe) and its response and resolution targets (None: no
    target, as "planned" or "no SLA" levels have)."""

    id: str
    name: str
    description: str
    respond_within: timedelta | None
    resolve_within: timedelta | None
    calendar: str | None
    span: Span
    incident: bool = True  # False: the decision that the event is not an incident


@dataclass(frozen=True, slots=True)
class Level:
    """An impact or urgency level."""

    id: str
    description: str
    span: Span


@dataclass(frozen=True, slots=True)
class Calendar:
    """Working hours: the weekdays, daily hours and holidays of one timezone."""

    id: str
    timezone: str
    weekdays: frozenset[int]  # 0 = Monday
    start: time
    end: time
    holidays: frozenset[date]
    span: Span
    timezone_span: Span | None = None  # where the zone name is written, for its diagnostics
    # Public holidays by (country, subdivision or None), from the `holidays` package.
    public_holidays: tuple[tuple[str, str | None], ...] = ()
    public_holidays_span: Span | None = None


@dataclass(frozen=True, slots=True)
class Role:
    """A responder role, e.g. incident commander."""

    id: str
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class Team:
    """A team that owns steps and can be paged."""

    id: str
    name: str
    channel: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class OnCall:
    """A team's on-call rotation, an escalation target."""

    id: str
    team: str
    name: str
    channel: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class Channel:
    """Where notifications go: its kind, address and length limit."""

    id: str
    kind: str
    address: str
    max_length: int
    span: Span
    allow_private: bool = False  # rendered webhook recipients may name private addresses


@dataclass(frozen=True, slots=True)
class Rule:
    """A classification rule: when it matches it sets impact/urgency, overrides the priority,
    and/or bounds it (`at_least`: at least as severe; `at_most`: at most as severe)."""

    id: str
    when: Condition
    impact: str | None
    urgency: str | None
    priority: str | None
    span: Span
    at_least: str | None = None
    at_most: str | None = None


@dataclass(frozen=True, slots=True)
class Defaults:
    """Impact and urgency when no rule decides them."""

    impact: str | None
    urgency: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class Tier:
    """One escalation tier: who is paged, and when after the start."""

    after: timedelta
    targets: tuple[str, ...]
    when: Condition | None
    span: Span


@dataclass(frozen=True, slots=True)
class Repeat:
    """Repeating the escalation from a tier when nobody acknowledges."""

    times: int
    from_tier: int  # 1-based
    after: timedelta
    span: Span


@dataclass(frozen=True, slots=True)
class Escalation:
    """An escalation path: its tiers and what stops or repeats it."""

    tiers: tuple[Tier, ...]
    stop_when_acknowledged: bool
    repeat: Repeat | None
    span: Span


@dataclass(frozen=True, slots=True)
class Policy:
    """The organisation's policy: priorities, matrix, rules, calendars, people, channels."""

    id: str
    title: str
    description: str
    priorities: tuple[Priority, ...]  # most severe first
    impacts: tuple[Level, ...]
    urgencies: tuple[Level, ...]
    matrix: dict[str, dict[str, str]]
    matrix_spans: dict[str, Span]  # "" (the matrix), "<impact>" (a row), "<impact>/<urgency>"
    rules: tuple[Rule, ...]
    defaults: Defaults
    calendars: tuple[Calendar, ...]
    roles: tuple[Role, ...]
    teams: tuple[Team, ...]
    oncall: tuple[OnCall, ...]
    channels: tuple[Channel, ...]
    escalation: Escalation | None
    path: str
    span: Span
    # "Severity never goes down": the incident's `peakPriority` is a floor.
    keep_peak: bool = False
    # How an Alertmanager or Grafana notification of several alerts becomes incidents:
    # "alert" (one each) or "group" (one for the notification).
    alert_grouping: str = "alert"


# --- playbook ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """A response step of a playbook."""

    id: str
    title: Template
    details: Template | None
    owner: str | None
    due: timedelta | None
    when: Condition | None
    links: tuple[Link, ...]
    depends_on: tuple[str, ...]
    span: Span
    owner_span: Span | None = None  # where `owner` is written, for its diagnostics
    completed_by: str | None = None  # "acknowledgement" or "resolution": done by that event


@dataclass(frozen=True, slots=True)
class Notification:
    """A templated message a playbook sends to a channel."""

    id: str
    channel: str
    to: tuple[Template, ...]
    subject: Template | None
    body: Template
    when: Condition | None
    span: Span
    channel_span: Span | None = None  # where `channel` is written, for its diagnostics


@dataclass(frozen=True, slots=True)
class Playbook:
    """A playbook: when it applies, its rules, steps, escalation and notifications."""

    id: str
    title: str
    owner: str | None
    owner_span: Span
    description: str
    tags: tuple[str, ...]
    links: tuple[Link, ...]
    applies_when: Condition | None
    fallback: bool
    order: int
    rules: tuple[Rule, ...]
    defaults: Defaults | None
    steps: tuple[Step, ...]
    escalation: Escalation | None
    notifications: tuple[Notification, ...]
    path: str
    span: Span


@dataclass(frozen=True, slots=True)
class Library:
    """A whole library: one policy, its playbooks, and the macros shared by its templates.

    Shared step groups, escalations and notifications are already expanded into the playbooks
    that use them; `macros` are Jinja2 `{% macro %}` sources available to every template.
    """

    root: str
    policy: Policy
    playbooks: tuple[Playbook, ...]
    files: tuple[str, ...] = field(default=())
    macros: tuple[Template, ...] = field(default=())
    shared: tuple[Playbook, ...] = field(default=())  # Shared definitions, for validation only
    mappings: dict[str, Any] = field(default_factory=dict)  # PayloadMapping specs by id


def root_of(path: str) -> str:
    """The first segment of a dotted field path."""
    return path.split(".", 1)[0]


def leaves(condition: Condition) -> list[Leaf | Expr]:
    """Every leaf and expression of a condition, in document order."""
    if isinstance(condition, AllOf | AnyOf):
        return [leaf for c in condition.conditions for leaf in leaves(c)]
    if isinstance(condition, Not):
        return leaves(condition.condition)
    return [condition]
