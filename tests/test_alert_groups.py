"""One incident per Alertmanager or Grafana notification (`--group-alerts`, or the library's
`alertGrouping: group`): two alerts of one outage are one plan, not two P1 plans."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml
from conftest import PLAYBOOK, ROOT

from playbook_engine.adapters import convert

PAYLOADS = Path(__file__).parent / "data" / "payloads"
TWO = json.loads((PAYLOADS / "alertmanager" / "firing-two-alerts.json").read_text())
AT = "2026-03-14T03:00:00Z"


def test_a_notification_becomes_one_incident_with_its_alerts_listed() -> None:
    each = convert(TWO, "alertmanager")
    [group] = convert(TWO, "alertmanager", grouped=True)
    assert len(each) == 2
    assert group["title"].endswith("(2 alerts)")
    assert group["severity"] == "critical"  # the worst of critical and warning
    assert group["status"] == "triggered"
    assert group["startedAt"] == min(i["startedAt"] for i in each)
    assert [a["id"] for a in group["source"]["alerts"]] == [i["id"] for i in each]
    assert group["id"].startswith("alertmanager-group:")


def test_the_group_keeps_its_identity_whatever_the_order_of_its_alerts() -> None:
    turned = copy.deepcopy(TWO)
    turned["alerts"].reverse()
    assert (
        convert(turned, "alertmanager", grouped=True)[0]["id"]
        == (convert(TWO, "alertmanager", grouped=True)[0]["id"])
    )


def test_a_group_is_resolved_when_every_alert_is() -> None:
    resolved = copy.deepcopy(TWO)
    ends = ["2026-03-14T03:10:00Z", "2026-03-14T03:20:00Z"]
    for alert, end in zip(resolved["alerts"], ends, strict=True):
        alert["status"], alert["endsAt"] = "resolved", end
    resolved["status"] = "resolved"
    [group] = convert(resolved, "alertmanager", grouped=True)
    assert (group["status"], group["resolvedAt"]) == ("resolved", "2026-03-14T03:20:00Z")
    half = copy.deepcopy(resolved)
    half["alerts"][0]["status"] = "firing"
    assert convert(half, "alertmanager", grouped=True)[0]["status"] == "triggered"


def test_grafana_groups_too() -> None:
    payload = json.loads((PAYLOADS / "grafana" / "firing-two-alerts.json").read_text())
    assert len(convert(payload, "grafana")) == 2
    assert len(convert(payload, "grafana", grouped=True)) == 1


def _run(library: Path, *extra: str) -> Any:
    done = subprocess.run(
        [*PLAYBOOK, "run", "--from", "alertmanager",
         str(PAYLOADS / "alertmanager" / "firing-two-alerts.json"), "--library", str(library),
         "--at", AT, "--format", "json", *extra],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def test_run_takes_the_flag_or_the_librarys_setting(tmp_path: Path) -> None:
    bundled = Path(ROOT) / "playbooks"
    assert isinstance(_run(bundled), list)  # two plans
    assert isinstance(_run(bundled, "--group-alerts"), dict)  # one plan
    library = tmp_path / "lib"
    shutil.copytree(bundled, library, ignore=shutil.ignore_patterns(".playbook"))
    path = library / "policy.yaml"
    policy = yaml.safe_load(path.read_text())
    policy["spec"]["alertGrouping"] = "group"
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    plan = _run(library)
    assert isinstance(plan, dict) and plan["incident"]["title"].endswith("(2 alerts)")


def test_a_resolved_alert_without_an_end_is_resolved_when_received() -> None:
    from playbook_engine.timeparse import parse_timestamp

    payload = copy.deepcopy(TWO)
    alert = payload["alerts"][0]
    alert["status"], alert["endsAt"] = "resolved", "0001-01-01T00:00:00Z"
    received = parse_timestamp("2026-03-14T03:05:00Z")
    [first, _] = convert(payload, "alertmanager", received)
    assert (first["status"], first["resolvedAt"]) == ("resolved", "2026-03-14T03:05:00Z")
    assert "resolvedAt" not in convert(payload, "alertmanager")[0]


def test_recorded_groups_of_many_and_of_mixed_alerts() -> None:
    """Real notifications (tests/data/payloads/*/SOURCES.md): Grafana 9's group of two resolved
    alerts and one firing is one triggered incident listing all three; Alertmanager's group of
    19 alerts without per-alert status is one triggered incident of 19."""
    mixed = json.loads((PAYLOADS / "grafana" / "zulip-9-mixed.json").read_text())
    [group] = convert(mixed, "grafana", grouped=True)
    assert group["status"] == "triggered" and "resolvedAt" not in group
    assert [a["status"] for a in group["source"]["alerts"]] == ["resolved", "resolved", "triggered"]
    assert group["title"].endswith("(3 alerts)")
    many = json.loads((PAYLOADS / "alertmanager" / "msteams-19-alerts.json").read_text())
    [group] = convert(many, "alertmanager", grouped=True)
    assert (group["status"], len(group["source"]["alerts"])) == ("triggered", 19)
    assert group["severity"] == "critical"  # severity: page
