"""The library model: frozen dataclasses built from schema-valid documents.

Nothing here is compiled yet: conditions and templates hold their source text and the span
they came from, so that every later stage can point back at the file, line and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Any

from .diagnostics import Span

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
    conditions: tuple[Condition, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class AnyOf:
    conditions: tuple[Condition, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Not:
    condition: Condition
    span: Span


Condition = Leaf | Expr | AllOf | AnyOf | Not


# --- shared pieces ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Link:
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class Template:
    """Jinja2 template source and where it is written."""

    source: str
    span: Span


# --- policy -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Priority:
    id: str
    name: str
    description: str
    respond_within: timedelta
    resolve_within: timedelta
    calendar: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class Level:
    """An impact or urgency level."""

    id: str
    description: str
    span: Span


@dataclass(frozen=True, slots=True)
class Calendar:
    id: str
    timezone: str
    weekdays: frozenset[int]  # 0 = Monday
    start: time
    end: time
    holidays: frozenset[date]
    span: Span


@dataclass(frozen=True, slots=True)
class Role:
    id: str
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class Team:
    id: str
    name: str
    channel: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class OnCall:
    id: str
    team: str
    name: str
    channel: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    kind: str
    address: str
    max_length: int
    span: Span


@dataclass(frozen=True, slots=True)
class Rule:
    """A classification rule: when it matches it sets impact/urgency and/or overrides priority."""

    id: str
    when: Condition
    impact: str | None
    urgency: str | None
    priority: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class Defaults:
    impact: str | None
    urgency: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class Tier:
    after: timedelta
    targets: tuple[str, ...]
    when: Condition | None
    span: Span


@dataclass(frozen=True, slots=True)
class Repeat:
    times: int
    from_tier: int  # 1-based
    after: timedelta
    span: Span


@dataclass(frozen=True, slots=True)
class Escalation:
    tiers: tuple[Tier, ...]
    stop_when_acknowledged: bool
    repeat: Repeat | None
    span: Span


@dataclass(frozen=True, slots=True)
class Policy:
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


# --- playbook ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    title: Template
    details: Template | None
    owner: str | None
    due: timedelta | None
    when: Condition | None
    links: tuple[Link, ...]
    depends_on: tuple[str, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Notification:
    id: str
    channel: str
    to: tuple[Template, ...]
    subject: Template | None
    body: Template
    when: Condition | None
    span: Span


@dataclass(frozen=True, slots=True)
class Playbook:
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
