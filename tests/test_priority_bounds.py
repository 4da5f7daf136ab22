"""Floors and ceilings (`priority: {atLeast: P2}`, `{atMost: P3}`): bounds on the priority the
matrix or an override gives, as real policies say ("a customer's requested priority is the
least we give", "if unsure, take the higher severity")."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import PLAYBOOK, edited_yaml, valid_library

from playbook_engine.compile.compiler import CompiledLibrary
from playbook_engine.engine.evaluation import evaluate
from playbook_engine.plan import Plan
from playbook_engine.timeparse import parse_timestamp

BASIC = Path(__file__).parent / "data" / "libraries" / "basic"
AT = parse_timestamp("2026-03-13T16:30:00Z")
RULES = [
    # labels.requested: the priority a customer asked for, the least we give
    {"id": "requested-p2", "when": {"field": "incident.labels.requested", "equals": "P2"},
     "priority": {"atLeast": "P2"}},
    {"id": "requested-p1", "when": {"field": "incident.labels.requested", "equals": "P1"},
     "priority": {"atLeast": "P1"}},
    {"id": "sandbox-at-most-p3", "when": {"field": "incident.labels.sandbox", "equals": "yes"},
     "priority": {"atMost": "P3"}},
    {"id": "demo-at-most-p4", "when": {"field": "incident.labels.demo", "equals": "yes"},
     "priority": {"atMost": "P4"}},
]  # fmt: skip


def library(folder: Path, rules: list[dict[str, Any]]) -> Path:
    shutil.copytree(BASIC, folder)
    with edited_yaml(folder / "policy.yaml") as policy:
        policy["spec"]["classification"]["rules"] += rules
    return folder


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> CompiledLibrary:
    return valid_library(library(tmp_path_factory.mktemp("bounds") / "lib", RULES))


def plan_for(compiled: CompiledLibrary, explain: bool = False, **fields: Any) -> Plan:
    data = {"id": "INC-1", "title": "Checkout failing", "startedAt": "2026-03-13T16:00:00Z"}
    return evaluate(compiled, {**data, **fields}, at=AT, explain=explain)


def test_a_floor_raises_a_less_severe_matrix_priority(compiled: CompiledLibrary) -> None:
    plan = plan_for(compiled, labels={"requested": "P2"})  # policy defaults: P3
    assert (plan.classification.matrix_priority, plan.priority.id) == ("P3", "P2")
    assert plan.classification.priority.decided_by == (
        "matrix[moderate][medium], raised to at least P2 by rule policy/requested-p2"
    )


def test_a_floor_leaves_a_more_severe_priority_alone(compiled: CompiledLibrary) -> None:
    plan = plan_for(compiled, severity="critical", customersAffected=5000,
                    labels={"requested": "P2"})  # fmt: skip
    assert plan.priority.id == "P1"
    assert plan.classification.priority.decided_by == "matrix[extensive][critical]"


def test_a_floor_bounds_an_override_too(compiled: CompiledLibrary) -> None:
    # The plain override ("staging is P4") still replaces the matrix; the floor then holds.
    plan = plan_for(compiled, environment="staging", labels={"requested": "P2"})
    assert plan.priority.id == "P2"
    assert plan.classification.priority.decided_by == (
        "override by rule policy/staging-is-low, raised to at least P2 by rule policy/requested-p2"
    )


def test_a_ceiling_lowers_a_more_severe_priority(compiled: CompiledLibrary) -> None:
    plan = plan_for(compiled, severity="critical", customersAffected=5000,
                    labels={"sandbox": "yes"})  # fmt: skip
    assert (plan.classification.matrix_priority, plan.priority.id) == ("P1", "P3")
    assert plan.classification.priority.decided_by.endswith(
        "lowered to at most P3 by rule policy/sandbox-at-most-p3"
    )


def test_the_most_severe_floor_and_the_most_restrictive_ceiling_count(
    compiled: CompiledLibrary,
) -> None:
    assert plan_for(compiled, labels={"requested": "P1"}).priority.id == "P1"
    high = {"severity": "critical", "customersAffected": 5000}
    both = plan_for(compiled, **high, labels={"sandbox": "yes", "demo": "yes"})
    assert both.priority.id == "P4"


def test_a_floor_wins_over_a_ceiling(compiled: CompiledLibrary) -> None:
    plan = plan_for(compiled, labels={"demo": "yes", "requested": "P2"})
    assert plan.priority.id == "P2"
    assert plan.classification.priority.decided_by == (
        "matrix[moderate][medium], lowered to at most P4 by rule policy/demo-at-most-p4, "
        "raised to at least P2 by rule policy/requested-p2"
    )


def test_explain_names_the_bounding_rules_as_deciding_the_priority(
    compiled: CompiledLibrary,
) -> None:
    plan = plan_for(compiled, explain=True, labels={"requested": "P2"})
    assert plan.trace is not None
    traces = {t.id: t for t in plan.trace.rules}
    assert traces["requested-p2"].decided == ("priority",)
    assert traces["requested-p2"].effect == "priority at least P2"
    assert traces["requested-p1"].decided == ()


def test_an_unknown_bound_is_a_validation_error(tmp_path: Path) -> None:
    rules = [{"id": "r", "when": {"field": "incident.severity", "equals": "x"},
              "priority": {"atLeast": "P9"}}]  # fmt: skip
    folder = library(tmp_path / "lib", rules)
    done = subprocess.run([*PLAYBOOK, "validate", str(folder)], capture_output=True, text=True)
    assert done.returncode == 1
    assert "unknown priority 'P9'" in done.stdout


def test_a_bound_with_both_keys_is_a_schema_error(tmp_path: Path) -> None:
    rules = [{"id": "r", "when": {"field": "incident.severity", "equals": "x"},
              "priority": {"atLeast": "P2", "atMost": "P3"}}]  # fmt: skip
    folder = library(tmp_path / "lib", rules)
    done = subprocess.run([*PLAYBOOK, "validate", str(folder)], capture_output=True, text=True)
    assert done.returncode == 1
    assert "policy.yaml:" in done.stdout and "PB2" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
