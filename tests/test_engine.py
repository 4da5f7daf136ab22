"""The engine on a small library: selection, classification, deadlines, steps, escalation."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from playbook_engine.compile.compiler import CompiledLibrary
from playbook_engine.diagnostics import InputError
from playbook_engine.engine.evaluation import evaluate
from playbook_engine.pipeline import load_library
from playbook_engine.plan import Plan
from playbook_engine.timeparse import parse_timestamp

LIBRARY = Path(__file__).parent / "data" / "libraries" / "basic"
AT = parse_timestamp("2026-03-13T16:30:00Z")


@pytest.fixture(scope="module")
def compiled() -> CompiledLibrary:
    result = load_library(LIBRARY)
    assert [d for d in result.diagnostics if d.is_error] == []
    assert result.compiled is not None
    return result.compiled


def incident(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "INC-1",
        "title": "Checkout failing",
        "startedAt": "2026-03-13T16:00:00Z",
    }
    base.update(fields)
    return base


def plan_for(compiled: CompiledLibrary, explain: bool = False, **fields: Any) -> Plan:
    return evaluate(compiled, incident(**fields), at=AT, explain=explain)


def test_major_payments_incident_is_p1_with_merged_steps(compiled: CompiledLibrary) -> None:
    plan = plan_for(compiled, severity="critical", service="payments-api", customersAffected=1500)
    assert [p for p, _ in plan.playbooks] == ["major", "payments"]
    c = plan.classification
    assert (c.impact.value, c.impact.decided_by) == ("extensive", "rule major/many-customers")
    assert (c.urgency.value, c.urgency.decided_by) == ("critical", "rule major/critical-urgency")
    assert plan.priority.id == "P1"
    # The checklist is in due order (5m, 10m, 15m, 3d), not merge order (#13).
    assert [(s.playbook, s.id) for s in plan.steps] == [
        ("major", "declare"),
        ("payments", "check-provider"),
        ("major", "status-page"),
        ("major", "review"),
    ]
    assert plan.steps[0].title == "Declare INC-1 as P1"
    assert plan.steps[0].due == parse_timestamp("2026-03-13T16:05:00Z")
    assert plan.steps[0].owner_name == "Incident Commander"
    assert plan.deadlines.respond_by == parse_timestamp("2026-03-13T16:15:00Z")
    assert plan.deadlines.respond_overdue is True
    assert plan.deadlines.resolve_by == parse_timestamp("2026-03-13T20:00:00Z")


def test_a_resolved_incident_is_judged_at_its_resolution(compiled: CompiledLibrary) -> None:
    # P1 (respond 15m, resolve 4h), steps due at 5m, 15m, ...; the clock is 16:30.
    fields = {"severity": "critical", "customersAffected": 1500}
    quick = plan_for(compiled, resolvedAt="2026-03-13T16:10:00Z", status="resolved", **fields)
    assert quick.deadlines.respond_overdue is False  # resolving answered it, unacknowledged
    assert quick.deadlines.resolve_overdue is False
    assert [s.id for s in quick.steps if s.overdue] == ["declare"]  # due 16:05, before 16:10
    late = plan_for(compiled, resolvedAt="2026-03-13T16:20:00Z", **fields)
    assert late.deadlines.respond_overdue is True
    assert [s.id for s in late.steps if s.overdue] == ["declare", "status-page"]
    # Resolved after the clock: at the clock it was still open, so it is judged at the clock.
    future = plan_for(compiled, resolvedAt="2026-03-13T23:00:00Z", **fields)
    assert future.deadlines.respond_overdue is True
    assert future.deadlines.resolve_overdue is False
    acked_later = plan_for(compiled, acknowledgedAt="2026-03-13T17:00:00Z", **fields)
    assert acked_later.deadlines.respond_overdue is True


def test_escalation_repeats_from_the_named_tier(compiled: CompiledLibrary) -> None:
    plan = plan_for(compiled, severity="critical", customersAffected=1500)
    assert plan.escalation.source == "major"
    timeline = [
        (e.after, e.tier, e.cycle, tuple(t.id for t in e.targets), e.status)
        for e in plan.escalation.entries
    ]
    minutes = timedelta(minutes=1)
    assert timeline == [
        (0 * minutes, 1, 0, ("sre-primary",), "due"),
        (10 * minutes, 2, 0, ("sre-secondary",), "due"),
        (20 * minutes, 3, 0, ("payments-primary",), "due"),
        (35 * minutes, 2, 1, ("sre-secondary",), "pending"),
        (45 * minutes, 3, 1, ("payments-primary",), "pending"),
        (60 * minutes, 2, 2, ("sre-secondary",), "pending"),
        (70 * minutes, 3, 2, ("payments-primary",), "pending"),
    ]


def test_acknowledgement_cancels_later_tiers(compiled: CompiledLibrary) -> None:
    plan = plan_for(compiled, severity="critical", acknowledgedAt="2026-03-13T16:12:00Z")
    statuses = [(e.after.seconds // 60, e.status) for e in plan.escalation.entries]
    assert statuses[:2] == [(0, "due"), (10, "due")]
    assert all(status == "cancelled" for _, status in statuses[2:])


def test_an_acknowledgement_after_the_clock_cancels_nothing_yet(compiled: CompiledLibrary) -> None:
    # The clock is 16:30; acknowledged at 16:40: at 16:30 every tier still stands.
    plan = plan_for(compiled, severity="critical", acknowledgedAt="2026-03-13T16:40:00Z")
    assert "cancelled" not in {e.status for e in plan.escalation.entries}
    resolved = plan_for(compiled, severity="critical", resolvedAt="2026-03-13T17:00:00Z")
    assert "cancelled" not in {e.status for e in resolved.escalation.entries}


def test_a_resolution_or_acknowledgement_before_the_start_is_refused(
    compiled: CompiledLibrary,
) -> None:
    for name in ("acknowledgedAt", "resolvedAt"):
        with pytest.raises(InputError) as caught:
            plan_for(compiled, **{name: "2026-03-13T15:00:00Z"})
        [problem] = caught.value.diagnostics
        assert (problem.code, problem.pointer) == ("IN107", f"/{name}")
        assert (
            problem.message
            == f"{name} 2026-03-13T15:00:00Z is before startedAt 2026-03-13T16:00:00Z"
        )


def test_tier_condition_drops_tier_for_lower_priority(compiled: CompiledLibrary) -> None:
    plan = plan_for(compiled, severity="sev1")  # major applies; urgency default → P3
    assert plan.priority.id == "P3"
    assert {e.tier for e in plan.escalation.entries} == {1, 2}


def test_override_wins_over_matrix(compiled: CompiledLibrary) -> None:
    plan = plan_for(compiled, severity="critical", environment="staging", customersAffected=5000)
    assert plan.classification.matrix_priority == "P1"
    assert plan.priority.id == "P4"
    assert plan.classification.priority.decided_by == "override by rule policy/staging-is-low"


def test_fallback_and_business_hours_deadlines(compiled: CompiledLibrary) -> None:
    plan = plan_for(compiled)  # Friday 16:00 London (GMT): nothing applies
    assert [p for p, _ in plan.playbooks] == ["triage"]
    assert plan.classification.priority.decided_by == "matrix[moderate][medium]"
    assert plan.priority.id == "P3"
    assert plan.deadlines.clock == "office"
    # 1h on Friday (16:00-17:00), then 3h from Monday 09:00.
    assert plan.deadlines.respond_by == parse_timestamp("2026-03-16T12:00:00Z")
    assert [s.id for s in plan.steps] == ["triage"]
    assert plan.escalation.source == "policy"


def test_playbook_defaults_come_before_policy_defaults(compiled: CompiledLibrary) -> None:
    plan = plan_for(compiled, labels={"team": "PAYMENTS"})
    assert [p for p, _ in plan.playbooks] == ["payments"]
    assert plan.classification.impact.decided_by == "defaults of playbook payments"
    assert plan.classification.urgency.decided_by == "policy defaults"


def test_numeric_between_leaf(compiled: CompiledLibrary) -> None:
    plan = plan_for(compiled, service="payments-api", metrics={"declineRate": 0.35})
    assert plan.classification.impact.decided_by == "rule payments/declines"
    assert plan.priority.id == "P2"
    with pytest.raises(
        InputError, match="metrics/declineRate: PB204 metrics.declineRate: expected a number"
    ):
        plan_for(compiled, service="payments-api", metrics={"declineRate": "35%"})


def test_incident_text_is_data_and_escaped_per_channel(compiled: CompiledLibrary) -> None:
    title = "{{ 7*7 }} <script>alert(1)</script> @channel <!here>"
    plan = plan_for(compiled, severity="critical", customersAffected=1500, title=title)
    by_id = {n.id: n for n in plan.notifications}
    assert "{{ 7*7 }}" in by_id["announce"].body and "49" not in by_id["announce"].body
    assert "<!here>" not in by_id["announce"].body
    assert "@channel" not in by_id["announce"].body
    assert "<script>" not in by_id["execs"].body
    assert "&lt;script&gt;" in by_id["execs"].body
    assert by_id["execs"].subject is not None and "\n" not in by_id["execs"].subject
    assert by_id["announce"].to == ("#incidents",)


def test_channel_length_limit_truncates(compiled: CompiledLibrary) -> None:
    plan = plan_for(compiled, severity="critical", description="x" * 500)
    page = next(n for n in plan.notifications if n.id == "page")
    assert page.truncated and len(page.body) == 60 and page.body.endswith("…")


def test_missing_optional_field_without_default_is_an_error_not_silence(
    compiled: CompiledLibrary,
) -> None:
    plan = plan_for(compiled, labels={"team": "payments"})  # check-provider uses incident.service
    step = next(s for s in plan.steps if s.id == "check-provider")
    assert step.title.startswith("[template error")
    assert plan.errors and "service" in plan.errors[0].message


def test_explain_traces_every_decision(compiled: CompiledLibrary) -> None:
    plan = plan_for(compiled, explain=True, severity="critical", customersAffected=10)
    trace = plan.trace
    assert trace is not None
    assert {(p.id, p.selected) for p in trace.playbooks} == {
        ("major", True),
        ("payments", False),
        ("triage", False),
    }
    many = next(r for r in trace.rules if r.id == "many-customers")
    assert many.matched is False
    leaf = many.condition
    assert (leaf.field, leaf.operator, leaf.expected, leaf.actual) == (
        "incident.customersAffected",
        "greaterOrEqual",
        1000,
        10,
    )
    assert trace.matrix_cell == "moderate × critical → P2"
    kept = {(i.kind, i.id): i.kept for i in trace.items}
    assert kept[("step", "status-page")] is True


def test_same_inputs_give_equal_plans(compiled: CompiledLibrary) -> None:
    a = plan_for(compiled, explain=True, severity="critical")
    b = plan_for(compiled, explain=True, severity="critical")
    assert a == b


def test_invalid_incident_data_is_an_input_error(compiled: CompiledLibrary) -> None:
    with pytest.raises(InputError) as caught:
        evaluate(compiled, {"id": "x", "title": "t", "startedAt": "2026-03-13T16:00:00"}, at=AT)
    assert "offset" in str(caught.value)


def test_clock_is_only_what_is_passed_in(compiled: CompiledLibrary) -> None:
    later = evaluate(
        compiled,
        incident(severity="critical"),
        at=datetime.fromisoformat("2026-03-13T18:00:00+00:00"),
    )
    assert all(e.status == "due" for e in later.escalation.entries)


def test_failing_expression_is_false_and_reported(tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "lib"
    shutil.copytree(LIBRARY, root)
    payments = root / "payments.yaml"
    payments.write_text(
        payments.read_text().replace(
            "      - {field: incident.service, equals: payments-api}\n",
            "      - {expr: 'incident.metrics.declineRate > 0.2'}\n",
        )
    )
    result = load_library(root)
    assert result.compiled is not None and result.ok, result.diagnostics
    plan = evaluate(result.compiled, incident(), at=AT)
    assert [p for p, _ in plan.playbooks] == ["triage"]
    assert [(e.where, e.message) for e in plan.errors] == [
        (
            f"{root}/payments.yaml:11:16",
            "expression failed, counted as false: 'incident' has no attribute 'metrics'",
        )
    ]
    explained = evaluate(result.compiled, incident(), at=AT, explain=True)
    assert explained.errors == plan.errors  # --explain never changes the errors or exit code
    matched = evaluate(
        result.compiled, incident(service="pay", metrics={"declineRate": 0.5}), at=AT
    )
    assert [p for p, _ in matched.playbooks] == ["payments"] and matched.errors == ()


def test_plans_leave_no_cyclic_garbage(compiled: CompiledLibrary) -> None:
    """The `playbook` script runs with the cyclic collector off (cli.console): evaluating and
    rendering, as a --jsonl batch does per line, must leave no cycles only it would free.
    (Indented JSON, written once per process, leaves a few: json's Python encoder.)"""
    import gc

    from playbook_engine.jsonio import dumps
    from playbook_engine.render.plans import plan_to_dict, render_plan

    plan_for(compiled, explain=True, severity="critical")  # compile what the loop renders
    gc.collect()
    gc.disable()
    try:
        for severity in ("critical", "sev1", "low"):
            plan = plan_for(compiled, explain=True, severity=severity)
            render_plan(plan, "markdown", True, False)
            render_plan(plan, "text", True, False)
            dumps(plan_to_dict(plan, True), indent=None)
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_deadlines_in_templates_are_in_the_clocks_offset() -> None:
    """The plan shows times in the offset of --at; a template's deadlines must agree."""
    from playbook_engine.pipeline import load_library as load

    bundled = load(Path(__file__).parent.parent / "playbooks").compiled
    assert bundled is not None
    incident = Path(__file__).parent.parent / "playbooks" / "incidents" / "08-vague-report.yaml"
    import yaml

    data = yaml.safe_load(incident.read_text())
    assert data["startedAt"].endswith("+01:00")
    plan = evaluate(bundled, data, parse_timestamp("2026-06-12T16:00:00Z"))
    texts = [s.details for s in plan.steps] + [n.body for n in plan.notifications]
    shown = [t for t in texts if "2026-06-15T" in t]
    assert shown and all("2026-06-15T11:25:00Z" in t for t in shown if "11:25" in t)
    assert not any("+01:00" in t for t in shown)


def test_every_field_validate_allows_in_templates_is_there_at_run_time(tmp_path: Path) -> None:
    """compiler.TEMPLATE_FIELDS (what PB404 accepts) must name what the engine provides."""
    import shutil

    from playbook_engine.compile.compiler import TEMPLATE_FIELDS, TEXT_ROOTS

    library = tmp_path / "lib"
    shutil.copytree(LIBRARY, library)
    reads = [f"{root}.{name}" for root, names in TEMPLATE_FIELDS.items() for name in names]
    title = " ".join("{{ " + path + " }}" for path in [*reads, *sorted(TEXT_ROOTS)])
    (library / "fields.yaml").write_text(
        "apiVersion: playbook-engine/v1\nkind: Playbook\nmetadata: {id: fields, title: F}\n"
        "spec:\n  appliesWhen: {field: incident.service, equals: fields}\n  steps:\n"
        f"    - {{id: all, title: {json.dumps(title)}}}\n"
    )
    result = load_library(library)
    assert [d for d in result.diagnostics if d.is_error] == []
    assert result.compiled is not None
    # Every moment given (and before the clock), so that every `elapsed` field is there.
    moments = {"detectedAt": "2026-03-13T16:05:00Z", "acknowledgedAt": "2026-03-13T16:10:00Z",
               "resolvedAt": "2026-03-13T16:20:00Z"}  # fmt: skip
    plan = evaluate(result.compiled, incident(service="fields", title="T", **moments), at=AT)
    assert plan.errors == ()
    assert [s.title for s in plan.steps if s.id == "all"][0].count("[template error") == 0
