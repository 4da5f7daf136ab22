"""Lifecycle semantics (issue #13): what each status means for paging, SLA and the plan, in
every output format; and the checklist in due order."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playbook_engine import evaluate, open_library, plan_to_dict, render_plan
from playbook_engine.compile.compiler import CompiledLibrary
from playbook_engine.engine.evaluation import checklist_order
from playbook_engine.plan import PlanStep

LIBRARY = Path(__file__).resolve().parent.parent / "playbooks"
START = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
P1 = {
    "id": "INC-1",
    "title": "Primary database data directory deleted",
    "startedAt": "2026-03-01T10:00:00Z",
    "service": "postgres-main",
    "severity": "critical",
    "description": "rm -rf on the primary; data loss",
}


@pytest.fixture(scope="module")
def library() -> CompiledLibrary:
    return open_library(LIBRARY)


def plan_at(library: CompiledLibrary, minutes: int, **fields: Any) -> Any:
    return evaluate(library, {**P1, **fields}, START + timedelta(minutes=minutes))


def test_a_resolved_status_without_a_time_pages_nothing(library: CompiledLibrary) -> None:
    plan = plan_at(library, 30, status="resolved")
    assert plan.lifecycle.stage == "resolved" and plan.lifecycle.assumed == ("resolvedAt",)
    assert plan.escalation.entries and {e.status for e in plan.escalation.entries} <= {
        "elapsed",
        "cancelled",
    }
    assert plan.lifecycle.resolve == "met"


def test_the_same_incident_open_pages(library: CompiledLibrary) -> None:
    plan = plan_at(library, 30)
    assert plan.lifecycle.stage == "open"
    assert "due" in {e.status for e in plan.escalation.entries}
    assert plan.lifecycle.respond == "overdue"


@pytest.mark.parametrize(
    ("status", "stage"),
    [
        ("investigating", "acknowledged"),
        ("identified", "acknowledged"),
        ("monitoring", "acknowledged"),
        ("false-alarm", "closed"),
        ("duplicate", "closed"),
        ("not-an-incident", "closed"),
    ],
)
def test_phases_and_dispositions_have_their_stage(
    library: CompiledLibrary, status: str, stage: str
) -> None:
    plan = plan_at(library, 30, status=status)
    assert (plan.lifecycle.status, plan.lifecycle.stage) == (status, stage)
    if stage == "closed":
        assert not any(e.status == "due" for e in plan.escalation.entries)


def test_an_acknowledgement_cancels_the_later_tiers_and_meets_the_response(
    library: CompiledLibrary,
) -> None:
    plan = plan_at(library, 60, acknowledgedAt="2026-03-01T10:04:00Z", status="acknowledged")
    later = [e for e in plan.escalation.entries if e.at >= START + timedelta(minutes=4)]
    assert later and all(e.status == "cancelled" for e in later)
    assert plan.lifecycle.respond == "met"


def test_a_time_after_the_clock_has_not_happened_yet(library: CompiledLibrary) -> None:
    plan = plan_at(library, 30, status="resolved", resolvedAt="2026-03-01T12:00:00Z")
    assert plan.lifecycle.stage == "open" and plan.lifecycle.resolved_at is None


def test_every_format_shows_the_lifecycle(library: CompiledLibrary) -> None:
    plan = plan_at(library, 30, status="monitoring", acknowledgedAt="2026-03-01T10:05:00Z")
    line = "monitoring (acknowledged), acknowledged at 2026-03-01T10:05:00Z; respond met"
    assert f"- Status: {line}" in render_plan(plan, "markdown")
    assert f"status     {line}" in render_plan(plan, "text")
    data = json.loads(render_plan(plan, "json"))
    assert data["lifecycle"] == {
        "status": "monitoring",
        "stage": "acknowledged",
        "acknowledgedAt": "2026-03-01T10:05:00Z",
        "resolvedAt": None,
        "assumed": [],
        "respond": "met",
        "resolve": "open",
    }
    assert plan_to_dict(plan)["lifecycle"] == data["lifecycle"]


@settings(max_examples=60, deadline=None)
@given(
    minutes=st.integers(0, 600),
    resolved_after=st.integers(0, 600),
    status=st.sampled_from(["resolved", "false-alarm", "duplicate", "not-an-incident"]),
)
def test_a_resolved_incident_never_has_a_due_page(
    library: CompiledLibrary, minutes: int, resolved_after: int, status: str
) -> None:
    resolved = START + timedelta(minutes=min(resolved_after, minutes))
    plan = plan_at(
        library, minutes, status=status, resolvedAt=resolved.isoformat().replace("+00:00", "Z")
    )
    assert all(e.status in ("elapsed", "cancelled") for e in plan.escalation.entries)


def _step(ident: str, due: int | None, after: tuple[str, ...] = ()) -> PlanStep:
    moment = None if due is None else START + timedelta(minutes=due)
    return PlanStep(ident, "p", ident, "", None, None, moment, None, False, after, ())


@given(
    dues=st.lists(st.none() | st.integers(0, 100), min_size=1, max_size=8),
    data=st.data(),
)
def test_the_checklist_is_in_due_order_and_respects_depends_on(
    dues: list[int | None], data: st.DataObject
) -> None:
    steps = []
    for i, due in enumerate(dues):
        earlier = [f"s{j}" for j in range(i)]
        after = tuple(data.draw(st.lists(st.sampled_from(earlier), max_size=2))) if earlier else ()
        steps.append(_step(f"s{i}", due, after))
    ordered = checklist_order(steps)
    assert sorted(s.id for s in ordered) == sorted(s.id for s in steps)
    place = {s.id: i for i, s in enumerate(ordered)}
    for step in steps:
        assert all(place[d] < place[step.id] for d in step.depends_on)
    # Without dependencies, due order with ties in authoring order.
    free = checklist_order([_step(s.id, None if s.due is None else 0, ()) for s in steps])
    assert [s.id for s in free] == [s.id for s in steps if s.due is not None] + [
        s.id for s in steps if s.due is None
    ]
