"""End-to-end: the installed `playbook` command on the bundled library, with golden outputs.

Goldens live in tests/golden/; after a deliberate change, rewrite them with
`UPDATE_GOLDEN=1 python -m pytest tests/test_cli.py` and review the diff.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
from conftest import PLAYBOOK

from playbook_engine.load.documents import load_file
from playbook_engine.load.schema import load_schema
from playbook_engine.timeparse import format_timestamp, parse_timestamp

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "playbooks"
INCIDENTS = sorted((LIBRARY / "incidents").glob("*.yaml"))
GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def playbook(
    *args: str, stdin: str | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "PLAYBOOK_LIBRARY")}
    return subprocess.run(
        [*PLAYBOOK, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
    )


def clock_for(incident: Path) -> str:
    """Half an hour after the incident's SLA start: a fixed, meaningful clock per incident."""
    doc, problems = load_file(incident)
    assert doc is not None, problems
    start = doc.data.get("detectedAt") or doc.data["startedAt"]
    return format_timestamp(parse_timestamp(start) + timedelta(minutes=30))


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"missing golden {name}: run with UPDATE_GOLDEN=1"
    assert actual == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("incident", INCIDENTS, ids=lambda p: p.stem)
@pytest.mark.parametrize("fmt", ["markdown", "json"])
def test_run_matches_golden(incident: Path, fmt: str) -> None:
    result = playbook(
        "run",
        str(incident.relative_to(ROOT)),
        "--library",
        "playbooks",
        "--at",
        clock_for(incident),
        "--format",
        fmt,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    check_golden(f"{incident.stem}.{'md' if fmt == 'markdown' else fmt}", result.stdout)
    if fmt == "json":
        jsonschema.validate(json.loads(result.stdout), load_schema("plan"))


@pytest.mark.parametrize(
    "incident", ["01-gitlab-db-deletion", "07-sso-login-single-customer", "09-staging-replica-lag"]
)
def test_explain_text_matches_golden(incident: str) -> None:
    path = LIBRARY / "incidents" / f"{incident}.yaml"
    result = playbook(
        "run",
        str(path.relative_to(ROOT)),
        "-l",
        "playbooks",
        "--at",
        clock_for(path),
        "--format",
        "text",
        "--explain",
    )
    assert result.returncode == 0, result.stderr
    check_golden(f"{incident}.explain.txt", result.stdout)


def test_same_inputs_give_byte_identical_output() -> None:
    args = (
        "run",
        "playbooks/incidents/02-cloudflare-waf-regex.yaml",
        "-l",
        "playbooks",
        "--at",
        "2026-07-02T14:00:00Z",
        "--format",
        "json",
        "--explain",
    )
    assert playbook(*args).stdout == playbook(*args).stdout


def test_validate_bundled_library_is_clean() -> None:
    result = playbook("validate", "playbooks", "--strict")
    # 10 library documents, 4 test suites and the 12 example incidents.
    assert (result.returncode, result.stdout) == (0, "27 files checked: no problems\n")


def test_validate_checks_example_incidents_and_skips_what_is_no_document(tmp_path: Path) -> None:
    library = tmp_path / "lib"
    shutil.copytree(LIBRARY, library)
    bad = library / "incidents" / "99-bad.yaml"
    bad.write_text("id: X\ntitle: t\nstartedAt: 2026-02-30T00:00:00\n")
    whole = playbook("validate", str(library))
    assert whole.returncode == 1
    assert "99-bad.yaml:3:12: error PB201 startedAt: expected a timestamp" in whole.stdout
    alone = playbook("validate", str(bad), str(library / "incidents" / "README.md"))
    assert alone.returncode == 1
    assert alone.stdout.endswith("1 file checked: 1 error, 0 warnings\n")
    readme = playbook("validate", str(library / "incidents" / "README.md"))
    assert (readme.returncode, readme.stdout) == (0, "0 files checked: no problems\n")


def test_validate_reports_file_line_col_in_every_format(tmp_path: Path) -> None:
    library = tmp_path / "lib"
    shutil.copytree(ROOT / "tests" / "data" / "libraries" / "basic", library)
    major = library / "major.yaml"
    major.write_text(
        major.read_text().replace(
            "owner: incident-commander\n      due: 5m", "owner: comander\n      due: 5m"
        )
    )
    text = playbook("validate", str(library), cwd=tmp_path)
    assert text.returncode == 1
    assert "lib/major.yaml:21:14: error PB303 unknown role 'comander'" in text.stdout
    as_json = json.loads(
        playbook("validate", str(library), "--format", "json", cwd=tmp_path).stdout
    )
    errors = [d for d in as_json["diagnostics"] if d["severity"] == "error"]
    assert [(e["code"], e["path"], e["line"], e["column"]) for e in errors] == [
        ("PB303", "lib/major.yaml", 21, 14)
    ]
    github = playbook("validate", str(library), "--format", "github", cwd=tmp_path).stdout
    assert (
        "::error file=lib/major.yaml,line=21,col=14,title=PB303::unknown role 'comander'" in github
    )


def test_validate_single_file_uses_its_library_for_references(tmp_path: Path) -> None:
    library = tmp_path / "lib"
    shutil.copytree(ROOT / "tests" / "data" / "libraries" / "basic", library)
    result = playbook("validate", "lib/triage.yaml", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "1 file checked: no problems\n")


def test_validate_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = playbook("validate", "nope", cwd=tmp_path)
    assert result.returncode == 2
    assert "nope: error PB111 no such file or directory" in result.stdout


def test_run_reads_stdin_and_set_overrides() -> None:
    incident = (LIBRARY / "incidents" / "08-vague-report.yaml").read_text()
    result = playbook(
        "run",
        "-",
        "-l",
        "playbooks",
        "--at",
        "2026-06-12T16:30:00Z",
        "--format",
        "json",
        "--set",
        "severity=critical",
        "--set",
        "customersAffected=5000",
        "--set",
        "labels.team=payments",
        stdin=incident,
    )
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["priority"]["id"] == "P1"
    assert "major-incident" in [p["id"] for p in plan["playbooks"]]


def test_run_jsonl_lines_are_strict_json_and_its_format_is_json() -> None:
    args = ["run", "-", "-l", "playbooks", "--jsonl", "--at", "2026-03-14T03:00:00Z"]
    result = playbook(*args, stdin="not json\n")
    assert result.returncode == 1
    [line] = [json.loads(line) for line in result.stdout.splitlines()]
    assert line["errors"][0]["code"] == "PB101"
    assert line["errors"][0]["message"] == "not JSON: unquoted text 'not json'"
    refused = playbook(*args, "--format", "text", stdin="")
    assert refused.returncode == 2
    assert "--jsonl writes one JSON plan per line; --format text is not possible" in refused.stderr


def test_test_report_to_a_file_still_says_the_outcome_on_stderr(tmp_path: Path) -> None:
    library = tmp_path / "lib"
    shutil.copytree(LIBRARY, library)
    suite = library / "tests" / "playbooks.yaml"
    suite.write_text(suite.read_text().replace("priority: P1", "priority: P2", 1))
    result = playbook("test", str(library), "--format", "junit", "-o", str(tmp_path / "t.xml"))
    assert result.returncode == 1
    first, *fails = result.stderr.splitlines()
    assert first.startswith("playbook: ") and first.endswith(" passed, 1 failed")
    assert len(fails) == 1 and fails[0].startswith("  FAIL ")
    assert (tmp_path / "t.xml").read_text().startswith("<?xml")


def test_github_annotations_name_files_from_the_checkout(tmp_path: Path) -> None:
    library = tmp_path / "repo" / "lib"
    shutil.copytree(LIBRARY, library)
    (library / "oops.yaml").write_text("kind: Playbook\n")
    env = {**os.environ, "GITHUB_WORKSPACE": str(tmp_path / "repo")}
    inside = subprocess.run(
        [*PLAYBOOK, "validate", ".", "--format", "github"],
        cwd=library,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert inside.returncode == 1
    assert inside.stdout.startswith("::error file=lib/oops.yaml,line=1,col=1,")


def test_run_says_when_the_clock_is_before_the_incident() -> None:
    incident = str(LIBRARY / "incidents" / "08-vague-report.yaml")
    early = playbook("run", incident, "-l", "playbooks", "--at", "2020-01-01T00:00:00Z")
    assert early.returncode == 0
    assert early.stderr.startswith("playbook: the clock is before ")
    assert early.stderr.rstrip().endswith("started: nothing is due yet")
    later = playbook("run", incident, "-l", "playbooks", "--at", "2026-06-12T16:30:00Z")
    assert later.stderr == ""


def test_run_output_format_follows_the_file_name(tmp_path: Path) -> None:
    incident = str(LIBRARY / "incidents" / "08-vague-report.yaml")
    for name, starts in (("plan.json", "{"), ("plan.md", "# "), ("plan.txt", "INC-"), ("p", "# ")):
        target = tmp_path / name
        result = playbook(
            "run", incident, "-l", "playbooks", "--at", "2026-06-12T16:30:00Z", "-o", str(target)
        )
        assert result.returncode == 0, result.stderr
        assert target.read_text().startswith(starts), name
    chosen = tmp_path / "chosen.json"
    args = ["run", incident, "-l", "playbooks", "--at", "2026-06-12T16:30:00Z", "--format", "text"]
    assert playbook(*args, "-o", str(chosen)).returncode == 0
    assert not chosen.read_text().startswith("{")  # an explicit --format wins


def test_run_jsonl_keeps_going_past_a_bad_line() -> None:
    good = json.dumps({"id": "A", "title": "t", "startedAt": "2026-03-14T02:00:00Z"})
    bad = json.dumps({"id": "B", "title": "t", "startedAt": "2026-03-14T02:00:00"})
    result = playbook(
        "run",
        "-",
        "-l",
        "playbooks",
        "--jsonl",
        "--at",
        "2026-03-14T03:00:00Z",
        stdin=f"{good}\n\n{bad}\n{good}\n",
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 1
    assert [line["incident"]["id"] if "incident" in line else line["line"] for line in lines] == [
        "A",
        3,
        "A",
    ]
    assert lines[1]["errors"][0]["code"] in ("PB201", "IN103")


def test_run_writes_output_atomically(tmp_path: Path) -> None:
    out = tmp_path / "plan.md"
    result = playbook(
        "run",
        "playbooks/incidents/08-vague-report.yaml",
        "-l",
        "playbooks",
        "--at",
        "2026-06-12T16:30:00Z",
        "-o",
        str(out),
    )
    assert result.returncode == 0 and result.stdout == ""
    assert out.read_text().startswith("# INC-")
    assert [p.name for p in tmp_path.iterdir()] == ["plan.md"]


def test_bad_incident_is_exit_2_with_field_path(tmp_path: Path) -> None:
    incident = tmp_path / "bad.json"
    incident.write_text('{"id": "X", "title": 7, "startedAt": "2026-03-14T02:00:00"}')
    result = playbook("run", str(incident), "-l", "playbooks", "--at", "2026-03-14T03:00:00Z")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "bad.json:1:22: error PB204" in result.stderr


def test_convert_and_run_from_payloads() -> None:
    payload = "tests/data/payloads/alertmanager/firing-two-alerts.json"
    converted = playbook("convert", payload)
    assert converted.returncode == 0
    assert converted.stderr == "playbook: detected format alertmanager\n"
    incidents = json.loads(converted.stdout)
    for incident in incidents:
        jsonschema.validate(incident, load_schema("incident"))
    run = playbook(
        "run",
        "--from",
        "auto",
        payload,
        "-l",
        "playbooks",
        "--at",
        "2026-03-14T03:00:00Z",
        "--format",
        "json",
    )
    assert run.returncode == 0
    assert run.stderr == f"playbook: read {payload} as alertmanager: 2 incidents\n"
    assert [plan["incident"]["id"] for plan in json.loads(run.stdout)] == [
        i["id"] for i in incidents
    ]


def test_library_payload_mapping() -> None:
    payload = "tests/data/payloads/generic/uptime-check.json"
    result = playbook("convert", "--from", "uptime-check", "-l", "playbooks", payload)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["id"] == "chk-4471"
    unknown = playbook("convert", "--from", "nagios", payload)
    assert unknown.returncode == 2
    assert "unknown format 'nagios'" in unknown.stderr


def test_schema_command_prints_each_schema() -> None:
    listing = [line.split()[0] for line in playbook("schema").stdout.splitlines()]
    assert {"policy", "playbook", "shared", "incident", "plan", "mapping"} <= set(listing)
    printed = json.loads(playbook("schema", "playbook").stdout)
    assert printed["$id"].endswith("/playbook.schema.json")
    assert playbook("schema", "nope").returncode == 2


def test_schema_output_writes_files_an_editor_can_use(tmp_path: Path) -> None:
    result = playbook("schema", "--output", str(tmp_path / "schemas"))
    assert result.returncode == 0, result.stderr
    written = sorted(p.name for p in (tmp_path / "schemas").iterdir())
    assert "playbook.schema.json" in written and "testsuite.schema.json" in written
    on_disk = json.loads((tmp_path / "schemas" / "playbook.schema.json").read_text())
    assert on_disk == json.loads(playbook("schema", "playbook").stdout)


def test_internal_errors_are_one_line_without_traceback() -> None:
    result = playbook("run")
    assert result.returncode == 2
    assert "missing INCIDENT" in result.stderr
    assert "Traceback" not in result.stderr


def test_python_dash_m_works() -> None:
    result = subprocess.run(
        [os.environ.get("PYTHON", "python"), "-m", "playbook_engine", "--version"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0 and "playbook" in result.stdout


def test_json_diagnostics_escape_bidi_and_control_characters(tmp_path: Path) -> None:
    library = tmp_path / "lib"
    shutil.copytree(ROOT / "tests" / "data" / "libraries" / "basic", library)
    major = library / "major.yaml"
    major.write_text(
        major.read_text().replace(
            "owner: incident-commander\n      due: 5m", 'owner: "x\u202ey"\n      due: 5m'
        )
    )
    result = playbook("validate", str(library), "--format", "json", cwd=tmp_path)
    assert "\u202e" not in result.stdout
    assert "\\u202e" in result.stdout
    messages = [d["message"] for d in json.loads(result.stdout)["diagnostics"]]
    assert any("x\u202ey" in m for m in messages)  # the data itself is unchanged
