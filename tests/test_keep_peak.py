"""Severity never goes down after mitigation: with the policy's `classification.keepPeak`, the
incident's peak priority (which the incident store records and passes on) is a floor."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import PLAYBOOK, edited_yaml
from storekit import LIBRARY, at, write_incident

from playbook_engine.engine.evaluation import evaluate
from playbook_engine.pipeline import load_library
from playbook_engine.timeparse import parse_timestamp

BASIC = Path(__file__).parent / "data" / "libraries" / "basic"


def keeping_peak(source: Path, folder: Path) -> Path:
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns(".playbook"))
    with edited_yaml(folder / "policy.yaml") as policy:
        policy["spec"]["classification"]["keepPeak"] = True
    return folder


@pytest.mark.parametrize("keep", [True, False])
def test_the_peak_is_a_floor_only_when_the_policy_keeps_it(tmp_path: Path, keep: bool) -> None:
    folder = keeping_peak(BASIC, tmp_path / "lib") if keep else BASIC
    result = load_library(folder)
    assert result.compiled is not None
    data = {"id": "I", "title": "t", "startedAt": "2026-03-13T16:00:00Z", "peakPriority": "P1"}
    plan = evaluate(result.compiled, data, parse_timestamp("2026-03-13T16:30:00Z"))
    assert plan.priority.id == ("P1" if keep else "P3")
    if keep:
        assert plan.classification.priority.decided_by == (
            "matrix[moderate][medium], kept at its peak P1 (policy keepPeak)"
        )


def test_the_store_keeps_the_peak_after_a_downgrade(tmp_path: Path) -> None:
    library = keeping_peak(LIBRARY, tmp_path / "lib")
    store = str(tmp_path / "store.sqlite")

    def run(*args: str) -> str:
        done = subprocess.run(
            [*PLAYBOOK, *args, "--store", store, "--library", str(library)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("incident", "open", str(write_incident(tmp_path)), "--at", at(3))
    run("incident", "set", "INC-7", "severity=minor", "customersAffected=1", "--at", at(20))
    (row,) = json.loads(run("status", "--at", at(21), "--format", "json"))["incidents"]
    assert (row["priority"], row["peak"]) == ("P1", "P1")
