"""Procedures: a playbook chosen by what classification computes (`appliesWhen: {field:
priority, equals: P1}`), so "the P1 major-incident procedure" is said once instead of a `when`
on every step. It is tested after classification and cannot classify itself."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import PLAYBOOK, edited_yaml, valid_library

from playbook_engine.compile.compiler import CompiledLibrary
from playbook_engine.engine.evaluation import evaluate
from playbook_engine.pipeline import load_library
from playbook_engine.timeparse import parse_timestamp

BASIC = Path(__file__).parent / "data" / "libraries" / "basic"
AT = parse_timestamp("2026-03-13T16:30:00Z")
PROCEDURE: dict[str, Any] = {
    "apiVersion": "playbook-engine/v1",
    "kind": "Playbook",
    "metadata": {"id": "p1-procedure", "title": "P1 major-incident procedure"},
    "spec": {
        "order": 5,
        "appliesWhen": {"field": "priority", "equals": "P1"},
        "steps": [
            {"id": "bridge", "title": "Open the bridge for {{ incident.id }}",
             "owner": "incident-commander", "due": "5m"},
            {"id": "exec-brief", "title": "Brief the executives", "owner": "incident-commander",
             "due": "30m"},
        ],
    },
}  # fmt: skip


def library(folder: Path, *extra: dict[str, Any]) -> Path:
    shutil.copytree(BASIC, folder)
    for number, document in enumerate(extra):
        (folder / f"extra-{number}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return folder


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> CompiledLibrary:
    return valid_library(library(tmp_path_factory.mktemp("procedures") / "lib", PROCEDURE))


def incident(**fields: Any) -> dict[str, Any]:
    return {"id": "INC-7", "title": "Checkout down", "startedAt": "2026-03-13T16:00:00Z", **fields}


def test_a_p1_gets_the_procedure_in_merge_order(compiled: CompiledLibrary) -> None:
    plan = evaluate(compiled, incident(severity="critical", customersAffected=5000), AT)
    assert plan.priority.id == "P1"
    assert [p for p, _ in plan.playbooks] == ["p1-procedure", "major"]  # order 5, then 10
    ids = [s.id for s in plan.steps]
    assert {"bridge", "exec-brief", "declare"} <= set(ids)
    assert next(s.title for s in plan.steps if s.id == "bridge") == "Open the bridge for INC-7"


def test_a_lower_priority_does_not(compiled: CompiledLibrary) -> None:
    plan = evaluate(compiled, incident(severity="critical"), AT)  # P2
    assert plan.priority.id != "P1"
    assert "p1-procedure" not in [p for p, _ in plan.playbooks]
    assert "bridge" not in [s.id for s in plan.steps]


def test_a_procedure_does_not_stop_the_fallback(compiled: CompiledLibrary) -> None:
    # No regular playbook applies: the fallback does, and the procedure is judged apart.
    plan = evaluate(compiled, incident(), AT)
    assert [p for p, _ in plan.playbooks] == ["triage"]


def test_explain_says_the_procedure_was_chosen_after_classification(
    compiled: CompiledLibrary,
) -> None:
    plan = evaluate(compiled, incident(severity="critical", customersAffected=5000), AT, True)
    assert plan.trace is not None
    found = {t.id: t for t in plan.trace.playbooks}
    assert found["p1-procedure"].selected
    assert found["p1-procedure"].reason == "appliesWhen holds after classification"


def test_the_cached_run_chooses_the_same(tmp_path: Path) -> None:
    folder = library(tmp_path / "lib", PROCEDURE)
    path = tmp_path / "inc.json"
    path.write_text(json.dumps(incident(severity="critical", customersAffected=5000)))
    env = {**os.environ, "PLAYBOOK_CACHE_DIR": str(tmp_path / "cache")}
    command = [*PLAYBOOK, "run", str(path), "--library", str(folder), "--at",
               "2026-03-13T16:30:00Z", "--format", "json"]  # fmt: skip
    runs = [subprocess.run(command, capture_output=True, text=True, env=env) for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr
    assert runs[0].stdout == runs[1].stdout
    assert "p1-procedure" in [p["id"] for p in json.loads(runs[1].stdout)["playbooks"]]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"classification": {"rules": [{"id": "r", "when": {"field": "incident.x",
          "equals": "y"}, "set": {"urgency": "high"}}]}}, "it has classification rules"),
        ({"fallback": True}, "it is a fallback"),
    ],
)  # fmt: skip
def test_a_procedure_cannot_classify_or_be_a_fallback(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    document = json.loads(json.dumps(PROCEDURE))
    document["spec"].update(change)
    folder = library(tmp_path / "lib", document)
    done = subprocess.run([*PLAYBOOK, "validate", str(folder)], capture_output=True, text=True)
    assert done.returncode == 1
    assert "PB321" in done.stdout and message in done.stdout


def test_a_procedure_need_not_page_anyone_itself(tmp_path: Path) -> None:
    """PB506 ('pages nobody') judges the playbooks an incident selects; a procedure joins
    them, and the page is the first one's with an escalation (or the policy's)."""
    plain = json.loads(json.dumps(PROCEDURE))
    plain["metadata"]["id"] = "selected-by-service"
    plain["spec"]["appliesWhen"] = {"field": "incident.service", "equals": "checkout"}
    folder = library(tmp_path / "lib", PROCEDURE, plain)
    with edited_yaml(folder / "policy.yaml") as policy:
        del policy["spec"]["escalation"]  # no default: a playbook without its own pages nobody
    silent = [d.message for d in load_library(folder).diagnostics if d.code == "PB506"]
    assert any("'selected-by-service'" in m for m in silent)
    assert not any("'p1-procedure'" in m for m in silent)
