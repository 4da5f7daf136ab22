"""Durable timers and `playbook tick`: due at their time, once, across restarts and
concurrent processes; the clock is moved with --at, never slept."""

from __future__ import annotations

import http.server
import json
import os
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conftest import PLAYBOOK
from servekit import LIBRARY, serving

T0 = "2026-03-14T02:00:00Z"
P1 = {
    "id": "INC-1",
    "title": "Checkout down",
    "startedAt": T0,
    "severity": "critical",
    "service": "checkout-api",
    "environment": "production",
    "customersAffected": 5000,
}


def tick(store: Path, at: str, *extra: str) -> dict[str, int]:
    done = subprocess.run(
        [*PLAYBOOK, "tick", "--library", str(LIBRARY), "--store", str(store), "--at", at,
         "--format", "json", *extra],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, int] = json.loads(done.stdout)
    return result


def rows(store: Path, sql: str, *args: Any) -> list[Any]:
    with sqlite3.connect(store) as db:
        return db.execute(sql, args).fetchall()


def open_incidents(tmp: Path, *incidents: dict[str, Any]) -> Path:
    """Post incidents to a server whose clock starts at T0 and has no background scheduler."""
    with serving(tmp, "--start", T0, "--interval", "0") as server:
        for incident in incidents:
            assert server.post("/v1/incidents", incident).status == 202
        return server.store


def test_tiers_fire_at_their_time_once(tmp_path: Path) -> None:
    store = open_incidents(tmp_path, P1)
    assert tick(store, "2026-03-14T01:59:00Z")["fired"] == 0  # before anything is due
    assert tick(store, "2026-03-14T02:01:00Z")["fired"] == 1  # tier 1 (after 0m)
    assert tick(store, "2026-03-14T02:01:00Z")["fired"] == 0  # again: nothing twice
    assert tick(store, "2026-03-14T02:09:59Z")["fired"] == 0
    # 02:10 tier 2, 02:15 the respond-by deadline
    assert tick(store, "2026-03-14T02:16:00Z")["fired"] == 2
    fired = rows(store, "SELECT action FROM timers WHERE fired_at IS NOT NULL ORDER BY due_at")
    assert fired == [("escalate:t1c0",), ("escalate:t2c0",), ("sla:respond",)]
    pages = rows(store, "SELECT key, state FROM outbox WHERE channel = 'pager' ORDER BY key")
    assert ("INC-1" not in str(pages)) and len([p for p in pages if "escalate" in p[0]]) == 2
    assert all(state == "dry-run" for _key, state in pages)


def test_a_stopped_scheduler_loses_nothing_and_fires_late_ones_once(tmp_path: Path) -> None:
    store = open_incidents(tmp_path, P1)
    # nobody ran tick for 40 minutes: 02:00 t1, 02:10 t2, 02:15 respond, 02:30 t3 are all due
    assert tick(store, "2026-03-14T02:40:00Z")["fired"] == 4
    assert tick(store, "2026-03-14T02:40:00Z")["fired"] == 0
    assert tick(store, "2026-03-14T02:46:00Z")["fired"] == 1  # the repeat of tier 2 at 02:45


def test_acknowledging_cancels_the_rest(tmp_path: Path) -> None:
    acked = dict(P1, status="acknowledged", acknowledgedAt="2026-03-14T02:05:00Z")
    store = open_incidents(tmp_path, P1)
    assert tick(store, "2026-03-14T02:01:00Z")["fired"] == 1
    with serving(tmp_path, "--store", str(store), "--start", "2026-03-14T02:05:00Z",
                 "--interval", "0", store=store) as server:  # fmt: skip
        assert server.post("/v1/incidents", acked).status == 202
    # no escalation is left: hourly reminders from the acknowledgement (03:05, 04:05, 05:05),
    # the warning at 75 % of the 4 h to resolve (05:00) and the resolve-by deadline (06:00)
    assert tick(store, "2026-03-14T03:04:00Z")["fired"] == 0
    assert tick(store, "2026-03-14T05:00:00Z")["fired"] == 3
    assert tick(store, "2026-03-14T06:00:00Z")["fired"] == 2
    fired = rows(store, "SELECT action FROM timers WHERE fired_at IS NOT NULL ORDER BY due_at")
    assert [a for (a,) in fired] == [
        "escalate:t1c0", "remind:1", "remind:2", "warn:resolve", "remind:3", "sla:resolve",
    ]  # fmt: skip
    reminder = rows(store, "SELECT subject, body FROM outbox WHERE notification = 'remind:1'")
    assert reminder[0][0] == "[P1] Checkout down: still open"
    assert "0 of 19 steps done" in reminder[0][1]
    pending = rows(store, "SELECT count(*) FROM timers WHERE fired_at IS NULL")
    assert pending == [(0,)]


