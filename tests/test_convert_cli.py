"""`playbook convert` and `playbook run --from` as a user runs them: the installed command in a
subprocess, on the payload files of tests/data/payloads, inside and outside a library."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from conftest import PLAYBOOK

ROOT = Path(__file__).resolve().parent.parent
PAYLOADS = ROOT / "tests" / "data" / "payloads"

UPTIME = str(PAYLOADS / "generic" / "uptime-check.json")
NO_TIMESTAMP = str(PAYLOADS / "pagerduty-events" / "trigger-without-timestamp.json")
AT = "2026-03-14T02:30:00Z"


def playbook(
    *args: str, cwd: Path, library: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "PLAYBOOK_LIBRARY")}
    if library is not None:
        env["PLAYBOOK_LIBRARY"] = str(library)
    return subprocess.run(
        [*PLAYBOOK, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=60
    )


def test_a_mapping_id_is_found_in_the_library_of_the_current_directory() -> None:
    result = playbook("convert", "--from", "uptime-check", UPTIME, cwd=ROOT)
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout)[0]["id"] == "chk-4471"
    inside = playbook(
        "convert", "--from", "uptime-check", UPTIME, cwd=ROOT / "playbooks" / "mappings"
    )
    assert inside.stdout == result.stdout


def test_a_mapping_id_is_found_in_the_library_of_the_environment(tmp_path: Path) -> None:
    result = playbook(
        "convert", "--from", "uptime-check", UPTIME, cwd=tmp_path, library=ROOT / "playbooks"
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout)[0]["id"] == "chk-4471"


def test_a_built_in_format_needs_no_library(tmp_path: Path) -> None:
    payload = str(PAYLOADS / "alertmanager" / "resolved.json")
    result = playbook("convert", "--from", "alertmanager", payload, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    [incident] = json.loads(result.stdout)  # always an array
    assert incident["labels"]["severity"] == "page"  # as Prometheus sent it
    assert incident["severity"] == "critical"
    auto = playbook("convert", payload, cwd=tmp_path)
    assert (auto.returncode, auto.stderr) == (0, "playbook: detected format alertmanager\n")


def test_an_unknown_format_says_how_to_make_a_mapping_id_known(tmp_path: Path) -> None:
    result = playbook("convert", "--from", "uptime-check", UPTIME, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"{UPTIME}: error AD101 unknown format 'uptime-check'; one of: alertmanager, "
        "pagerduty-events, pagerduty-webhook, grafana, opsgenie, datadog, cloudwatch-sns, "
        "sentry, auto\n"
        "  hint: a PayloadMapping id is known only with its library: pass --library DIR, set "
        "PLAYBOOK_LIBRARY, or run inside the library\n"
    )


def test_convert_takes_the_receive_time_from_at(tmp_path: Path) -> None:
    refused = playbook("convert", "--from", "pagerduty-events", NO_TIMESTAMP, cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr == (
        f"{NO_TIMESTAMP}: error AD101 payload.timestamp: missing, and no receive time was given "
        "to stand in for it: pass --at with the time the payload was received\n"
    )
    result = playbook(
        "convert", "--from", "pagerduty-events", NO_TIMESTAMP, "--at", AT, cwd=tmp_path
    )
    assert (result.returncode, result.stderr) == (0, "")
    [incident] = json.loads(result.stdout)
    assert incident["startedAt"] == incident["source"]["receivedAt"] == AT
    bad = playbook("convert", NO_TIMESTAMP, "--at", "half past two", cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.startswith("--at: error IN103 ")


def test_run_from_takes_the_receive_time_from_at() -> None:
    result = playbook(
        "run", "--from", "auto", NO_TIMESTAMP, "--at", AT, "--format", "json", cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == f"playbook: read {NO_TIMESTAMP} as pagerduty-events: 1 incident\n"
    plan = json.loads(result.stdout)
    assert plan["deadlines"]["slaStart"] == AT


def test_auto_detects_the_new_shapes_and_times_them_with_at(tmp_path: Path) -> None:
    """Sentry issue and metric alert webhooks, an EventBridge alarm event and a Grafana 8
    valueString-only notification, through the installed command with --from auto."""
    cases = [
        ("sentry/issue-resolved.json", "sentry", {"status": "resolved", "resolvedAt": AT}),
        ("sentry/metric-alert-critical.json", "sentry", {"startedAt": AT, "severity": "critical"}),
        (
            "cloudwatch-sns/eventbridge-ok.json",
            "cloudwatch-sns",
            {"status": "resolved", "startedAt": "2019-10-02T17:04:40.989Z"},
        ),
        (
            "grafana/valuestring-grafana8-var.json",
            "grafana",
            {"metrics": {"B0": 86.83759366878994}},
        ),
    ]
    for name, fmt, expected in cases:
        payload = str(PAYLOADS / name)
        result = playbook("convert", payload, "--at", AT, cwd=tmp_path)
        assert (result.returncode, result.stderr) == (0, f"playbook: detected format {fmt}\n")
        [incident] = json.loads(result.stdout)
        assert {key: incident[key] for key in expected} == expected, name
    refused = playbook("convert", str(PAYLOADS / "sentry/issue-resolved.json"), cwd=tmp_path)
    assert refused.returncode == 2 and "pass --at" in refused.stderr
