"""Benchmarks of the incident store: responder commands as whole processes against the
import yardstick, `status` with 10,000 open incidents and `report` over 100,000 resolved
ones, on SQLite and on PostgreSQL.

Run from the repository root:

    python benchmarks/store_bench.py                       # SQLite, and PostgreSQL when
                                                           # initdb/pg_ctl are installed
    python benchmarks/store_bench.py --postgres URL        # an existing (empty) database
    python benchmarks/store_bench.py --quick               # fewer incidents and runs

The stores are generated from real logs: four incidents of different priorities are opened,
acknowledged and resolved through the responder API on the bundled library; their logs are
then copied under new ids and times (acknowledgement and resolution jittered), with the
summary rows the fold gives, in bulk. Results go to benchmarks/out/store-results.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench import OUT, REPO, machine, playbook_command, timed  # noqa: E402

from playbook_engine.load.incident import build_incident, pointer_span  # noqa: E402
from playbook_engine.speed.cache import cached_library  # noqa: E402
from playbook_engine.store import Responder, open_store  # noqa: E402
from playbook_engine.store.events import Event, encode, epoch  # noqa: E402
from playbook_engine.store.state import SUMMARY_COLUMNS, fold, summary_row  # noqa: E402
from playbook_engine.store.summary import EVENT_COLUMNS  # noqa: E402

LIBRARY = REPO / "playbooks"
START = datetime(2025, 3, 1, tzinfo=UTC)
NOW = datetime(2026, 3, 1, tzinfo=UTC)
TEMPLATES = [
    {"severity": "critical", "service": "checkout-api", "environment": "production",
     "customersAffected": 1200},
    {"severity": "major", "service": "search", "environment": "production",
     "customersAffected": 40},
    {"severity": "minor", "service": "reports", "environment": "production"},
    {"severity": "low", "service": "invoices", "environment": "staging", "customersAffected": 1},
]  # fmt: skip


def template_logs(resolved: bool) -> list[list[Event]]:
    """Real logs of four incidents, made by the responder on the bundled library."""
    logs = []
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(Path(folder) / "t.sqlite")
        responder = Responder(store, cached_library(LIBRARY), lambda: "git:template")
        t0 = START
        for number, fields in enumerate(TEMPLATES):
            ident = f"T-{number}"
            data = {"id": ident, "title": f"Template {number}", "startedAt": "2025-03-01T00:00:00Z",
                    **fields}  # fmt: skip
            responder.open(build_incident(data, pointer_span("<t>")), t0 + timedelta(minutes=2),
                           "alice")  # fmt: skip
            if resolved or number % 2 == 0:  # open copies of templates 1 and 3: unacknowledged
                responder.acknowledge(ident, t0 + timedelta(minutes=6 + 3 * number), "bob")
            state = store.state(ident)
            assert state is not None and state.classification is not None
            step = state.classification["steps"][0]
            responder.step(ident, step, "done", "", t0 + timedelta(minutes=20), "bob")
            if resolved:
                responder.resolve(ident, "fixed", t0 + timedelta(hours=2 + number), "bob")
            logs.append(store.events(ident))
        store.close()
    return logs


def copies(logs: list[list[Event]], count: int, prefix: str, seed: int) -> Iterator[list[Event]]:
    """`count` logs like the templates, spread over the year before NOW."""
    chance = random.Random(seed)
    span = (NOW - START).total_seconds() - 86400
    for index in range(count):
        log = logs[index % len(logs)]
        shift = timedelta(seconds=span * index / count)
        jitter = timedelta(minutes=chance.uniform(-4, 30))
        ident = f"{prefix}-{index}"
        out = []
        for event in log:
            late = jitter if event.kind in ("acknowledged", "resolved") else timedelta(0)
            data = event.data
            if event.kind == "opened":
                inner = dict(data["data"], id=ident,
                             startedAt=(START + shift).strftime("%Y-%m-%dT%H:%M:%SZ"))  # fmt: skip
                data = {**data, "data": inner}
            out.append(replace(event, incident=ident, at=event.at + shift + late, data=data))
        yield out


def fill(url: str, count_resolved: int, count_open: int) -> None:
    """Write the generated logs and their summary rows in bulk."""
    store = open_store(url)
    conn = store.conn
    events: list[tuple[Any, ...]] = []
    summaries: list[tuple[Any, ...]] = []
    playbooks: list[tuple[str, str]] = []
    for logs, count, prefix in (
        (template_logs(True), count_resolved, "R"),
        (template_logs(False), count_open, "O"),
    ):
        for log in copies(logs, count, prefix, seed=len(prefix) + count):
            for e in log:
                events.append((e.incident, e.n, e.kind, epoch(e.at), e.by, encode(e.data), e.key,
                               epoch(e.at)))  # fmt: skip
            state = fold(log)
            assert state is not None
            row = summary_row(state)
            summaries.append(tuple(row[c] for c in SUMMARY_COLUMNS))
            playbooks += [(state.id, p) for p in state.playbooks]
    columns = ", ".join(SUMMARY_COLUMNS)
    if conn.postgres:
        with conn.raw.cursor() as cursor:
            for table, names, rows in (
                ("pb_events", EVENT_COLUMNS, events),
                ("pb_incidents", columns, summaries),
                ("pb_incident_playbooks", "incident, playbook", playbooks),
            ):
                with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        conn.execute("ANALYZE")
    else:
        with conn.write():
            conn.executemany(f"INSERT INTO pb_events ({EVENT_COLUMNS}) VALUES "
                             f"({', '.join('?' * 8)})", events)  # fmt: skip
            conn.executemany(f"INSERT INTO pb_incidents ({columns}) VALUES "
                             f"({', '.join('?' * len(SUMMARY_COLUMNS))})", summaries)  # fmt: skip
            conn.executemany("INSERT INTO pb_incident_playbooks VALUES (?, ?)", playbooks)
        conn.execute("ANALYZE")
    store.close()


def in_process(url: str, repeat: int) -> dict[str, float]:
    """Best of `repeat`: the status list query and view, and the report's aggregates."""
    from playbook_engine.store.views import glance

    store = open_store(url)
    best: dict[str, float] = {}
    for name, work in (
        ("status query + view (ms)", lambda: glance(store.summaries(), NOW)),
        ("report aggregates (ms)", lambda: store.report(NOW - timedelta(days=365), NOW, NOW)),
    ):
        times = []
        for _ in range(repeat):
            began = time.perf_counter()
            work()
            times.append((time.perf_counter() - began) * 1000)
        best[name] = round(min(times), 1)
    store.close()
    return best


