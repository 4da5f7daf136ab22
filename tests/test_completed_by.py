"""A step done by a lifecycle event (`completedBy`): the acknowledgement step of an
acknowledged incident is shown done, at the acknowledgement, in every format, never
overdue; the store records it done when the incident is acknowledged."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import PLAYBOOK, edited_yaml

from playbook_engine import evaluate, open_library, render_plan
from playbook_engine.compile.compiler import CompiledLibrary

LIBRARY = Path(__file__).resolve().parent.parent / "playbooks"
START = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
ODD = {"id": "INC-7", "title": "Something odd on the intranet", "startedAt": "2026-03-01T10:00:00Z"}


@pytest.fixture(scope="module")
def library() -> CompiledLibrary:
    return open_library(LIBRARY)


def acknowledge_step(library: CompiledLibrary, minutes: int, **fields: Any) -> Any:
    plan = evaluate(library, {**ODD, **fields}, START + timedelta(minutes=minutes))
    return plan, next(s for s in plan.steps if s.id == "triage-acknowledge")


def test_an_open_incident_has_its_acknowledgement_step_open_and_overdue(
    library: CompiledLibrary,
) -> None:
    plan, step = acknowledge_step(library, 3 * 24 * 60)  # past its due time on any clock
    assert (step.done_by, step.done_at, step.overdue) == (None, None, True)
    text = render_plan(plan, "text").splitlines()
    assert next(line for line in text if "Acknowledge INC-7" in line).lstrip().startswith("[ ]")


def test_an_acknowledged_incident_shows_it_done_at_the_acknowledgement_in_every_format(
    library: CompiledLibrary,
) -> None:
    plan, step = acknowledge_step(library, 45, acknowledgedAt="2026-03-01T10:40:00Z")
    assert step.done_by == "acknowledgement"
    assert step.done_at == START + timedelta(minutes=40)
    assert not step.overdue  # due at +30m, acknowledged late: done, not overdue
    text = next(line for line in render_plan(plan, "text").splitlines() if "Acknowledge" in line)
    assert text.lstrip().startswith("[x]") and "done 10:40 (the acknowledgement)" in text
    assert "OVERDUE" not in text
    markdown = render_plan(plan, "markdown")
    item = next(line for line in markdown.splitlines() if "Acknowledge" in line)
    assert item.startswith("- [x]") and "done 10:40 (the acknowledgement)" in item
    data = json.loads(render_plan(plan, "json"))
    found = next(s for s in data["steps"] if s["id"] == "triage-acknowledge")
    assert (found["doneBy"], found["doneAt"], found["overdue"]) == (
        "acknowledgement",
        "2026-03-01T10:40:00Z",
        False,
    )
    others = [s for s in data["steps"] if s["id"] != "triage-acknowledge"]
    assert others and all(s["doneBy"] is None and s["doneAt"] is None for s in others)


def test_an_acknowledgement_after_the_clock_has_not_happened_yet(
    library: CompiledLibrary,
) -> None:
    _, step = acknowledge_step(library, 20, acknowledgedAt="2026-03-01T10:40:00Z")
    assert step.done_at is None


def test_a_resolution_without_an_acknowledgement_does_the_acknowledgement_step(
    library: CompiledLibrary,
) -> None:
    _, step = acknowledge_step(library, 90, status="resolved", resolvedAt="2026-03-01T11:00:00Z")
    assert (step.done_by, step.done_at) == ("acknowledgement", START + timedelta(hours=1))


def test_a_step_completed_by_the_resolution(tmp_path: Path) -> None:
    target = tmp_path / "lib"
    subprocess.run([*PLAYBOOK, "init", str(target)], check=True, capture_output=True)
    with edited_yaml(target / "triage.yaml") as doc:
        doc["spec"]["steps"][-1]["completedBy"] = "resolution"
    library = open_library(target)
    at = START + timedelta(hours=3)
    incident = {**ODD, "acknowledgedAt": "2026-03-01T10:05:00Z"}
    steps = {s.id: s for s in evaluate(library, incident, at).steps}
    assert steps["mitigate"].done_at is None and steps["mitigate"].overdue
    resolved = {**incident, "status": "resolved", "resolvedAt": "2026-03-01T12:30:00Z"}
    steps = {s.id: s for s in evaluate(library, resolved, at).steps}
    assert steps["mitigate"].done_by == "resolution" and not steps["mitigate"].overdue


def test_an_unknown_event_is_a_schema_error(tmp_path: Path) -> None:
    target = tmp_path / "lib"
    subprocess.run([*PLAYBOOK, "init", str(target)], check=True, capture_output=True)
    with edited_yaml(target / "triage.yaml") as doc:
        doc["spec"]["steps"][0]["completedBy"] = "acknowledged"
    done = subprocess.run(
        [*PLAYBOOK, "validate", str(target)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    line = next(x for x in done.stdout.splitlines() if x.startswith(f"{target}/triage.yaml:"))
    assert "PB201" in line and "acknowledgement, resolution" in line
    assert "did you mean 'acknowledgement'?" in done.stdout


def test_the_store_records_the_step_done_when_the_incident_is_acknowledged(
    tmp_path: Path,
) -> None:
    store = str(tmp_path / "incidents.db")
    incident = tmp_path / "odd.json"
    incident.write_text(json.dumps(ODD))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [*PLAYBOOK, *args, "--store", store, "-l", str(LIBRARY)]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    opened = cli("incident", "open", str(incident), "--at", "2026-03-01T10:01:00Z")
    assert opened.returncode == 0, opened.stderr
    acked = cli("incident", "ack", "INC-7", "--at", "2026-03-01T10:10:00Z", "--by", "ana")
    assert acked.returncode == 0, acked.stderr
    timeline = cli("timeline", "INC-7", "--format", "json")
    assert timeline.returncode == 0, timeline.stderr
    steps = [e for e in json.loads(timeline.stdout)["events"] if e["kind"] == "step"]
    assert [(e["data"]["step"], e["data"]["state"], e["at"]) for e in steps] == [
        ("triage-acknowledge", "done", "2026-03-01T10:10:00Z")
    ]
    again = cli("incident", "step", "INC-7", "triage-acknowledge", "--at", "2026-03-01T10:20:00Z")
    assert again.returncode == 2 and "already done" in again.stderr
