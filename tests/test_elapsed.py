"""Time in conditions and templates: the `elapsed` root (minutes as of the clock), so rules
such as "unresolved after an hour" can be said, deterministically for `--at`."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import PLAYBOOK, edited_yaml, valid_library
from hypothesis import given
from hypothesis import strategies as st

from playbook_engine.compile.compiler import CompiledLibrary
from playbook_engine.engine.elapsed import elapsed
from playbook_engine.engine.evaluation import evaluate
from playbook_engine.engine.lifecycle import lifecycle
from playbook_engine.load.incident import build_incident, pointer_span
from playbook_engine.timeparse import format_timestamp, parse_timestamp

BASIC = Path(__file__).parent / "data" / "libraries" / "basic"
START = "2026-03-13T16:00:00Z"
RULES = [
    {"id": "unresolved-after-an-hour", "when": {"field": "elapsed.sinceStart", "greaterThan": "1h"},
     "set": {"urgency": "high"}},
]  # fmt: skip
LATE_ACK_STEP = {
    "id": "explain-late-ack",
    "title": "Explain the acknowledgement after {{ elapsed.toAcknowledge }} minutes",
    "owner": "responder",
    "when": {"expr": "elapsed.toAcknowledge is defined and elapsed.toAcknowledge > 15"},
}


def library(folder: Path) -> Path:
    shutil.copytree(BASIC, folder)
    with edited_yaml(folder / "policy.yaml") as policy:
        policy["spec"]["classification"]["rules"] += RULES
    with edited_yaml(folder / "triage.yaml") as triage:
        triage["spec"]["steps"].append(LATE_ACK_STEP)
    return folder


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> CompiledLibrary:
    return valid_library(library(tmp_path_factory.mktemp("elapsed") / "lib"))


def incident(**fields: Any) -> Any:
    data = {"id": "INC-1", "title": "Checkout failing", "startedAt": START, **fields}
    return build_incident(data, pointer_span("<t>"))


def elapsed_at(given: Any, at: Any) -> dict[str, float]:
    return elapsed(given, at, lifecycle(given, at))


def test_elapsed_is_minutes_as_of_the_clock() -> None:
    found = elapsed_at(
        incident(detectedAt="2026-03-13T16:10:00Z", acknowledgedAt="2026-03-13T16:40:00Z",
                 resolvedAt="2026-03-13T18:00:00Z"),
        parse_timestamp("2026-03-13T17:00:00Z"),
    )  # fmt: skip
    # The resolution comes after the clock: it has not happened yet.
    assert found == {
        "sinceStart": 60.0,
        "sinceDetected": 50.0,
        "sinceAcknowledged": 20.0,
        "toAcknowledge": 30.0,  # from the SLA start, detectedAt
    }


@given(st.integers(0, 10**6), st.integers(0, 10**6))
def test_elapsed_since_start_is_the_clock_minus_the_start(minutes: int, ack: int) -> None:
    start = parse_timestamp(START)
    at = start + timedelta(minutes=minutes)
    acked = format_timestamp(start + timedelta(minutes=ack))
    found = elapsed_at(incident(acknowledgedAt=acked), at)
    assert found["sinceStart"] == minutes
    assert ("toAcknowledge" in found) is (ack <= minutes)


def test_a_status_without_its_time_happened_at_the_clock() -> None:
    at = parse_timestamp("2026-03-13T17:00:00Z")
    found = elapsed_at(incident(status="resolved"), at)
    assert (found["sinceResolved"], found["toResolve"]) == (0.0, 60.0)  # as the plan says
    assert "sinceResolved" not in elapsed_at(incident(status="triggered"), at)
    later = elapsed_at(incident(status="resolved", resolvedAt="2026-03-13T18:00:00Z"), at)
    assert "sinceResolved" not in later  # a resolution after the clock has not happened yet


def test_a_rule_reads_the_clock(compiled: CompiledLibrary) -> None:
    early = evaluate(compiled, incident(), parse_timestamp("2026-03-13T16:30:00Z"))
    late = evaluate(compiled, incident(), parse_timestamp("2026-03-13T17:30:00Z"))
    assert early.classification.urgency.value == "medium"
    assert late.classification.urgency.value == "high"
    assert late.classification.urgency.decided_by == "rule policy/unresolved-after-an-hour"
    assert (early.priority.id, late.priority.id) == ("P3", "P3") or early != late


def test_steps_and_templates_read_elapsed(compiled: CompiledLibrary) -> None:
    at = parse_timestamp("2026-03-13T17:00:00Z")
    prompt = evaluate(compiled, incident(acknowledgedAt="2026-03-13T16:05:00Z"), at)
    slow = evaluate(compiled, incident(acknowledgedAt="2026-03-13T16:20:00Z"), at)
    assert "explain-late-ack" not in [s.id for s in prompt.steps]
    step = next(s for s in slow.steps if s.id == "explain-late-ack")
    assert step.title == "Explain the acknowledgement after 20.0 minutes"


def test_the_cli_is_deterministic_for_the_clock(tmp_path: Path) -> None:
    folder = library(tmp_path / "lib")
    (tmp_path / "inc.json").write_text(json.dumps({"id": "I", "title": "t", "startedAt": START}))

    def urgency(at: str) -> str:
        done = subprocess.run(
            [*PLAYBOOK, "run", str(tmp_path / "inc.json"), "--library", str(folder),
             "--at", at, "--format", "json"],
            capture_output=True, text=True,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return str(json.loads(done.stdout)["classification"]["urgency"]["value"])

    assert [urgency(a) for a in ("2026-03-13T16:59:00Z", "2026-03-13T17:01:00Z")] == [
        "medium",
        "high",
    ]


@pytest.mark.parametrize(
    ("where", "condition", "message"),
    [
        ("rule", {"field": "elapsed.sinceStrat", "greaterThan": 5},
         "unknown field 'elapsed.sinceStrat'"),
        ("rule", {"expr": "elapsed.toAck > 5"}, "unknown field 'elapsed.toAck'"),
        ("rule", {"field": "elapsed.sinceStart", "greaterThan": "soon"},
         "PB201"),
    ],
)  # fmt: skip
def test_validate_says_what_is_wrong_with_elapsed(
    tmp_path: Path, where: str, condition: dict[str, Any], message: str
) -> None:
    folder = tmp_path / "lib"
    shutil.copytree(BASIC, folder)
    playbook = {
        "apiVersion": "playbook-engine/v1",
        "kind": "Playbook",
        "metadata": {"id": "timed", "title": "Timed"},
        "spec": {"appliesWhen": {"field": "incident.service", "equals": "x"}},
    }
    if where == "appliesWhen":
        playbook["spec"]["appliesWhen"] = condition
    else:
        playbook["spec"]["classification"] = {
            "rules": [{"id": "r", "when": condition, "set": {"urgency": "high"}}]
        }
    (folder / "timed.yaml").write_text(yaml.safe_dump(playbook))
    done = subprocess.run([*PLAYBOOK, "validate", str(folder)], capture_output=True, text=True)
    assert done.returncode == 1
    assert message in done.stdout, done.stdout


def test_an_applies_when_reading_elapsed_chooses_a_procedure(tmp_path: Path) -> None:
    folder = tmp_path / "lib"
    shutil.copytree(BASIC, folder)
    playbook = {
        "apiVersion": "playbook-engine/v1",
        "kind": "Playbook",
        "metadata": {"id": "long-running", "title": "Long-running incident"},
        "spec": {
            "appliesWhen": {"field": "elapsed.sinceStart", "greaterThan": "4h"},
            "steps": [{"id": "handover", "title": "Hand over to the next shift",
                       "owner": "responder"}],
        },
    }  # fmt: skip
    (folder / "long.yaml").write_text(yaml.safe_dump(playbook))
    compiled = valid_library(folder)
    data = {"id": "I", "title": "t", "startedAt": START}
    early = evaluate(compiled, data, parse_timestamp("2026-03-13T19:00:00Z"))
    late = evaluate(compiled, data, parse_timestamp("2026-03-13T21:00:00Z"))
    assert "handover" not in [s.id for s in early.steps]
    assert "handover" in [s.id for s in late.steps]
