"""The decision that an event is not an incident: a priority level with `incident: false`
(false alarm, below every threshold, an empty cell of a matrix). Its plan pages nobody and says
so in every format; steps may still be chosen for it (close as a false alarm)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import PLAYBOOK, edited_yaml, valid_library

from playbook_engine.compile.compiler import CompiledLibrary
from playbook_engine.engine.evaluation import evaluate
from playbook_engine.timeparse import parse_timestamp

BASIC = Path(__file__).parent / "data" / "libraries" / "basic"
AT = parse_timestamp("2026-03-13T16:30:00Z")


def library(folder: Path, last: bool = True) -> Path:
    shutil.copytree(BASIC, folder)
    with edited_yaml(folder / "policy.yaml") as policy:
        spec = policy["spec"]
        level = {"id": "NONE", "name": "Not an incident", "incident": False}
        spec["priorities"].insert(len(spec["priorities"]) if last else 0, level)
        spec["matrix"]["minor"]["low"] = "NONE"  # an empty cell of the matrix
        spec["classification"]["rules"] += [
            {"id": "false-alarm",
             "when": {"field": "incident.labels.verdict", "equals": "false-alarm"},
             "priority": "NONE"},
            {"id": "customer-asked", "when": {"field": "incident.labels.requested", "equals": "P3"},
             "priority": {"atLeast": "P3"}},
        ]  # fmt: skip
    with edited_yaml(folder / "triage.yaml") as triage:
        triage["spec"]["steps"].append(
            {"id": "close-as-false-alarm", "title": "Close as a false alarm", "owner": "responder",
             "when": {"field": "priority", "equals": "NONE"}}
        )  # fmt: skip
    return folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return library(tmp_path_factory.mktemp("none") / "lib")


@pytest.fixture(scope="module")
def compiled(folder: Path) -> CompiledLibrary:
    return valid_library(folder)


def incident(**fields: Any) -> dict[str, Any]:
    return {"id": "INC-9", "title": "Disk alert", "startedAt": "2026-03-13T16:00:00Z", **fields}


def test_a_false_alarm_pages_nobody(compiled: CompiledLibrary) -> None:
    plan = evaluate(compiled, incident(labels={"verdict": "false-alarm"}), AT)
    assert (plan.priority.id, plan.priority.incident) == ("NONE", False)
    assert plan.escalation.entries == ()
    assert "close-as-false-alarm" in [s.id for s in plan.steps]
    assert plan.deadlines.respond_by is None


def test_an_incident_gets_no_false_alarm_step(compiled: CompiledLibrary) -> None:
    plan = evaluate(compiled, incident(), AT)
    assert plan.priority.incident
    assert "close-as-false-alarm" not in [s.id for s in plan.steps]
    assert plan.escalation.entries


def test_a_floor_makes_it_an_incident_again(compiled: CompiledLibrary) -> None:
    plan = evaluate(compiled, incident(labels={"verdict": "false-alarm", "requested": "P3"}), AT)
    assert (plan.priority.id, plan.priority.incident) == ("P3", True)


@pytest.mark.parametrize(("fmt", "said"), [("text", "NOT AN INCIDENT"),
                                           ("markdown", "**Not an incident**")])  # fmt: skip
def test_the_plan_says_so(folder: Path, tmp_path: Path, fmt: str, said: str) -> None:
    path = tmp_path / "inc.json"
    path.write_text(json.dumps(incident(labels={"verdict": "false-alarm"})))
    command = [*PLAYBOOK, "run", str(path), "--library", str(folder), "--at",
               "2026-03-13T16:30:00Z"]  # fmt: skip
    done = subprocess.run([*command, "--format", fmt], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert said in done.stdout
    as_json = subprocess.run([*command, "--format", "json"], capture_output=True, text=True)
    plan = json.loads(as_json.stdout)
    assert plan["priority"]["incident"] is False and plan["escalation"]["entries"] == []


def test_a_not_an_incident_level_must_come_last(tmp_path: Path) -> None:
    folder = library(tmp_path / "lib", last=False)
    done = subprocess.run([*PLAYBOOK, "validate", str(folder)], capture_output=True, text=True)
    assert done.returncode == 1
    assert "PB322" in done.stdout and "put the 'not an incident' levels last" in done.stdout