def process(url: str, runs: int, responders: bool) -> dict[str, Any]:
    """Whole-process timings, round-robin with the yardstick."""
    pb = playbook_command()
    at = (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    commands: dict[str, Any] = {
        "import yaml+jsonschema+jinja2+click": (
            [sys.executable, "-c", "import yaml, jsonschema, jinja2, click"], None),
        "status (10,000 open)": ([*pb, "status", "--store", url, "--at", at], None),
        "report (100,000 resolved)": (
            [*pb, "report", "--store", url, "--since", "365d", "--at", NOW.isoformat(),
             "--format", "json"], None),
    }  # fmt: skip
    if responders:
        counter = iter(range(10**9))
        ack = [*pb, "incident", "ack", "", "--store", url, "--library", "playbooks", "--at", at]
        step = [*pb, "incident", "step", "", "", "--store", url, "--library", "playbooks",
                "--at", at]  # fmt: skip
        steps = _last_steps(url)

        def next_ack() -> None:  # a copy of template 1: open, not acknowledged
            ack[3] = f"O-{4 * next(counter) + 1}"

        def next_step() -> None:  # a copy of template 3, its last step
            step[3], step[4] = f"O-{4 * next(counter) + 3}", steps[3]

        commands["incident ack"] = (ack, next_ack)
        commands["incident step"] = (step, next_step)
        commands["run (bundled, warm cache)"] = (
            [*pb, "run", "playbooks/incidents/01-gitlab-db-deletion.yaml", "--library",
             "playbooks", "--at", "2026-02-01T00:30:00Z"], None)  # fmt: skip
    return timed(commands, runs, 2)


def _last_steps(url: str) -> list[str]:
    store = open_store(url, create=False)
    steps = []
    for number in range(4):
        state = store.state(f"O-{number}")
        assert state is not None and state.classification is not None
        steps.append(state.classification["steps"][-1])
    store.close()
    return steps


@contextmanager
def postgres_url(given: str | None) -> Iterator[str | None]:
    """The PostgreSQL database to use: given, or a private server started here."""
    if given:
        yield given
        return
    sys.path.insert(0, str(REPO / "tests"))
    from pgkit import available, postgres

    if available() is not None:
        print(f"PostgreSQL skipped: {available()}")
        yield None
        return
    with postgres(Path(tempfile.mkdtemp()), socket_only=True) as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="an empty PostgreSQL database URL")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    resolved, opened, runs = (10_000, 1_000, 5) if args.quick else (100_000, 10_000, 21)
    OUT.mkdir(exist_ok=True)
    results: dict[str, Any] = {"machine": machine(), "resolved": resolved, "open": opened}
    sqlite = OUT / "store-bench.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{sqlite}{suffix}").unlink(missing_ok=True)
    began = time.perf_counter()
    fill(str(sqlite), resolved, opened)
    print(f"SQLite store filled in {time.perf_counter() - began:.0f} s", flush=True)
    results["sqlite"] = {"in process": in_process(str(sqlite), 5),
                         "process": process(str(sqlite), runs, True)}  # fmt: skip
    print(json.dumps(results["sqlite"], indent=1), flush=True)
    with postgres_url(args.postgres) as url:
        if url:
            began = time.perf_counter()
            fill(url, resolved, opened)
            print(f"PostgreSQL store filled in {time.perf_counter() - began:.0f} s", flush=True)
            results["postgresql"] = {"in process": in_process(url, 5),
                                     "process": process(url, runs, True)}  # fmt: skip
            print(json.dumps(results["postgresql"], indent=1), flush=True)
    (OUT / "store-results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"written {OUT / 'store-results.json'}")


if __name__ == "__main__":
    main()
