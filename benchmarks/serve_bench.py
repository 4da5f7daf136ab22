"""Benchmarks of `playbook serve` (loopback only, bounded runs):

- intake: alerts/s and p99 latency of `POST /v1/alerts/alertmanager` (one alert per webhook,
  each a new incident: stored, planned, timers and notifications written, committed) on
  SQLite, side by side with Alertmanager's own `POST /api/v2/alerts` on the same alerts;
- tick: one `playbook tick` pass (in process) over 10,000 open incidents with pending timers,
  with nothing due and with one tier due for every incident.

Usage: python benchmarks/serve_bench.py [--seconds 10] [--clients 8] [--incidents 10000]
Prints a JSON summary; docs/benchmarks.md records a run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "playbooks"
TOKEN = "bench-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(port: int, path: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"nothing answered on port {port}")


def alert(n: int, now: datetime) -> dict[str, Any]:
    return {
        "labels": {
            "alertname": f"Bench{n % 50}",
            "instance": f"host-{n}",
            "service": "checkout-api",
            "env": "production",
            "severity": "critical",
        },
        "annotations": {"summary": f"bench alert {n}"},
        "startsAt": now.isoformat(),
    }


def webhook(n: int, now: datetime, groups: int = 0) -> bytes:
    """One alert in a notification: of its own group (a new incident each), or of one of
    `groups` groups (further alerts of open incidents)."""
    item = alert(n, now)
    group = f"host-{n}" if not groups else f"group-{n % groups}"
    notification = {
        "receiver": "playbook",
        "status": "firing",
        "groupKey": f'{{}}:{{instance="{group}"}}',
        "version": "4",
        "groupLabels": {"instance": group},
        "commonLabels": item["labels"],
        "commonAnnotations": item["annotations"],
        "externalURL": "http://127.0.0.1",
        "alerts": [
            dict(item, status="firing", endsAt="0001-01-01T00:00:00Z", fingerprint=f"fp{n:08x}")
        ],
    }
    return json.dumps(notification).encode()


def load(
    port: int,
    path: str,
    body_of: Any,
    seconds: float,
    clients: int,
    headers: dict[str, str],
    limit: int = 10**9,
) -> dict[str, float]:
    """`clients` keep-alive connections posting for `seconds`: rate and latency percentiles."""
    latencies: list[float] = []
    errors = [0]
    counter = iter(range(10**9))
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop:
            with lock:
                n = next(counter)
            if n >= limit:
                return
            body = body_of(n)
            began = time.perf_counter()
            conn.request("POST", path, body, {"Content-Type": "application/json", **headers})
            answer = conn.getresponse()
            answer.read()
            took = time.perf_counter() - began
            with lock:
                latencies.append(took)
                if answer.status >= 300:
                    errors[0] += 1

    began = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2)

    return {
        "requests": len(latencies),
        "errors": errors[0],
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


def bench_serve(tmp: Path, seconds: float, clients: int, groups: int) -> dict[str, float]:
    port = free_port()
    env = {**os.environ, "PLAYBOOK_SERVE_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
    log = (tmp / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "playbook_engine", "serve", "--library", str(LIBRARY),
         "--store", str(tmp / f"bench-{groups}.sqlite"), "--port", str(port),
         "--log-level", "warning", "--interval", "3600"],
        env=env, stdout=log, stderr=log,
    )  # fmt: skip
    try:
        wait_http(port, "/healthz")
        now = datetime.now(UTC)
        result = load(
            port,
            "/v1/alerts/alertmanager",
            lambda n: webhook(n, now, groups),
            seconds,
            clients,
            {"Authorization": f"Bearer {TOKEN}"},
        )
        # planning (the engine's plan, timers, notifications) follows the commit: time the
        # backlog until every stored incident is planned, for the sustained rate
        began = time.monotonic()
        store = sqlite3.connect(tmp / f"bench-{groups}.sqlite")
        while store.execute("SELECT count(*) FROM replan").fetchone()[0]:
            time.sleep(0.05)
        drain = time.monotonic() - began
        store.close()
        result["planning_backlog_s"] = round(drain, 2)
        result["sustained_per_second"] = round(result["requests"] / (seconds + drain), 1)
        return result
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        log.close()


def bench_alertmanager(tmp: Path, seconds: float, clients: int) -> dict[str, float] | None:
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        return None
    port = free_port()
    config = tmp / "am.yml"
    config.write_text("route: {receiver: none}\nreceivers: [{name: none}]\n")
    log = (tmp / "am.log").open("wb")
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.path={tmp / 'am'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=log, stderr=log,
    )  # fmt: skip
    try:
        wait_http(port, "/api/v2/status")
        now = datetime.now(UTC)
        return load(
            port,
            "/api/v2/alerts",
            lambda n: json.dumps([alert(n, now)]).encode(),
            seconds,
            clients,
            {},
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def bench_tick(tmp: Path, incidents: int) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    from playbook_engine.deliver.destinations import Policy
    from playbook_engine.serve.ledger import Ledger
    from playbook_engine.serve.planning import follow
    from playbook_engine.serve.ports import AlertIn
    from playbook_engine.serve.scheduler import tick
    from playbook_engine.speed.cache import cached_library

    compiled = cached_library(LIBRARY)
    store = Ledger(tmp / "tick.sqlite")
    t0 = datetime(2026, 3, 14, 2, 0, tzinfo=UTC)
    began = time.perf_counter()
    batch = 500
    for start in range(0, incidents, batch):
        alerts = [
            AlertIn(
                f"incident:INC-{n}",
                f"INC-{n}",
                True,
                {
                    "id": f"INC-{n}",
                    "title": f"Checkout down {n}",
                    "startedAt": (t0 + timedelta(seconds=n % 60)).isoformat(),
                    "severity": "critical",
                    "service": "checkout-api",
                    "environment": "production",
                    "customersAffected": 5000,
                },
            )
            for n in range(start, min(incidents, start + batch))
        ]
        store.ingest(f"r{start}", alerts, t0, follow(compiled, t0))
    setup = time.perf_counter() - began
    policy = Policy()
    from playbook_engine.deliver.outbox import run

    # the notifications of the openings were sent (here: dry-run) as the incidents opened
    opening_notifications = run(store, t0, policy, live=False)
    # the first pass fires tier 1 (after 0m) of every incident: the worst case, all due at once
    began = time.perf_counter()
    first = tick(store, compiled, t0 + timedelta(minutes=1), policy, live=False)
    all_due = time.perf_counter() - began
    # a pass with nothing due (the common case between tiers)
    began = time.perf_counter()
    idle = tick(store, compiled, t0 + timedelta(minutes=5), policy, live=False)
    nothing_due = time.perf_counter() - began
    timers = store.count("timers", "fired_at IS NULL")
    return {
        "incidents": incidents,
        "pending_timers": timers,
        "setup_s": round(setup, 1),
        "opening_notifications": opening_notifications,
        "tick_all_due_s": round(all_due, 3),
        "fired": first.fired,
        "delivered_dry_run": first.delivered,
        "tick_nothing_due_s": round(nothing_due, 4),
        "fired_idle": idle.fired,
    }


def bench_replicas_pg(tmp: Path, alerts: int, clients: int) -> dict[str, Any] | None:
    """Two `serve` replicas on one PostgreSQL: `alerts` alerts (5 per group) split between
    them, the service clock at 600x; then count pages fired more than once (must be 0)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from pgkit import available, postgres

    if available() is not None:
        return None
    import psycopg

    with postgres(tmp) as url:
        env = {**os.environ, "PLAYBOOK_SERVE_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
        start = datetime.now(UTC).replace(microsecond=0)
        ports = [free_port(), free_port()]
        procs = []
        for n, port in enumerate(ports):
            log = (tmp / f"replica-{n}.log").open("wb")
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "playbook_engine",
                        "serve",
                        "--library",
                        str(LIBRARY),
                        "--store",
                        url,
                        "--port",
                        str(port),
                        "--log-level",
                        "warning",
                        "--interval",
                        "0.2",
                        "--start",
                        start.isoformat(),
                        "--time-scale",
                        "600",
                    ],
                    env=env,
                    stdout=log,
                    stderr=log,
                )  # fmt: skip
            )
            time.sleep(1)  # one creates the schema first
        try:
            for port in ports:
                wait_http(port, "/healthz")
            groups = alerts // 5
            began = time.monotonic()
            results: list[dict[str, float]] = []

            def post_half(half: int, port: int) -> None:
                results.append(
                    load(
                        port,
                        "/v1/alerts/alertmanager",
                        lambda n: webhook(2 * n + half, start, groups),
                        120,  # at most; the run ends after alerts/2 requests per replica
                        clients // 2,
                        {"Authorization": f"Bearer {TOKEN}"},
                        alerts // 2,
                    )
                )

            halves = [
                threading.Thread(target=post_half, args=(half, port))
                for half, port in enumerate(ports)
            ]
            for thread in halves:
                thread.start()
            for thread in halves:
                thread.join()
            intake_seconds = time.monotonic() - began
            sent = sum(int(r["requests"]) for r in results)
            # wait until tier 2 (10 service minutes = 1 s) fired for every incident
            deadline = time.monotonic() + 120
            with psycopg.connect(url) as conn:
                while time.monotonic() < deadline:
                    done = conn.execute(
                        "SELECT count(*) FROM timers WHERE action = 'escalate:t2c0' "
                        "AND fired_at IS NOT NULL"
                    ).fetchone()
                    total = conn.execute("SELECT count(*) FROM incidents").fetchone()
                    if done and total and done[0] >= total[0] > 0:
                        break
                    time.sleep(0.5)
                twice = conn.execute(
                    "SELECT count(*) FROM (SELECT incident_id, detail FROM events WHERE "
                    "kind = 'timer' GROUP BY incident_id, detail HAVING count(*) > 1) AS d"
                ).fetchone()
                pages = conn.execute(
                    "SELECT count(*), count(DISTINCT key) FROM outbox "
                    "WHERE notification LIKE 'escalate:%'"
                ).fetchone()
                incidents = conn.execute("SELECT count(*) FROM incidents").fetchone()
            assert twice is not None and pages is not None and incidents is not None
            return {
                "alerts_sent": sent,
                "incidents": incidents[0],
                "intake_seconds": round(intake_seconds, 1),
                "alerts_per_second_both": round(sent / intake_seconds, 1),
                "seconds_until_tier2_everywhere": round(time.monotonic() - began, 1),
                "pages": pages[0],
                "pages_distinct": pages[1],
                "timers_fired_twice": twice[0],
            }
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--incidents", type=int, default=10000)
    parser.add_argument(
        "--skip", choices=["intake", "tick", "replicas"], action="append", default=[]
    )
    parser.add_argument("--replica-alerts", type=int, default=10000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        result: dict[str, Any] = {}
        if "intake" not in args.skip:
            new = bench_serve(tmp, args.seconds, args.clients, 0)
            grouped = bench_serve(tmp, args.seconds, args.clients, 50)
            result["serve_sqlite_new_incidents"] = new
            result["serve_sqlite_50_groups"] = grouped
            result["alertmanager"] = bench_alertmanager(tmp, args.seconds, args.clients)
            if result["alertmanager"]:
                am_rate = result["alertmanager"]["per_second"]
                result["ratio_new"] = round(new["per_second"] / am_rate, 2)
                result["ratio_grouped"] = round(grouped["per_second"] / am_rate, 2)
        if "tick" not in args.skip:
            result["tick"] = bench_tick(tmp, args.incidents)
        if "replicas" not in args.skip:
            result["replicas_postgres"] = bench_replicas_pg(tmp, args.replica_alerts, args.clients)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
