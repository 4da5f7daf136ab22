"""ITIL's matrix need not be square: TOPdesk's published scheme has five impact levels
(organization, location, department, team, person) and three urgencies (critical, normal,
low). Any impact × urgency shape validates, every cell is reachable, and a missing cell is
named (PB304). The cells below are this test's own: the scheme's published text gives the
levels, not the cells."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import PLAYBOOK, edited_yaml

from playbook_engine import evaluate, open_library

IMPACTS = ["organization", "location", "department", "team", "person"]
URGENCIES = ["critical", "normal", "low"]


def cell(impact: int, urgency: int) -> str:
    return f"P{impact + urgency + 1}"  # P1 (organization, critical) ... P7 (person, low)


@pytest.fixture()
def library(tmp_path: Path) -> Path:
    target = tmp_path / "lib"
    subprocess.run([*PLAYBOOK, "init", str(target)], check=True, capture_output=True)
    shutil.rmtree(target / "tests")  # its cases name the minimal policy's levels
    with edited_yaml(target / "triage.yaml") as playbook:
        del playbook["spec"]["classification"]
    with edited_yaml(target / "policy.yaml") as doc:
        spec: dict[str, Any] = doc["spec"]
        spec["priorities"] = [
            {"id": f"P{n}", "name": f"Priority {n}", "respondWithin": f"{n}h",
             "resolveWithin": f"{4 * n}h"}
            for n in range(1, 8)
        ]  # fmt: skip
        spec["impacts"] = [{"id": i, "description": f"affects a {i}"} for i in IMPACTS]
        spec["urgencies"] = [{"id": u, "description": u} for u in URGENCIES]
        spec["matrix"] = {
            impact: {urgency: cell(i, u) for u, urgency in enumerate(URGENCIES)}
            for i, impact in enumerate(IMPACTS)
        }
        spec["classification"] = {
            "rules": [
                {"id": f"impact-{i}", "when": {"field": "incident.labels.impact", "equals": i},
                 "set": {"impact": i}}
                for i in IMPACTS
            ] + [
                {"id": f"urgency-{u}", "when": {"field": "incident.labels.urgency", "equals": u},
                 "set": {"urgency": u}}
                for u in URGENCIES
            ],
            "defaults": {"impact": "team", "urgency": "normal"},
        }  # fmt: skip
    return target


def test_a_five_by_three_matrix_validates_and_every_cell_is_reached(library: Path) -> None:
    done = subprocess.run(
        [*PLAYBOOK, "validate", str(library)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout
    compiled = open_library(library)
    at = "2026-03-02T12:00:00Z"
    from playbook_engine.timeparse import parse_timestamp

    for i, impact in enumerate(IMPACTS):
        for u, urgency in enumerate(URGENCIES):
            incident = {"id": "INC-1", "title": "t", "startedAt": "2026-03-02T11:00:00Z",
                        "labels": {"impact": impact, "urgency": urgency}}  # fmt: skip
            plan = evaluate(compiled, incident, parse_timestamp(at))
            assert plan.priority.id == cell(i, u)
            assert plan.classification.priority.decided_by == f"matrix[{impact}][{urgency}]"


def test_a_missing_cell_of_a_non_square_matrix_is_named(library: Path) -> None:
    with edited_yaml(library / "policy.yaml") as doc:
        del doc["spec"]["matrix"]["department"]["low"]
    done = subprocess.run(
        [*PLAYBOOK, "validate", str(library)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "PB304 matrix has no priority for impact 'department' × urgency 'low'" in done.stdout
    assert yaml.safe_load((library / "policy.yaml").read_text())["spec"]["impacts"]
