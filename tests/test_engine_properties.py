"""Invariants of evaluation on the bundled library, for arbitrary incidents (Hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playbook_engine.compile.compiler import CompiledLibrary
from playbook_engine.engine.evaluation import TAIL_SHARE, evaluate, fit
from playbook_engine.pipeline import load_library
from playbook_engine.render.plans import render_plan
from playbook_engine.timeparse import format_timestamp

LIBRARY = Path(__file__).resolve().parent.parent / "playbooks"

words = st.sampled_from(
    [
        "critical",
        "sev1",
        "p2",
        "high",
        "warning",
        "info",
        "major",
        "production",
        "staging",
        "payments",
        "security",
        "database",
        "outage",
        "performance",
        "checkout-api",
        "payments-api",
        "postgres-main",
        "web-app",
        "true",
        "eu-west-1",
    ]
)
text = st.one_of(words, st.text(max_size=40))
offsets = st.sampled_from([UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5))])
moments = st.builds(
    lambda base, minutes, zone: (base + timedelta(minutes=minutes)).astimezone(zone),
    st.just(datetime(2026, 1, 1, tzinfo=UTC)),
    st.integers(min_value=0, max_value=2 * 366 * 24 * 60),
    offsets,
)


@st.composite
def incidents(draw: st.DrawFn) -> tuple[dict[str, Any], datetime]:
    started = draw(moments)
    incident: dict[str, Any] = {
        "id": draw(st.text(min_size=1, max_size=12)),
        "title": draw(st.one_of(words, st.text(min_size=1, max_size=40))),
        "startedAt": format_timestamp(started),
    }
    optional = {
        "severity": text,
        "service": text,
        "environment": text,
        "description": text,
        "customersAffected": st.integers(min_value=0, max_value=10**7),
        "labels": st.dictionaries(
            st.sampled_from(["category", "team", "customer", "dataClass", "majorIncident", "role"]),
            text,
            max_size=4,
        ),
        "metrics": st.dictionaries(
            st.sampled_from(["errorRate", "p99LatencyMs", "declineRate", "baselineDeclineRate"]),
            st.floats(min_value=0, max_value=5000, allow_nan=False),
            max_size=4,
        ),
        "detectedAt": st.just(format_timestamp(started + timedelta(minutes=3))),
        "acknowledgedAt": st.just(
            format_timestamp(started + timedelta(minutes=draw(st.integers(0, 120))))
        ),
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            incident[name] = draw(strategy)
    at = started + timedelta(minutes=draw(st.integers(min_value=0, max_value=3 * 24 * 60)))
    return incident, at


@pytest.fixture(scope="module")
def compiled() -> CompiledLibrary:
    result = load_library(LIBRARY)
    assert result.compiled is not None and result.ok
    return result.compiled


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=incidents())
def test_evaluation_invariants(
    compiled: CompiledLibrary, case: tuple[dict[str, Any], datetime]
) -> None:
    incident, at = case
    plan = evaluate(compiled, incident, at=at, explain=True)
    # one priority, from the policy, and one playbook at least (the library has a fallback)
    assert plan.priority.id in compiled.priorities
    assert plan.playbooks
    # deadlines never before the SLA start; resolve never before respond for this policy
    assert plan.deadlines.sla_start <= plan.deadlines.respond_by <= plan.deadlines.resolve_by
    # escalation entries strictly later one after another
    times = [entry.at for entry in plan.escalation.entries]
    assert times == sorted(times) and len(set(times)) == len(times)
    # step ids unique
    ids = [step.id for step in plan.steps]
    assert len(ids) == len(set(ids))
    # the library validates, so no template may fail on a schema-valid incident... unless a
    # template reads an optional field without a default: such failures are reported, not lost
    for error in plan.errors:
        assert error.where and error.message
    # deterministic, and rendering never raises
    again = evaluate(compiled, incident, at=at, explain=True)
    for fmt in ("markdown", "text", "json"):
        assert render_plan(plan, fmt, explain=True) == render_plan(again, fmt, explain=True)


@given(st.text(alphabet="ab \n", max_size=300), st.integers(min_value=1, max_value=200))
def test_a_body_cut_to_its_limit_keeps_a_beginning_and_an_end_of_it(body: str, limit: int) -> None:
    cut = fit(body, limit)
    if len(body) <= limit:
        assert cut == body
        return
    assert len(cut) <= limit and "…" in cut
    head, _, tail = cut.partition("…")
    assert body.startswith(head)
    assert body.endswith(tail.removeprefix("\n"))
    assert len(tail) <= limit // TAIL_SHARE + 1


def test_a_long_incident_text_is_cut_before_the_lines_that_end_a_body() -> None:
    body = (
        "P1 Checkout down\n" + "stack trace line\n" * 200 + "Respond by 10:15\nBridge: https://b\n"
    )
    cut = fit(body, 160)
    assert len(cut) <= 160
    assert cut.startswith("P1 Checkout down\nstack trace line\n")
    assert "…\n" in cut and cut.endswith("\nRespond by 10:15\nBridge: https://b\n")
    assert fit("x" * 500, 60) == "x" * 59 + "…"  # one long line: cut at its end
