"""Priorities without SLA targets ("planned", "no SLA"): `respondWithin`/`resolveWithin` may be
left out. The plan then says "no target" in every format, JSON has null and the plan schema
allows it, nothing is overdue, the server sets no breach timers, and status shows none."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import PLAYBOOK, edited_yaml, valid_library
from jsonschema import Draft202012Validator

from playbook_engine.compile.compiler import CompiledLibrary
from playbook_engine.engine.evaluation import evaluate
from playbook_engine.load.schema import load_schema
from playbook_engine.serve.planning import timers_of
from playbook_engine.serve.ports import IncidentRow
from playbook_engine.timeparse import parse_timestamp

BASIC = Path(__file__).parent / "data" / "libraries" / "basic"
AT = "2026-03-20T16:30:00Z"  # a week after the start: any target would be overdue


def library(folder: Path) -> Path:
    shutil.copytree(BASIC, folder)
    with edited_yaml(folder / "policy.yaml") as policy:
        p4 = policy["spec"]["priorities"][3]
        del p4["respondWithin"], p4["resolveWithin"]  # P4: planned work, no target
        del policy["spec"]["priorities"][2]["resolveWithin"]  # P3: respond only
    return folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return library(tmp_path_factory.mktemp("sla") / "lib")


@pytest.fixture(scope="module")
def compiled(folder: Path) -> CompiledLibrary:
    return valid_library(folder)


def incident(**fields: Any) -> dict[str, Any]:
    return {"id": "INC-4", "title": "Renew a certificate", "startedAt": "2026-03-13T16:00:00Z",
            **fields}  # fmt: skip


def test_a_level_without_targets_has_no_deadlines(compiled: CompiledLibrary) -> None:
    plan = evaluate(compiled, incident(environment="staging"), parse_timestamp(AT))  # P4
    assert plan.priority.id == "P4"
    d = plan.deadlines
    assert (d.respond_by, d.resolve_by, d.respond_overdue, d.resolve_overdue) == (
        None, None, False, False,
    )  # fmt: skip
    assert (plan.lifecycle.respond, plan.lifecycle.resolve) == ("none", "none")


def test_a_level_with_one_target_keeps_it(compiled: CompiledLibrary) -> None:
    plan = evaluate(compiled, incident(), parse_timestamp(AT))  # policy defaults: P3
    assert plan.priority.id == "P3"
    assert plan.deadlines.respond_by is not None and plan.deadlines.respond_overdue
    assert plan.deadlines.resolve_by is None and not plan.deadlines.resolve_overdue


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_every_format_says_no_target(folder: Path, tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "inc.json"
    path.write_text(json.dumps(incident(environment="staging")))
    done = subprocess.run(
        [*PLAYBOOK, "run", str(path), "--library", str(folder), "--at", AT, "--format", fmt],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    if fmt == "json":
        plan = json.loads(done.stdout)
        Draft202012Validator(load_schema("plan")).validate(plan)
        assert plan["deadlines"]["respondBy"] is None and plan["deadlines"]["resolveWithin"] is None
        assert plan["lifecycle"]["respond"] == "none"
    else:
        sla = [
            line for line in done.stdout.splitlines() if "espond by" in line or "esolve by" in line
        ]
        assert len(sla) == 2 and all("no target" in line for line in sla), sla
        assert not any("OVERDUE" in line for line in sla)


def test_the_server_sets_no_breach_timers_without_targets(compiled: CompiledLibrary) -> None:
    opened = datetime.fromisoformat("2026-03-13T16:00:00+00:00")
    row = IncidentRow("INC-4", "open", incident(environment="staging"), opened, None, None, 1)
    plan = evaluate(compiled, row.data, parse_timestamp(AT))
    actions = {t.action for t in timers_of(row, plan)}
    assert not any(a.startswith(("sla:", "warn:", "remind:")) for a in actions)


def test_validate_accepts_and_docs_show_no_target(folder: Path, tmp_path: Path) -> None:
    done = subprocess.run([*PLAYBOOK, "validate", str(folder)], capture_output=True, text=True)
    assert " 0 errors" in done.stdout, done.stdout
    docs = subprocess.run(
        [*PLAYBOOK, "docs", "--library", str(folder), "--output", str(tmp_path / "docs")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert docs.returncode == 0, docs.stderr
    assert "no target" in (tmp_path / "docs" / "index.md").read_text()
