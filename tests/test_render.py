"""Rendering plans: exact Markdown, text and JSON of small plans, hostile data, the schema."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from playbook_engine.jsonio import dumps
from playbook_engine.load.schema import load_schema
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
from playbook_engine.render.plans import FORMATS, plan_to_dict, render_plan
from playbook_engine.timeparse import parse_timestamp

VALIDATOR = Draft202012Validator(load_schema("plan"))


def ts(text: str) -> datetime:
    return parse_timestamp(text)


def leaf(
    field: str, operator: str, expected: Any, actual: Any, result: bool, note: str = ""
) -> ConditionTrace:
    return ConditionTrace(
        "leaf", result, "", field, operator, expected, actual, note, "lib/major.yaml:7:9"
    )


def small_plan(**changes: Any) -> Plan:
    plan = Plan(
        incident_id="INC-7",
        incident_title="Checkout returns 502",
        at=ts("2026-03-13T16:30:00Z"),
        playbooks=(("major", "Major incident"),),
        classification=Classification(
            impact=Decision("extensive", "rule major/many-customers"),
            urgency=Decision("high", "policy defaults"),
            priority=Decision("P1", "matrix[extensive][high]"),
            matrix_priority="P1",
        ),
        priority=PriorityInfo("P1", "Critical", "Customer-facing service down."),
        deadlines=Deadlines(
            sla_start=ts("2026-03-13T16:00:00Z"),
            respond_within=timedelta(minutes=15),
            resolve_within=timedelta(hours=4),
            respond_by=ts("2026-03-13T16:15:00Z"),
            resolve_by=ts("2026-03-13T20:00:00Z"),
            clock="24x7",
            respond_overdue=True,
            resolve_overdue=False,
        ),
        steps=(
            PlanStep(
                id="declare",
                playbook="major",
                title="Declare INC-7",
                details="",
                owner="incident-commander",
                owner_name="Incident Commander",
                due=ts("2026-03-13T16:05:00Z"),
                due_after=timedelta(minutes=5),
                overdue=True,
                depends_on=(),
                links=(),
            ),
            PlanStep(
                id="status-page",
                playbook="major",
                title="Update the status page",
                details="Say what customers see.\n\nNo blame.\n",
                owner="communications-lead",
                owner_name=None,
                due=ts("2026-03-13T16:40:00Z"),
                due_after=timedelta(minutes=40),
                overdue=False,
                depends_on=("declare",),
                links=(LinkOut("Status page admin", "https://status.example/admin"),),
            ),
            PlanStep("review", "major", "Book a review", "", None, None, None, None, False, (), ()),
        ),
        escalation=EscalationPlan(
            source="major",
            stop_when_acknowledged=True,
            entries=(
                EscalationEntry(
                    ts("2026-03-13T16:00:00Z"),
                    timedelta(0),
                    1,
                    0,
                    (Target("sre-primary", "SRE primary on-call", "sre"),),
                    "due",
                ),
                EscalationEntry(
                    ts("2026-03-13T16:45:00Z"),
                    timedelta(minutes=45),
                    2,
                    1,
                    (Target("vp-eng", "vp-eng", ""),),
                    "pending",
                ),
            ),
        ),
        notifications=(
            RenderedNotification(
                id="announce",
                playbook="major",
                channel="incident-chat",
                kind="chat",
                to=("#incidents",),
                subject="[P1] Checkout returns 502",
                body="P1 on checkout.\n",
                truncated=False,
            ),
        ),
    )
    return replace(plan, **changes)


SMALL_TRACE = Trace(
    playbooks=(
        PlaybookTrace(
            "major",
            True,
            "appliesWhen holds",
            ConditionTrace(
                "any",
                True,
                children=(
                    leaf("incident.severity", "equals", "critical", "critical", True),
                    leaf("incident.service", "oneOf", ["db"], None, False, "field is missing"),
                ),
            ),
        ),
        PlaybookTrace("triage", False, "fallback, and other playbooks apply", None),
    ),
    rules=(
        RuleTrace(
            "major",
            "many-customers",
            True,
            "impact=extensive",
            ("impact",),
            leaf("incident.customersAffected", "greaterOrEqual", 1000, 1500, True),
        ),
        RuleTrace(
            "policy",
            "staging",
            False,
            "priority=P4",
            (),
            ConditionTrace(
                "not",
                False,
                children=(
                    ConditionTrace(
                        "expr",
                        True,
                        "production",
                        expected="incident.environment == 'production'",
                        location="lib/policy.yaml:30:11",
                    ),
                ),
            ),
        ),
    ),
    matrix_cell="extensive × high → P1",
    items=(
        ItemTrace("step", "declare", "major", True, "condition holds", None),
        ItemTrace(
            "notification",
            "execs",
            "major",
            False,
            "condition does not hold",
            leaf("priority", "oneOf", ["P1"], "P2", False),
        ),
    ),
)

SMALL_MARKDOWN = """\
# INC-7 — Checkout returns 502

**P1 — Critical** · impact **extensive** × urgency **high**

Definition of P1: Customer-facing service down.

