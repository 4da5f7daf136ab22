"""`playbook serve` intake against a real server: every format, idempotency, grouping,
resolution, flapping, canonical incidents, SNS confirmation."""

from __future__ import annotations

import copy
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servekit import ROOT, Server, serving

from playbook_engine.adapters import FORMATS

PAYLOADS = Path(ROOT) / "tests" / "data" / "payloads"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("serve")) as running:
        yield running


def payload(fmt: str, name: str) -> Any:
    return json.loads((PAYLOADS / fmt / f"{name}.json").read_text(encoding="utf-8"))


def rows(server: Server, sql: str, *args: Any) -> list[Any]:
    with sqlite3.connect(server.store) as db:
        return db.execute(sql, args).fetchall()


def first_payload(fmt: str) -> Path:
    return sorted(p for p in (PAYLOADS / fmt).glob("*.json") if ".expected" not in p.name)[0]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_is_taken_and_stored_before_the_answer(server: Server, fmt: str) -> None:
    body = first_payload(fmt).read_bytes()
    answer = server.post(f"/v1/alerts/{fmt}", body)
    assert answer.status in (202, 200), answer.body
    assert answer.status == 202
    touched = [*answer.body["opened"], *answer.body["updated"], *answer.body["resolved"]]
    for ident in answer.body["opened"]:
        assert rows(server, "SELECT status FROM incidents WHERE id = ?", ident) == [("open",)]
    # the same delivery again is a repeat: 200, nothing written
    intake_events = "SELECT count(*) FROM events WHERE by = 'intake'"
    before = rows(server, intake_events)
    again = server.post(f"/v1/alerts/{fmt}", body)
    assert again.status == 200 and again.body == {"duplicate": True}
    assert rows(server, intake_events) == before
    assert touched or answer.body == {"opened": [], "updated": [], "reopened": [], "resolved": []}


def test_a_payload_mapping_id_is_a_route(server: Server) -> None:
    body = (PAYLOADS / "generic" / "uptime-check.json").read_bytes()
    answer = server.post("/v1/alerts/uptime-check", body)
    assert answer.status == 202, answer.body
    assert len(answer.body["opened"]) == 1


def test_unknown_format_is_404_naming_the_known_ones(server: Server) -> None:
    answer = server.post("/v1/alerts/nagios", {"x": 1})
    assert answer.status == 404
    assert "alertmanager" in answer.body["error"] and "uptime-check" in answer.body["error"]


def am(group: str, *alerts: tuple[str, str, str]) -> dict[str, Any]:
    """An Alertmanager notification of group `group`: alerts (fingerprint, status, startsAt)."""
    return {
        "receiver": "playbook",
        "status": "firing" if any(a[1] == "firing" for a in alerts) else "resolved",
        "groupKey": group,
        "version": "4",
        "groupLabels": {"alertname": "DiskFull"},
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": "DiskFull", "instance": fp, "severity": "critical"},
                "annotations": {"summary": "Disk full"},
                "startsAt": starts,
                "endsAt": "2026-03-14T03:00:00Z"
                if status == "resolved"
                else "0001-01-01T00:00:00Z",
                "fingerprint": fp,
            }
            for fp, status, starts in alerts
        ],
    }


def test_a_group_is_one_incident_resolved_when_all_its_alerts_are(server: Server) -> None:
    t0 = "2026-03-14T02:00:00Z"
    opened = server.post("/v1/alerts/alertmanager", am("{}:{g=1}", ("a1", "firing", t0)))
    assert opened.status == 202 and len(opened.body["opened"]) == 1
    ident = opened.body["opened"][0]
    second = server.post(
        "/v1/alerts/alertmanager", am("{}:{g=1}", ("a1", "firing", t0), ("a2", "firing", t0))
    )
    assert second.body["updated"] == [ident] and second.body["opened"] == []
    partly = server.post(
        "/v1/alerts/alertmanager", am("{}:{g=1}", ("a1", "resolved", t0), ("a2", "firing", t0))
    )
    assert partly.body["resolved"] == [] and partly.body["updated"] == [ident]
    done = server.post(
        "/v1/alerts/alertmanager", am("{}:{g=1}", ("a1", "resolved", t0), ("a2", "resolved", t0))
    )
    assert done.body["resolved"] == [ident]
    assert rows(server, "SELECT status FROM incidents WHERE id = ?", ident) == [("resolved",)]
    # flapping: firing again right after (within the 10-minute window) reopens the same one
    again = server.post(
        "/v1/alerts/alertmanager", am("{}:{g=1}", ("a1", "firing", "2026-03-14T02:30:00Z"))
    )
    assert again.body["reopened"] == [ident] and again.body["opened"] == []
    kinds = [k for (k,) in rows(server, "SELECT kind FROM events WHERE incident_id = ?", ident)]
    assert kinds.count("opened") == 1 and kinds.count("reopened") == 1
    assert kinds.count("resolved") == 1


