"""The serve ledger on a real PostgreSQL server: intake, and several processes (`tick`, `serve`
replicas) claiming due timers with `FOR UPDATE SKIP LOCKED`: each fires exactly once."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import PLAYBOOK
from pgkit import available, postgres
from servekit import LIBRARY, serving

from playbook_engine.serve.ledger import Ledger
from playbook_engine.serve.ports import AlertIn

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))
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


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with postgres(tmp_path_factory.mktemp("pg")) as running:
        yield running


def query(url: str, sql: str) -> list[Any]:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def reset(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("receipts", "incidents", "alerts", "events", "steps", "timers", "outbox",
                      "replan"):  # fmt: skip
            conn.execute(f"DROP TABLE IF EXISTS {table}")


def test_intake_is_idempotent_and_groups(url: str) -> None:
    reset(url)
    ledger = Ledger.postgres(url)
    at = datetime(2026, 3, 14, 2, 0, tzinfo=UTC)
    alert = AlertIn("am:{g}", "a1", True, {"id": "a1", "title": "x", "startedAt": T0})
    first = ledger.ingest("r1", [alert], at)
    assert len(first.opened) == 1
    assert ledger.ingest("r1", [alert], at).duplicate
    second = AlertIn("am:{g}", "a2", True, {"id": "a2", "title": "x", "startedAt": T0})
    assert ledger.ingest("r2", [second], at).updated == first.opened
    done = [AlertIn("am:{g}", k, False, {}) for k in ("a1", "a2")]
    assert ledger.ingest("r3", done, at + timedelta(minutes=1)).resolved == first.opened
    ledger.close()


def test_three_tick_processes_on_postgres_fire_each_timer_once(url: str, tmp_path: Path) -> None:
    reset(url)
    frozen = ("--start", T0, "--time-scale", "0", "--interval", "0", "--store", url)
    with serving(tmp_path, *frozen) as server:
        for n in range(40):
            assert server.post("/v1/incidents", dict(P1, id=f"INC-{n}")).status == 202
    command = [*PLAYBOOK, "tick", "--library", str(LIBRARY), "--store", url,
               "--at", "2026-03-14T03:00:00Z", "--format", "json"]  # fmt: skip
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    results = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    # t1, t2, respond-by, t3, and the repeat of t2 at 02:45, for each of 40 incidents
    assert sum(r["fired"] for r in results) == 40 * 5
    assert query(url, "SELECT count(*) FROM events WHERE kind = 'timer'") == [(200,)]
    again = [json.loads(p.communicate(timeout=120)[0]) for p in
             [subprocess.Popen(command, stdout=subprocess.PIPE, text=True)]]  # fmt: skip
    assert again[0]["fired"] == 0
    pages = query(
        url,
        "SELECT count(*), count(DISTINCT key) FROM outbox WHERE notification LIKE 'escalate:%%'",
    )
    assert pages == [(160, 160)]