- Impact: extensive, decided by rule major/many-customers
- Urgency: high, decided by policy defaults
- Priority: P1, decided by matrix[extensive][high]
- Playbooks: major (Major incident)
- Plan as of 2026-03-13T16:30:00Z; times in UTC

## SLA

- **Respond by:** 2026-03-13T16:15:00Z (+15m) — **OVERDUE**
- **Resolve by:** 2026-03-13T20:00:00Z (+4h)
- Clock: 24x7, from 2026-03-13T16:00:00Z (SLA start)

## Checklist

- [ ] **Declare INC-7** — incident-commander (Incident Commander) · due 16:05 (+5m) **OVERDUE**
- [ ] **Update the status page** — communications-lead · due 16:40 (+40m) · after: declare

  Say what customers see.

  No blame.

  - [Status page admin](<https://status.example/admin>)

- [ ] **Book a review**

## Escalation

From playbook major; stops when acknowledged.

| Time | After | Tier | Cycle | Targets | Status |
| --- | --- | --- | --- | --- | --- |
| 16:00 | +0m | 1 | first | SRE primary on-call (sre-primary) | **due** |
| 16:45 | +45m | 2 | repeat 1 | vp-eng | pending |

## Notifications

### announce → incident-chat (chat)

- To: #incidents
- Subject: [P1] Checkout returns 502
- Body:

  ```text
  P1 on checkout.
  ```
"""

SMALL_MARKDOWN_EXPLAIN = """
## Explain

### Playbooks

- **major**: selected — appliesWhen holds
  - any: true
    - `incident.severity` equals `"critical"` → `"critical"`: true
    - `incident.service` oneOf `["db"]` → `null`: false (field is missing)
- **triage**: not selected — fallback, and other playbooks apply

### Classification rules

- **major/many-customers**: matched — impact=extensive · decided impact
  - `incident.customersAffected` greaterOrEqual `1000` → `1500`: true
- **policy/staging**: not matched — priority=P4
  - not: false
    - **production**: expr `incident.environment == 'production'`: true

Matrix cell: extensive × high → P1

### Steps, tiers and notifications

- **step declare** (major): kept — condition holds
- **notification execs** (major): skipped — condition does not hold
  - `priority` oneOf `["P1"]` → `"P2"`: false
"""

SMALL_TEXT = """\
INC-7 — Checkout returns 502

P1 Critical — impact extensive × urgency high
  Customer-facing service down.
  impact     extensive  rule major/many-customers
  urgency    high       policy defaults
  priority   P1         matrix[extensive][high]
  playbooks  major (Major incident)
  as of      2026-03-13T16:30:00Z (times in UTC)

SLA  clock 24x7, from 2026-03-13T16:00:00Z
  respond by  2026-03-13T16:15:00Z  +15m  OVERDUE
  resolve by  2026-03-13T20:00:00Z  +4h

Checklist
  [ ] 16:05  +5m   Declare INC-7 · incident-commander (Incident Commander)  OVERDUE
  [ ] 16:40  +40m  Update the status page · communications-lead · after: declare
                   Say what customers see.

                   No blame.
                   Status page admin: https://status.example/admin
  [ ]              Book a review

Escalation  from playbook major · stops when acknowledged
  16:00  +0m   tier 1           due      SRE primary on-call (sre-primary)
  16:45  +45m  tier 2 repeat 1  pending  vp-eng

Notifications
  announce → incident-chat (chat)
    to       #incidents
    subject  [P1] Checkout returns 502
    │ P1 on checkout.
"""

SMALL_TEXT_EXPLAIN = """
Explain
  Playbooks
    major   selected      appliesWhen holds
      any: true
        incident.severity equals "critical" → "critical": true
        incident.service oneOf ["db"] → null: false (field is missing)
    triage  not selected  fallback, and other playbooks apply
  Classification rules
    major/many-customers  matched      impact=extensive · decided impact
      incident.customersAffected greaterOrEqual 1000 → 1500: true
    policy/staging        not matched  priority=P4
      not: false
        production: expr incident.environment == 'production': true
  Matrix cell  extensive × high → P1
  Steps, tiers and notifications
    step declare (major)        kept     condition holds
    notification execs (major)  skipped  condition does not hold
      priority oneOf ["P1"] → "P2": false
"""

SMALL_JSON: dict[str, Any] = {
    "apiVersion": "playbook-engine/v1",
    "kind": "Plan",
    "incident": {"id": "INC-7", "title": "Checkout returns 502"},
    "at": "2026-03-13T16:30:00Z",
    "errors": [],
    "playbooks": [{"id": "major", "title": "Major incident"}],
    "priority": {
        "id": "P1",
        "name": "Critical",
        "description": "Customer-facing service down.",
        "incident": True,
    },
    "classification": {
        "impact": {"value": "extensive", "decidedBy": "rule major/many-customers"},
        "urgency": {"value": "high", "decidedBy": "policy defaults"},
        "priority": {"value": "P1", "decidedBy": "matrix[extensive][high]"},
        "matrixPriority": "P1",
    },
    "deadlines": {
        "slaStart": "2026-03-13T16:00:00Z",
        "respondWithin": "15m",
        "resolveWithin": "4h",
        "respondBy": "2026-03-13T16:15:00Z",
        "resolveBy": "2026-03-13T20:00:00Z",
        "clock": "24x7",
        "respondOverdue": True,
        "resolveOverdue": False,
    },
    # A plan made by hand has no lifecycle: the JSON says what its deadlines imply.
    "lifecycle": {
        "status": "triggered",
        "stage": "open",
        "acknowledgedAt": None,
        "resolvedAt": None,
        "assumed": [],
        "respond": "overdue",
        "resolve": "open",
    },
    "steps": [
        {
            "id": "declare",
            "playbook": "major",
            "title": "Declare INC-7",
            "details": "",
            "owner": "incident-commander",
            "ownerName": "Incident Commander",
            "due": "2026-03-13T16:05:00Z",
            "dueAfter": "5m",
            "overdue": True,
            "doneBy": None,
            "doneAt": None,
            "dependsOn": [],
            "links": [],
        },
        {
            "id": "status-page",
            "playbook": "major",
            "title": "Update the status page",
            "details": "Say what customers see.\n\nNo blame.\n",
            "owner": "communications-lead",
            "ownerName": None,
            "due": "2026-03-13T16:40:00Z",
            "dueAfter": "40m",
            "overdue": False,
            "doneBy": None,
            "doneAt": None,
            "dependsOn": ["declare"],
            "links": [{"title": "Status page admin", "url": "https://status.example/admin"}],
        },
        {
            "id": "review",
            "playbook": "major",
            "title": "Book a review",
            "details": "",
            "owner": None,
            "ownerName": None,
            "due": None,
            "dueAfter": None,
            "overdue": False,
            "doneBy": None,
            "doneAt": None,
            "dependsOn": [],
            "links": [],
        },
    ],
    "escalation": {
        "source": "major",
        "stopWhenAcknowledged": True,
        "entries": [
            {
                "at": "2026-03-13T16:00:00Z",
                "after": "0m",
                "tier": 1,
                "cycle": 0,
                "status": "due",
                "targets": [{"id": "sre-primary", "name": "SRE primary on-call", "team": "sre"}],
            },
            {
                "at": "2026-03-13T16:45:00Z",
                "after": "45m",
                "tier": 2,
                "cycle": 1,
                "status": "pending",
                "targets": [{"id": "vp-eng", "name": "vp-eng", "team": ""}],
            },
        ],
    },
    "notifications": [
        {
            "id": "announce",
            "playbook": "major",
            "channel": "incident-chat",
            "kind": "chat",
            "to": ["#incidents"],
            "subject": "[P1] Checkout returns 502",
            "body": "P1 on checkout.\n",
            "truncated": False,
        }
    ],
}


def leaf_json(field: str, operator: str, expected: Any, actual: Any, result: bool) -> Any:
    return {
        "kind": "leaf",
        "result": result,
        "name": "",
        "field": field,
        "operator": operator,
        "expected": expected,
        "actual": actual,
        "note": "",
        "location": "lib/major.yaml:7:9",
    }


SMALL_JSON_EXPLAIN: dict[str, Any] = {
    "playbooks": [
        {
            "id": "major",
            "selected": True,
            "reason": "appliesWhen holds",
            "condition": {
                "kind": "any",
                "result": True,
                "name": "",
                "children": [
                    leaf_json("incident.severity", "equals", "critical", "critical", True),
                    {
                        **leaf_json("incident.service", "oneOf", ["db"], None, False),
                        "note": "field is missing",
                    },
                ],
            },
        },
        {
            "id": "triage",
            "selected": False,
            "reason": "fallback, and other playbooks apply",
            "condition": None,
        },
    ],
    "rules": [
        {
            "origin": "major",
            "id": "many-customers",
            "matched": True,
            "effect": "impact=extensive",
            "decided": ["impact"],
            "condition": leaf_json(
                "incident.customersAffected", "greaterOrEqual", 1000, 1500, True
            ),
        },
        {
            "origin": "policy",
            "id": "staging",
            "matched": False,
            "effect": "priority=P4",
            "decided": [],
            "condition": {
                "kind": "not",
                "result": False,
                "name": "",
                "children": [
                    {
                        "kind": "expr",
                        "result": True,
                        "name": "production",
                        "expression": "incident.environment == 'production'",
                        "note": "",
                        "location": "lib/policy.yaml:30:11",
                    }
                ],
            },
        },
    ],
    "matrixCell": "extensive × high → P1",
    "items": [
        {
            "kind": "step",
            "id": "declare",
            "playbook": "major",
            "kept": True,
            "reason": "condition holds",
            "condition": None,
        },
        {
            "kind": "notification",
            "id": "execs",
            "playbook": "major",
            "kept": False,
            "reason": "condition does not hold",
            "condition": leaf_json("priority", "oneOf", ["P1"], "P2", False),
        },
    ],
}


# --- exact output of small plans --------------------------------------------------------


def test_markdown_of_a_small_plan() -> None:
    assert render_plan(small_plan(), "markdown") == SMALL_MARKDOWN


def test_markdown_with_explain_adds_the_trace_after_the_plan() -> None:
    plan = small_plan(trace=SMALL_TRACE)
    assert render_plan(plan, "markdown") == SMALL_MARKDOWN
    assert render_plan(plan, "markdown", explain=True) == SMALL_MARKDOWN + SMALL_MARKDOWN_EXPLAIN


def test_text_of_a_small_plan() -> None:
    assert render_plan(small_plan(), "text") == SMALL_TEXT


def test_text_with_explain_adds_the_trace_after_the_plan() -> None:
    plan = small_plan(trace=SMALL_TRACE)
    assert render_plan(plan, "text") == SMALL_TEXT
    assert render_plan(plan, "text", explain=True) == SMALL_TEXT + SMALL_TEXT_EXPLAIN


def test_json_of_a_small_plan() -> None:
    plan = small_plan(trace=SMALL_TRACE)
    assert plan_to_dict(plan) == SMALL_JSON
    text = render_plan(plan, "json")
    assert text == json.dumps(SMALL_JSON, ensure_ascii=False, indent=2) + "\n"
    assert list(json.loads(text)) == list(SMALL_JSON)  # key order is part of the interface


def test_json_with_explain() -> None:
    plan = small_plan(trace=SMALL_TRACE)
    data = plan_to_dict(plan, explain=True)
    assert data == {**SMALL_JSON, "explain": SMALL_JSON_EXPLAIN}
    assert list(data)[-1] == "explain"
    assert json.loads(render_plan(plan, "json", explain=True)) == data


def test_colour_only_when_asked() -> None:
    plain = render_plan(small_plan(trace=SMALL_TRACE), "text", explain=True)
    coloured = render_plan(small_plan(trace=SMALL_TRACE), "text", explain=True, color=True)
    assert "\x1b" not in plain
    assert "\x1b[1;31mOVERDUE\x1b[0m" in coloured
    assert "\x1b[1mINC-7 — Checkout returns 502\x1b[0m" in coloured
    assert "\x1b[33mdue\x1b[0m" in coloured
    assert ": \x1b[32mtrue\x1b[0m" in coloured and ": \x1b[31mfalse\x1b[0m" in coloured
    # Without the colour codes the two are the same text, alignment included.
    assert re.sub("\x1b\\[[0-9;]*m", "", coloured) == plain
    for fmt in ("markdown", "json"):
        assert render_plan(small_plan(), fmt, color=True) == render_plan(small_plan(), fmt)


# --- sections and their variants --------------------------------------------------------


def test_errors_come_first_in_a_warning() -> None:
    plan = small_plan(
        errors=(
            PlanError("lib/major.yaml:12:14", "'dict object' has no attribute 'service'"),
            PlanError("lib/major.yaml:20:9", "output too long"),
        )
    )
    md = render_plan(plan, "markdown")
    assert md.split("\n")[:6] == [
        "# INC-7 — Checkout returns 502",
        "",
        "> **⚠ 2 errors while building this plan** — the texts concerned show their template "
        "source.",
        ">",
        "> - At lib/major.yaml:12:14: 'dict object' has no attribute 'service'",
        "> - At lib/major.yaml:20:9: output too long",
    ]
    text = render_plan(plan, "text")
    assert text.split("\n")[2:5] == [
        "! 2 errors while building this plan (the texts concerned show their template source)",
        "!   lib/major.yaml:12:14  'dict object' has no attribute 'service'",
        "!   lib/major.yaml:20:9   output too long",
    ]
    assert plan_to_dict(plan)["errors"][1] == {
        "where": "lib/major.yaml:20:9",
        "message": "output too long",
    }


def test_times_are_shown_in_the_offset_of_the_clock() -> None:
    plan = small_plan(at=ts("2026-03-13T17:30:00+01:00"))
    md = render_plan(plan, "markdown")
    assert "- **Respond by:** 2026-03-13T17:15:00+01:00 (+15m) — **OVERDUE**" in md
    assert "· due 17:05 (+5m) **OVERDUE**" in md
    assert "| 17:45 | +45m | 2 | repeat 1 | vp-eng | pending |" in md
    assert "- Plan as of 2026-03-13T17:30:00+01:00; times in UTC+01:00" in md
    data = plan_to_dict(plan)
    assert data["at"] == "2026-03-13T17:30:00+01:00"
    assert data["deadlines"]["slaStart"] == "2026-03-13T17:00:00+01:00"
    assert data["steps"][0]["due"] == "2026-03-13T17:05:00+01:00"
    assert data["escalation"]["entries"][1]["at"] == "2026-03-13T17:45:00+01:00"
    west = small_plan(at=ts("2026-03-13T11:00:00-05:30"))
    assert "times in UTC-05:30" in render_plan(west, "markdown")


def test_times_on_another_day_carry_their_date_and_seconds_when_not_zero() -> None:
    base = small_plan()
    late = replace(base.steps[0], due=ts("2026-03-16T09:05:30Z"), due_after=None)
    text = render_plan(replace(base, steps=(late,)), "text")
    assert "  [ ] 2026-03-16 09:05:30  +2d17h5m30s  Declare INC-7" in text


def test_a_time_without_a_date_is_on_the_as_of_day() -> None:
    # Replayed two days later: the step due on the SLA start's day now carries its date.
    plan = small_plan(at=ts("2026-03-15T12:00:00Z"))
    assert "· due 2026-03-13 16:05 (+5m)" in render_plan(plan, "markdown")
    assert "  [ ] 2026-03-13 16:05  +5m" in render_plan(plan, "text")
    assert "· due 16:05 (+5m)" in render_plan(small_plan(), "markdown")


def test_a_dependency_not_in_the_plan_is_marked() -> None:
    base = small_plan()
    waiting = replace(base.steps[0], id="second", depends_on=(base.steps[0].id, "skipped"))
    plan = replace(base, steps=(base.steps[0], waiting))
    first = base.steps[0].id
    assert f"after: {first}, skipped (not in this plan)" in render_plan(plan, "markdown")
    assert f"after: {first}, skipped (not in this plan)" in render_plan(plan, "text")
    assert plan_to_dict(plan)["steps"][1]["dependsOn"] == [first, "skipped"]


def test_calendar_clock_and_overridden_priority() -> None:
    base = small_plan()
    plan = replace(
        base,
        deadlines=replace(base.deadlines, clock="business-hours", respond_overdue=False),
        classification=replace(
            base.classification,
            priority=Decision("P1", "override by rule security/breach"),
            matrix_priority="P3",
        ),
    )
    md = render_plan(plan, "markdown")
    assert "- Clock: calendar business-hours (working hours only), from 2026-03-13T16:00:00Z" in md
    assert "- **Respond by:** 2026-03-13T16:15:00Z (+15m working)\n" in md
    assert "- Priority: P1, decided by override by rule security/breach (the matrix gives P3)" in md
    text = render_plan(plan, "text")
    assert "SLA  clock calendar business-hours (working hours only), from" in text
    assert "  priority   P1         override by rule security/breach (the matrix gives P3)" in text


def test_empty_sections_say_so() -> None:
    plan = small_plan(
        playbooks=(),
        steps=(),
        escalation=EscalationPlan("", True, ()),
        notifications=(),
        priority=PriorityInfo("P4", "Low", ""),
    )
    md = render_plan(plan, "markdown")
    assert "Definition of" not in md
    assert "- Playbooks: none selected" in md
    assert "## Checklist\n\nNo steps.\n" in md
    assert "## Escalation\n\nNo escalation path applies.\n" in md
    assert md.endswith("## Notifications\n\nNo notifications.\n")
    text = render_plan(plan, "text")
    assert "Checklist\n  (no steps)\n" in text
    assert "Escalation  none applies\n" in text
    assert text.endswith("Notifications\n  (none)\n")
    assert "  playbooks  none selected\n" in text


def test_escalation_from_the_policy_without_tiers_or_stop() -> None:
    plan = small_plan(escalation=EscalationPlan("policy", False, ()))
    md = render_plan(plan, "markdown")
    assert "From the policy; continues after acknowledgement.\n\nNo tier applies." in md
    text = render_plan(plan, "text")
    assert "Escalation  from policy · continues after acknowledgement\n  (no tier applies)" in text


def test_cancelled_entries_and_targets_without_names() -> None:
    base = small_plan()
    entry = replace(base.escalation.entries[1], status="cancelled", targets=())
    plan = replace(base, escalation=replace(base.escalation, entries=(entry,)))
    assert "| 16:45 | +45m | 2 | repeat 1 | — | cancelled |" in render_plan(plan, "markdown")
    assert "  16:45  +45m  tier 2 repeat 1  cancelled  —" in render_plan(plan, "text")


def test_notification_without_subject_truncated_with_backticks_in_body() -> None:
    body = "Run:\n````\nkubectl get pods\n````\n\n  indented\n"
    n = RenderedNotification("page", "major", "pager", "pager", (), None, body, True)
    plan = small_plan(notifications=(n,))
    md = render_plan(plan, "markdown")
    assert md.endswith(
        "### page → pager (pager)\n\n"
        "- To: nobody\n"
        "- Body (cut to the channel's limit):\n\n"
        "  `````text\n"
        "  Run:\n"
        "  ````\n"
        "  kubectl get pods\n"
        "  ````\n"
        "\n"
        "    indented\n"
        "  `````\n"
    )
    text = render_plan(plan, "text")
    assert text.endswith(
        "  page → pager (pager)\n"
        "    to       nobody\n"
        "    │ Run:\n"
        "    │ ````\n"
        "    │ kubectl get pods\n"
        "    │ ````\n"
        "    │\n"
        "    │   indented\n"
        "    (cut to the channel's limit)\n"
    )
    data = plan_to_dict(plan)["notifications"][0]
    assert (data["to"], data["subject"], data["truncated"]) == ([], None, True)


def test_only_web_links_become_links() -> None:
    base = small_plan()
    links = (LinkOut("Run", "javascript:alert(1)"), LinkOut("", "https://x.example/a(b)<c>"))
    plan = replace(base, steps=(replace(base.steps[0], links=links),))
    md = render_plan(plan, "markdown")
    assert "  - Link: Run — javascript:alert(1)\n" in md
    assert "  - [https\\://x.example/a(b)\\<c>](<https://x.example/a(b)%3Cc%3E>)\n" in md


def test_explain_without_a_trace_says_how_to_get_one() -> None:
    plan = small_plan()
    assert render_plan(plan, "markdown", explain=True).endswith(
        "## Explain\n\nNo trace was recorded: evaluate with explain=True.\n"
    )
    assert render_plan(plan, "text", explain=True).endswith(
        "Explain\n  no trace was recorded: evaluate with explain=True\n"
    )
    assert "explain" not in plan_to_dict(plan, explain=True)


def test_an_empty_trace() -> None:
    plan = small_plan(trace=Trace((), (), "moderate × medium → P3", ()))
    assert render_plan(plan, "markdown", explain=True).endswith(
        "## Explain\n\n### Playbooks\n\nNo playbooks.\n\n### Classification rules\n\n"
        "No rules evaluated.\n\nMatrix cell: moderate × medium → P3\n\n"
        "### Steps, tiers and notifications\n\nNo items.\n"
    )
    assert render_plan(plan, "text", explain=True).endswith(
        "Explain\n  Playbooks\n    (none)\n  Classification rules\n    (none evaluated)\n"
        "  Matrix cell  moderate × medium → P3\n  Steps, tiers and notifications\n    (none)\n"
    )


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown plan format 'html'"):
        render_plan(small_plan(), "html")


# --- values in the trace ----------------------------------------------------------------


def trace_with_actual(actual: Any) -> Trace:
    condition = leaf("incident.source", "exists", True, actual, True)
    return Trace((PlaybookTrace("major", True, "appliesWhen holds", condition),), (), "", ())


def test_trace_values_become_plain_sorted_json() -> None:
    actual = {
        "b": {2, 1},
        "a": (float("nan"), float("inf"), datetime(2026, 1, 1, tzinfo=UTC)),
        1: b"\xff",
        "t": timedelta(minutes=90),
    }
    plan = small_plan(trace=trace_with_actual(actual))
    data = plan_to_dict(plan, explain=True)
    assert data["explain"]["playbooks"][0]["condition"]["actual"] == {
        "1": "\\xff",
        "a": ["nan", "inf", "2026-01-01T00:00:00Z"],
        "b": [1, 2],
        "t": "1h30m",
    }
    assert json.loads(render_plan(plan, "json", explain=True)) == data
    assert (
        '`incident.source` exists `true` → `{"1": "\\\\xff", "a": ["nan", "inf", '
        '"2026-01-01T00:00:00Z"], "b": [1, 2], "t": "1h30m"}`: true'
    ) in render_plan(plan, "markdown", explain=True)


def test_long_trace_values_are_cut_for_reading_but_whole_in_json() -> None:
    plan = small_plan(trace=trace_with_actual("x" * 500))
    text = render_plan(plan, "text", explain=True)
    assert '→ "' + "x" * 198 + "…: true" in text
    data = plan_to_dict(plan, explain=True)
    assert data["explain"]["playbooks"][0]["condition"]["actual"] == "x" * 500


def test_dict_order_of_data_does_not_change_the_output() -> None:
    one = small_plan(trace=trace_with_actual({"a": 1, "b": [1, {"y": 2, "x": 1}]}))
    two = small_plan(trace=trace_with_actual({"b": [1, {"x": 1, "y": 2}], "a": 1}))
    for fmt in FORMATS:
        assert render_plan(one, fmt, explain=True) == render_plan(two, fmt, explain=True)


# --- hostile data -----------------------------------------------------------------------

HOSTILE = "Pwn\n- [ ] forged [x](http://evil) a|b `tick` \x1b[31mred\u202eevil {{ 7*7 }}"


def hostile_plan() -> Plan:
    base = small_plan()
    note = RenderedNotification(
        "announce", "major", "incident-chat", "chat", (HOSTILE,), HOSTILE, HOSTILE, False
    )
    target = Target("vp-eng", HOSTILE, "")
    entries = (replace(base.escalation.entries[0], targets=(target,)),)
    return replace(
        base,
        incident_id="INC|1",
        incident_title=HOSTILE,
        notifications=(note,),
        escalation=replace(base.escalation, entries=entries),
        errors=(PlanError("lib/major.yaml:3:5", HOSTILE),),
        trace=trace_with_actual(HOSTILE),
    )


MD_HOSTILE = (
    "Pwn\\\\n- [ ] forged [x\\](http\\://evil) a\\|b \\`tick\\` \\\\x1b[31mred\\\\u202eevil "
    "{{ 7\\*7 }}"
)


def test_hostile_values_are_inert_in_markdown() -> None:
    md = render_plan(hostile_plan(), "markdown", explain=True)
    assert md.startswith(f"# INC\\|1 — {MD_HOSTILE}\n")
    assert f"> - At lib/major.yaml:3:5: {MD_HOSTILE}\n" in md
    assert f"| 16:00 | +0m | 1 | first | {MD_HOSTILE} (vp-eng) | **due** |\n" in md
    assert f"- To: {MD_HOSTILE}\n- Subject: {MD_HOSTILE}\n" in md
    # The body is verbatim inside its fence; only the control characters became visible.
    assert (
        "  ```text\n  Pwn\n  - [ ] forged [x](http://evil) a|b `tick` \\x1b[31mred\\u202eevil "
        "{{ 7*7 }}\n  ```\n"
    ) in md
    # A code span fenced by more backticks than the value holds; JSON already escaped \n.
    assert (
        '→ ``"Pwn\\n- [ ] forged [x](http://evil) a|b `tick` \\u001b[31mred\\u202eevil '
        '{{ 7*7 }}"``: true'
    ) in md
    assert "\x1b" not in md and "\u202e" not in md and "49" not in md
    task_lines = [line for line in md.split("\n") if line.startswith("- [ ]")]
    assert len(task_lines) == 3


def test_hostile_values_are_inert_in_text() -> None:
    for color in (False, True):
        text = render_plan(hostile_plan(), "text", explain=True, color=color)
        visible_hostile = (
            "Pwn\\n- [ ] forged [x](http://evil) a|b `tick` \\x1b[31mred\\u202eevil {{ 7*7 }}"
        )
        assert f"INC|1 — {visible_hostile}" in text
        assert f"    subject  {visible_hostile}\n" in text
        assert "    │ - [ ] forged [x](http://evil)" in text
        assert "\u202e" not in text and "49" not in text
        # The only escape sequences are our own colours.
        assert re.sub("\x1b\\[[0-9;]*m", "", text).count("\x1b") == 0


def test_hostile_values_round_trip_in_json() -> None:
    plan = hostile_plan()
    text = render_plan(plan, "json", explain=True)
    assert "\x1b" not in text and "\u202e" not in text
    assert "\\u001b[31m" in text and "\\u202e" in text
    data = json.loads(text)
    assert data["incident"]["title"] == HOSTILE
    assert data["notifications"][0]["body"] == HOSTILE
    assert data == plan_to_dict(plan, explain=True)
    assert list(VALIDATOR.iter_errors(data)) == []


def test_json_is_always_encodable_and_unchanged() -> None:
    odd = "a\ud800b\x85c\u2028d\x9be"
    plan = small_plan(incident_title=odd, trace=trace_with_actual(odd))
    text = render_plan(plan, "json", explain=True)
    text.encode("utf-8")  # lone surrogates would make this raise
    assert "\\ud800" in text and "\\u0085" in text and "\\u2028" in text and "\\u009b" in text
    assert json.loads(text)["incident"]["title"] == odd
    line = dumps([plan_to_dict(plan), plan_to_dict(plan)], indent=None)
    assert line.count("\n") == 1 and line.endswith("\n")  # JSON Lines: one plan list per line
    line.encode("utf-8")
    assert json.loads(line)[1]["incident"]["title"] == odd


# --- schema and determinism -------------------------------------------------------------


def test_schema_is_valid_and_complete() -> None:
    schema = load_schema("plan")
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == "https://playbook-engine.dev/schemas/v1/plan.schema.json"
    assert list(schema["properties"]) == [*SMALL_JSON, "explain"]


@pytest.mark.parametrize("explain", [False, True])
def test_json_validates_against_the_schema(explain: bool) -> None:
    plan = small_plan(
        trace=SMALL_TRACE,
        errors=(PlanError("lib/major.yaml:3:5", "boom"),),
        at=ts("2026-03-13T16:30:00.25+05:45"),
    )
    data = plan_to_dict(plan, explain)
    assert list(VALIDATOR.iter_errors(data)) == []
    assert data["at"] == "2026-03-13T16:30:00.25+05:45"


def test_schema_refuses_what_the_renderer_never_writes() -> None:
    data = plan_to_dict(small_plan(trace=SMALL_TRACE), explain=True)
    broken = json.loads(json.dumps(data))
    broken["steps"][0]["extra"] = 1
    broken["escalation"]["entries"][0]["status"] = "late"
    broken["deadlines"]["respondBy"] = "2026-03-13 16:15"
    del broken["explain"]["rules"][0]["condition"]["operator"]
    messages = sorted(e.message for e in VALIDATOR.iter_errors(broken))
    assert len(messages) == 4
    assert "Additional properties are not allowed ('extra' was unexpected)" in messages


def test_rendering_is_deterministic() -> None:
    for fmt in FORMATS:
        for explain in (False, True):
            first = render_plan(small_plan(trace=SMALL_TRACE), fmt, explain)
            again = render_plan(small_plan(trace=SMALL_TRACE), fmt, explain)
            assert first == again
            assert first.endswith("\n") and not first.endswith("\n\n")


# --- properties -------------------------------------------------------------------------

PIECES = [
    "\n- [ ] ",
    "\r- [ ] x",
    "\r\n* [ ] y",
    "\u2028- [ ] ",
    "- [ ]",
    "```",
    "~~~",
    "|",
    "[x](http://evil)",
    "\x1b[31m",
    "\u202e",
    "\x85",
    "\t",
    "\\",
    "<b>",
    "&amp;",
    "#",
    "\n\n",
    "    ",
    "{{ 7*7 }}",
]
texts = st.lists(st.one_of(st.text(max_size=6), st.sampled_from(PIECES)), max_size=4).map("".join)
moments = st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(9990, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=45))]),
)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=366))
data_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)
conditions = st.recursive(
    st.builds(
        ConditionTrace,
        kind=st.sampled_from(["leaf", "expr"]) | texts,
        result=st.booleans(),
        name=texts,
        field=texts,
        operator=texts,
        expected=data_values,
        actual=data_values,
        note=texts,
        location=texts,
    ),
    lambda inner: st.builds(
        ConditionTrace,
        kind=st.sampled_from(["all", "any", "not"]),
        result=st.booleans(),
        name=texts,
        children=st.lists(inner, max_size=3).map(tuple),
    ),
    max_leaves=5,
)
tuples = st.lists(texts, max_size=2).map(tuple)
offsets = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30))
traces = st.builds(
    Trace,
    playbooks=st.lists(
        st.builds(PlaybookTrace, texts, st.booleans(), texts, st.none() | conditions), max_size=2
    ).map(tuple),
    rules=st.lists(
        st.builds(RuleTrace, texts, texts, st.booleans(), texts, tuples, conditions), max_size=2
    ).map(tuple),
    matrix_cell=texts,
    items=st.lists(
        st.builds(ItemTrace, texts, texts, texts, st.booleans(), texts, st.none() | conditions),
        max_size=2,
    ).map(tuple),
)
plans = st.builds(
    Plan,
    incident_id=texts,
    incident_title=texts,
    at=moments,
    playbooks=st.lists(st.tuples(texts, texts), max_size=2).map(tuple),
    classification=st.builds(
        Classification,
        st.builds(Decision, texts, texts),
        st.builds(Decision, texts, texts),
        st.builds(Decision, texts, texts),
        texts,
    ),
    priority=st.builds(PriorityInfo, texts, texts, texts),
    deadlines=st.builds(
        Deadlines,
        moments,
        offsets,
        offsets,
        moments,
        moments,
        texts,
        st.booleans(),
        st.booleans(),
    ),
    steps=st.lists(
        st.builds(
            PlanStep,
            id=texts,
            playbook=texts,
            title=texts,
            details=texts,
            owner=st.none() | texts,
            owner_name=st.none() | texts,
            due=st.none() | moments,
            due_after=st.none() | offsets,
            overdue=st.booleans(),
            depends_on=tuples,
            links=st.lists(st.builds(LinkOut, texts, texts), max_size=2).map(tuple),
        ),
        min_size=1,
        max_size=3,
    ).map(tuple),
    escalation=st.builds(
        EscalationPlan,
        texts,
        st.booleans(),
        st.lists(
            st.builds(
                EscalationEntry,
                moments,
                durations,
                st.integers(1, 9),
                st.integers(0, 3),
                st.lists(st.builds(Target, texts, texts, texts), max_size=2).map(tuple),
                st.sampled_from(["due", "pending", "cancelled"]) | texts,
            ),
            min_size=1,
            max_size=2,
        ).map(tuple),
    ),
    notifications=st.lists(
        st.builds(
            RenderedNotification,
            texts,
            texts,
            texts,
            texts,
            tuples,
            st.none() | texts,
            texts,
            st.booleans(),
        ),
        min_size=1,
        max_size=2,
    ).map(tuple),
    errors=st.lists(st.builds(PlanError, texts, texts), max_size=2).map(tuple),
    trace=st.none() | traces,
)

# What must never reach a terminal raw (our own colour codes aside).
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=plans, explain=st.booleans(), color=st.booleans())
def test_any_text_renders_safely(plan: Plan, explain: bool, color: bool) -> None:
    md = render_plan(plan, "markdown", explain)
    text = render_plan(plan, "text", explain, color)
    for output in (md, text):
        assert output.endswith("\n") and not output.endswith("\n\n")
        assert UNSAFE.search(re.sub("\x1b\\[[0-9;]*m", "", output)) is None
    # Only the real steps are checklist lines; CommonMark breaks lines at \n and \r alone.
    task_lines = [line for line in md.split("\n") if line.startswith("- [ ]")]
    assert len(task_lines) == len(plan.steps)
    assert all(line.startswith("- [ ] **") for line in task_lines)
    assert not any(line.startswith(("* [ ]", "+ [ ]")) for line in md.split("\n"))
    data = json.loads(render_plan(plan, "json", explain))
    assert data == json.loads(json.dumps(plan_to_dict(plan, explain)))
    assert data["incident"]["title"] == plan.incident_title
    assert render_plan(plan, "markdown", explain) == md


ids = st.from_regex(r"[a-z0-9][a-z0-9-]{0,8}", fullmatch=True)


@settings(max_examples=30, deadline=None)
@given(
    title=texts,
    body=texts,
    actual=data_values,
    at=moments,
    after=durations,
    step_id=ids,
)
def test_json_of_any_text_is_schema_valid(
    title: str, body: str, actual: Any, at: datetime, after: timedelta, step_id: str
) -> None:
    base = small_plan(trace=trace_with_actual(actual))
    entry = replace(base.escalation.entries[0], after=after, at=at)
    plan = replace(
        base,
        incident_title=title,
        at=at,
        steps=(replace(base.steps[0], id=step_id, title=title, details=body),),
        escalation=replace(base.escalation, entries=(entry,)),
        notifications=(replace(base.notifications[0], subject=title, body=body, to=(body,)),),
    )
    assert list(VALIDATOR.iter_errors(plan_to_dict(plan, explain=True))) == []