def test_after_the_flap_window_a_new_incident_opens(tmp_path: Path) -> None:
    # the service clock starts at a fixed moment and runs 3600x: 11 real seconds would be far
    # more than needed; 0.5 s is 30 service minutes, beyond the 5-minute window given
    import time

    clock = ("--start", "2026-03-14T02:00:00Z", "--time-scale", "3600", "--flap-window", "5m")
    with serving(tmp_path, *clock) as srv:
        t0 = "2026-03-14T02:00:00Z"
        first = srv.post("/v1/alerts/alertmanager", am("{}:{g=2}", ("b1", "firing", t0)))
        ident = first.body["opened"][0]
        srv.post("/v1/alerts/alertmanager", am("{}:{g=2}", ("b1", "resolved", t0)))
        time.sleep(0.5)
        later = srv.post(
            "/v1/alerts/alertmanager", am("{}:{g=2}", ("b1", "firing", "2026-03-14T03:00:00Z"))
        )
        assert later.body["opened"] == [f"{ident}-2"], later.body


def test_canonical_incidents(server: Server) -> None:
    incident = {"id": "INC-7", "title": "Checkout down", "startedAt": "2026-03-14T02:00:00Z"}
    answer = server.post("/v1/incidents", incident)
    assert answer.status == 202 and len(answer.body["opened"]) == 1
    resolved = dict(incident, status="resolved", resolvedAt="2026-03-14T03:00:00Z")
    assert server.post("/v1/incidents", resolved).body["resolved"] == answer.body["opened"]
    bad = server.post("/v1/incidents", {"id": "INC-8", "title": "x", "startedAt": "yesterday"})
    assert bad.status == 400 and "startedAt" in bad.body["error"]


MALFORMED = [
    b"{",
    b"\xff\xfe",
    b"[]",
    b'{"alerts": "no"}',
    b'{"alerts": [{"status": "firing"}], "groupKey": "k"}',
    json.dumps({"alerts": [{"status": "weird", "labels": {"alertname": "x"}}]}).encode(),
]


@pytest.mark.parametrize("body", MALFORMED)
def test_malformed_payloads_are_400_naming_the_field(server: Server, body: bytes) -> None:
    answer = server.post("/v1/alerts/alertmanager", body)
    assert answer.status == 400, answer.body
    assert answer.body["error"]


def test_a_payload_changed_by_one_field_is_not_a_repeat(server: Server) -> None:
    base = payload("alertmanager", "firing-two-alerts")
    changed = copy.deepcopy(base)
    changed["groupKey"] = "{}:{other}"
    assert server.post("/v1/alerts/alertmanager", changed).status == 202


def test_the_served_plan_agrees_with_playbook_run(tmp_path: Path) -> None:
    import subprocess
    import time

    from conftest import PLAYBOOK
    from servekit import LIBRARY

    source = PAYLOADS / "alertmanager" / "firing-two-alerts.json"
    data = json.loads(source.read_text(encoding="utf-8"))
    data["alerts"] = data["alerts"][:1]  # one alert: one incident either way
    data.pop("groupKey")
    one = tmp_path / "one.json"
    one.write_text(json.dumps(data))
    at = "2026-03-14T02:30:00Z"
    frozen = ("--start", at, "--time-scale", "0", "--interval", "0")
    with serving(tmp_path, *frozen) as srv:
        assert srv.post("/v1/alerts/alertmanager", one.read_bytes()).status == 202
        deadline = time.monotonic() + 20
        while not rows(srv, "SELECT count(*) FROM outbox")[0][0]:
            assert time.monotonic() < deadline
    served = sorted((n, c) for n, c in rows(srv, "SELECT notification, channel FROM outbox"))
    run = subprocess.run(
        [*PLAYBOOK, "run", str(one), "--from", "alertmanager", "--library", str(LIBRARY),
         "--at", at, "--format", "json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    plan = json.loads(run.stdout)
    assert served == sorted((n["id"], n["channel"]) for n in plan["notifications"])
    # the notification reads the whole payload as `run` does (source.payload kept)
    stored = json.loads(rows(srv, "SELECT data FROM incidents")[0][0])
    assert stored["source"]["payload"]["receiver"] == data["receiver"]
