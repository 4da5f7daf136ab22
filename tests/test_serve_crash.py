"""kill -9 of `playbook serve` during a burst: after a restart every alert answered 2xx is in
the store, and every due escalation fires exactly once."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

from conftest import PLAYBOOK
from servekit import LIBRARY, TOKEN, request, serving


def incident(n: int) -> bytes:
    return json.dumps(
        {
            "id": f"INC-{n}",
            "title": f"Checkout down {n}",
            "startedAt": "2026-03-14T02:00:00Z",
            "severity": "critical",
            "service": "checkout-api",
            "environment": "production",
            "customersAffected": 5000,
        }
    ).encode()


def test_kill_9_during_a_burst_loses_no_acknowledged_alert(tmp_path: Path) -> None:
    accepted: list[str] = []
    lock = threading.Lock()
    frozen = ("--start", "2026-03-14T02:00:00Z", "--time-scale", "0", "--interval", "0")
    with serving(tmp_path, *frozen) as server:
        stop = threading.Event()

        def sender(first: int) -> None:
            n = first
            while not stop.is_set():
                try:
                    answer = request(
                        server.url + "/v1/incidents",
                        incident(n),
                        {"Authorization": f"Bearer {TOKEN}"},
                        timeout=5,
                    )
                except OSError:
                    return
                if answer.status == 202:
                    with lock:
                        accepted.append(answer.body["opened"][0])
                n += 4

        threads = [threading.Thread(target=sender, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        stop.set()
        for thread in threads:
            thread.join()
    assert len(accepted) > 20
    with sqlite3.connect(server.store) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stored = {row[0] for row in db.execute("SELECT id FROM incidents")}
    assert set(accepted) <= stored
    # restart as cron would: tick plans what was not planned yet, then fires each due page once
    command = [*PLAYBOOK, "tick", "--library", str(LIBRARY), "--store", str(server.store),
               "--at", "2026-03-14T02:11:00Z", "--format", "json"]  # fmt: skip
    first = json.loads(subprocess.run(command, capture_output=True, text=True).stdout)
    again = json.loads(subprocess.run(command, capture_output=True, text=True).stdout)
    # tier 1 (02:00) and tier 2 (02:10) of every stored incident; nothing the second time
    assert first["fired"] == 2 * len(stored) and again["fired"] == 0
    with sqlite3.connect(server.store) as db:
        pages = db.execute(
            "SELECT count(*), count(DISTINCT key) FROM outbox WHERE notification GLOB 'escalate*'"
        ).fetchone()
    assert pages == (2 * len(stored), 2 * len(stored))
