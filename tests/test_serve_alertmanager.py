"""End to end with a real Prometheus Alertmanager (Debian's `prometheus-alertmanager`) whose
webhook receiver is `playbook serve` on 127.0.0.1: incidents open grouped as Alertmanager
groups them, escalate on time (the service clock runs 120x) and resolve when Alertmanager
resolves them. Bounded: well under 60 s."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from servekit import TOKEN, free_port, request, serving

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
pytestmark = pytest.mark.skipif(
    ALERTMANAGER is None, reason="prometheus-alertmanager is not installed (.ci/run installs it)"
)


def config(port: int) -> str:
    return f"""
route:
  receiver: playbook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: playbook
    webhook_configs:
      - url: http://127.0.0.1:{port}/v1/alerts/alertmanager
        send_resolved: true
        http_config:
          authorization:
            credentials: {TOKEN}
"""


def alert(name: str, instance: str, starts: datetime, ends: datetime | None = None) -> Any:
    item: dict[str, Any] = {
        "labels": {
            "alertname": name,
            "instance": instance,
            "service": "checkout-api",
            "env": "production",
            "severity": "critical",
            "team": "payments",
        },
        "annotations": {"summary": f"{name} on {instance}"},
        "startsAt": starts.isoformat(),
    }
    if ends is not None:
        item["endsAt"] = ends.isoformat()
    return item


def wait_for(check: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_alertmanager_end_to_end(tmp_path: Path) -> None:
    started = time.monotonic()
    scale = ("--time-scale", "120", "--interval", "0.2")
    with serving(tmp_path, *scale) as server:
        port = int(server.url.rsplit(":", 1)[1])
        (tmp_path / "am.yml").write_text(config(port))
        am_port = free_port()
        am_log = (tmp_path / "am.log").open("wb")
        am = subprocess.Popen(
            [str(ALERTMANAGER), f"--config.file={tmp_path / 'am.yml'}",
             f"--storage.path={tmp_path / 'am-data'}",
             f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
            stdout=am_log, stderr=am_log,
        )  # fmt: skip
        api = f"http://127.0.0.1:{am_port}/api/v2"
        try:
            wait_for(lambda: _ready(api), 20, "Alertmanager to start")
            now = datetime.now(UTC)
            alerts = [
                alert("CheckoutDown", "a", now),
                alert("CheckoutDown", "b", now),
                alert("PaymentsLatency", "a", now),
            ]
            posted = request(
                f"{api}/alerts", json.dumps(alerts).encode(), {"Content-Type": "application/json"}
            )
            assert posted.status == 200, posted.body

            def incidents() -> list[Any]:
                with sqlite3.connect(server.store) as db:
                    return db.execute("SELECT id, status FROM incidents ORDER BY uid").fetchall()

            def alert_count() -> int:
                with sqlite3.connect(server.store) as db:
                    return int(db.execute("SELECT count(*) FROM alerts").fetchone()[0])

            # two groups (by alertname) -> two incidents; CheckoutDown's holds two alerts
            wait_for(lambda: len(incidents()) == 2 and alert_count() == 3, 20, "two incidents")
            assert [status for _id, status in incidents()] == ["open", "open"]

            # tier 2 is due 10 service minutes after the start: 5 real seconds at 120x
            def tier2() -> int:
                with sqlite3.connect(server.store) as db:
                    sql = "SELECT count(*) FROM timers WHERE action = 'escalate:t2c0' AND fired_at"
                    return int(db.execute(sql + " IS NOT NULL").fetchone()[0])

            wait_for(lambda: tier2() == 2, 20, "tier 2 to fire for both incidents")
            with sqlite3.connect(server.store) as db:
                pages = db.execute(
                    "SELECT count(*) FROM outbox WHERE notification = 'escalate:t2c0'"
                ).fetchone()[0]
            assert pages == 2

            # Alertmanager resolves CheckoutDown (both alerts) -> that incident resolves
            past = datetime.now(UTC) - timedelta(seconds=1)
            ended = [alert("CheckoutDown", i, now, past) for i in ("a", "b")]
            request(
                f"{api}/alerts", json.dumps(ended).encode(), {"Content-Type": "application/json"}
            )
            wait_for(
                lambda: sorted(s for _i, s in incidents()) == ["open", "resolved"],
                25,
                "CheckoutDown to resolve",
            )
        finally:
            am.terminate()
            am.wait(timeout=10)
            am_log.close()
    assert time.monotonic() - started < 60


def _ready(api: str) -> bool:
    try:
        return request(f"{api}/status", timeout=1).status == 200
    except OSError:
        return False