def test_two_tick_processes_at_once_fire_each_timer_once(tmp_path: Path) -> None:
    incidents = [dict(P1, id=f"INC-{n}") for n in range(60)]
    store = open_incidents(tmp_path, *incidents)
    at = datetime(2026, 3, 14, 3, 0, tzinfo=UTC).timestamp()
    due = rows(store, "SELECT count(*) FROM timers WHERE due_at <= ?", at)[0][0]
    assert due == 60 * 5  # t1, t2, respond-by, t3, the repeat of t2 at 02:45
    command = [*PLAYBOOK, "tick", "--library", str(LIBRARY), "--store", str(store),
               "--at", "2026-03-14T03:00:00Z", "--format", "json"]  # fmt: skip
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    results = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sum(r["fired"] + r["cancelled"] for r in results) == due, results
    events = rows(store, "SELECT count(*) FROM events WHERE kind = 'timer'")[0][0]
    assert events == due
    sql = "SELECT count(*) FROM outbox WHERE notification GLOB '[es][sl][ca]*:*'"
    pages = rows(store, sql)[0][0]
    assert pages == sum(r["fired"] for r in results)


def test_two_serve_replicas_on_one_store_page_once(tmp_path: Path) -> None:
    import time

    store = tmp_path / "shared.sqlite"
    clock = ("--start", T0, "--time-scale", "600", "--interval", "0.1")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        serving(tmp_path / "a", *clock, store=store) as one,
        serving(tmp_path / "b", *clock, store=store) as two,
    ):
        for n in range(20):
            server = one if n % 2 else two
            assert server.post("/v1/incidents", dict(P1, id=f"INC-{n}")).status == 202
        # 10 service minutes (tier 2) are 1 real second at 600x; wait for both tiers of all
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            done = rows(store, "SELECT count(*) FROM timers WHERE action GLOB 'escalate:t[12]c0' "
                        "AND fired_at IS NOT NULL")[0][0]  # fmt: skip
            if done == 40:
                break
            time.sleep(0.2)
    assert done == 40
    fires = rows(store, "SELECT detail, incident_id, count(*) FROM events WHERE kind = 'timer' "
                 "GROUP BY detail, incident_id HAVING count(*) > 1")  # fmt: skip
    assert fires == []
    pages = rows(store, "SELECT count(*), count(DISTINCT key) FROM outbox "
                 "WHERE notification GLOB 'escalate:*'")[0]  # fmt: skip
    assert pages[0] == pages[1] and pages[0] >= 40


class _Hook(http.server.BaseHTTPRequestHandler):
    got: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802
        type(self).got.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def receiver() -> Iterator[tuple[int, list[bytes]]]:
    handler = type("Hook", (_Hook,), {"got": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_port, handler.got
    finally:
        server.shutdown()
        server.server_close()


def deliver_tick(store: Path, port: int, *extra: str) -> None:
    env = {**os.environ, "PLAYBOOK_CHANNEL_PAGER": f"json://127.0.0.1:{port}/"}
    command = [*PLAYBOOK, "tick", "--library", str(LIBRARY), "--store", str(store),
               "--at", "2026-03-14T02:01:00Z", "--deliver", *extra]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr


def test_tick_deliver_refuses_loopback_unless_allowed(tmp_path: Path) -> None:
    with receiver() as (port, got):
        store = open_incidents(tmp_path, P1)
        deliver_tick(store, port)
        assert got == []
        refused = rows(store, "SELECT count(*) FROM outbox WHERE channel = 'pager' "
                       "AND state = 'failed' AND last_error LIKE '%loopback%'")  # fmt: skip
        assert refused == [(2,)]


def test_tick_deliver_with_the_host_allowed_sends_each_page_once(tmp_path: Path) -> None:
    with receiver() as (port, got):
        store = open_incidents(tmp_path, P1)
        deliver_tick(store, port, "--allow-host", "127.0.0.1")
        deliver_tick(store, port, "--allow-host", "127.0.0.1")
        # the pager channel: the plan's page-incident-commander and the tier-1 page, once each
        titles = sorted(json.loads(body)["title"] for body in got)
        assert len(titles) == 2 and any("escalation tier 1" in t for t in titles), titles
        sent = rows(store, "SELECT count(*) FROM outbox WHERE channel = 'pager' AND state = 'sent'")
        assert sent == [(2,)]
