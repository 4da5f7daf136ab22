"""The store's API on SQLite and PostgreSQL: the log, the fold, idempotency, refusals that
write nothing, the summary rebuilt from the log, and schema migrations from every earlier
version (a store written by a newer version is refused)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from storekit import LIBRARY, P1

from playbook_engine.load.incident import build_incident, pointer_span
from playbook_engine.speed.cache import cached_library
from playbook_engine.store import SCHEMA_VERSION, Responder, StoreError, fold, open_store
from playbook_engine.store.connection import connect
from playbook_engine.store.migrations import MIGRATIONS, SUMMARY_VERSION, migrate, version
from playbook_engine.store.store import Transaction

T0 = datetime(2026, 3, 14, 2, 17, tzinfo=UTC)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


_OPENED: list[Any] = []


@pytest.fixture(autouse=True)
def _close_stores() -> Iterator[None]:
    """Every store a test opens is closed after it (psycopg warns about open connections)."""
    yield
    while _OPENED:
        _OPENED.pop().close()


def store(url: str) -> Any:
    opened = open_store(url)
    _OPENED.append(opened)
    return opened


def responder(url: str) -> Responder:
    return Responder(store(url), cached_library(LIBRARY), lambda: "test-version")


def incident(**changes: Any) -> Any:
    return build_incident({**P1, **changes}, pointer_span("<test>"))


def a_life(r: Responder, ident: str = "INC-7") -> None:
    """Open, acknowledge, tick, reclassify, resolve and reopen one incident."""
    r.open(incident(id=ident), minutes(3), "alice")
    r.acknowledge(ident, minutes(12), "bob")
    r.step(ident, "open-bridge", "done", "", minutes(13), "bob")
    r.note(ident, "looking at the load balancer", minutes(14), "carol")
    r.reclassify(ident, ["labels.team=payments"], minutes(15), "bob")
    r.resolve(ident, "rolled back", minutes(90), "bob")
    r.reopen(ident, "came back", minutes(120), "alice")


def test_the_log_is_the_state(store_url: str) -> None:
    r = responder(store_url)
    a_life(r)
    log = r.store.events("INC-7")
    state = fold(log)
    assert state is not None and state == r.store.state("INC-7")
    assert state.stage == "acknowledged" and state.reopened == 1
    assert state.acknowledged_by == "bob" and state.resolved_at is None
    assert state.data["labels"] == {"team": "payments"}
    assert state.incident()["status"] == "acknowledged"
    assert state.incident()["acknowledgedAt"] == "2026-03-14T02:29:00Z"
    # a prefix of the log is the incident as it was then
    resolved = fold(e for e in log if e.at <= minutes(90) and e.kind != "reopened")
    assert resolved is not None and resolved.stage == "resolved"
    (row,) = r.store.summaries()
    assert row["id"] == "INC-7" and row["events"] == len(log) and row["reopened"] == 1


def test_appending_is_idempotent_by_key(store_url: str) -> None:
    r = responder(store_url)
    r.open(incident(), minutes(1), "alice")
    first = r.note("INC-7", "paged the DBA", minutes(2), "bob", key="chat-msg-1")
    again = r.note("INC-7", "paged the DBA", minutes(2), "bob", key="chat-msg-1")
    assert first.action == "noted" and again.action == "unchanged" and again.events == ()
    assert [e.kind for e in r.store.events("INC-7")].count("note") == 1
    assert r.open(incident(), minutes(3), "alice").action == "unchanged"


def test_a_refusal_or_an_error_inside_a_transaction_writes_nothing(store_url: str) -> None:
    r = responder(store_url)
    r.open(incident(), minutes(1), "alice")
    before = r.store.events("INC-7")
    with pytest.raises(StoreError) as refused:
        r.step("INC-7", "no-such-step", "done", "", minutes(2), "bob")
    assert refused.value.code == "ST113"
    with pytest.raises(RuntimeError), r.store.transaction("INC-7") as tx:
        tx.append("note", minutes(3), "bob", {"text": "half"})
        raise RuntimeError("crash between two appends")
    assert r.store.events("INC-7") == before
    assert r.store.summaries()[0]["events"] == len(before)


def test_a_writer_waits_for_another_and_sees_its_event(store_url: str) -> None:
    """The lock is taken before the log is read: the second acknowledgement, started while
    the first transaction is open, waits, then finds the incident acknowledged."""
    first, second = responder(store_url), responder(store_url)
    first.open(incident(), minutes(1), "alice")
    inside, results = threading.Event(), {}

    def slow_ack() -> None:
        with first.store.transaction("INC-7") as tx:
            inside.set()
            time.sleep(0.6)
            tx.append("acknowledged", minutes(5), "bob")

    thread = threading.Thread(target=slow_ack)
    thread.start()
    inside.wait(5)
    started = time.monotonic()
    try:
        second.acknowledge("INC-7", minutes(6), "carol")
    except StoreError as exc:
        results["refused"] = exc
    waited = time.monotonic() - started
    thread.join()
    assert waited > 0.3  # it waited for the lock ...
    assert results["refused"].code == "ST112"  # ... and was told
    assert "already acknowledged (by bob" in results["refused"].message
    assert [e.kind for e in second.store.events("INC-7")].count("acknowledged") == 1


def test_due_lists_the_next_escalations(store_url: str) -> None:
    r = responder(store_url)
    r.open(incident(), minutes(1), "alice")
    r.open(incident(id="INC-8"), minutes(1), "alice")
    r.acknowledge("INC-8", minutes(2), "bob")
    assert r.store.due(minutes(5)) == []
    assert r.store.due(minutes(10)) == [("INC-7", minutes(10), 2)]


def test_the_summary_is_rebuilt_from_the_log(store_url: str) -> None:
    r = responder(store_url)
    a_life(r)
    a_life(r, "INC-9")
    before = r.store.summaries(open_only=False)
    conn = r.store.conn
    with conn.write():
        conn.execute("UPDATE pb_incidents SET stage = 'bogus', events = 0")
    assert r.store.rebuild() == 2
    assert r.store.summaries(open_only=False) == before
    # a store whose summary was derived by other code is rebuilt when opened
    with conn.write():
        conn.execute("UPDATE pb_incidents SET stage = 'bogus'")
        conn.execute("UPDATE pb_meta SET value = '0' WHERE key = 'summary_version'")
    reopened = store(store_url)
    assert reopened.summaries(open_only=False) == before
    row = reopened.conn.execute("SELECT value FROM pb_meta WHERE key = 'summary_version'")
    assert row.fetchone()[0] == str(SUMMARY_VERSION)


def test_every_schema_version_has_its_migration() -> None:
    assert sorted(MIGRATIONS) == list(range(1, SCHEMA_VERSION + 1))


@pytest.mark.parametrize("old", range(1, SCHEMA_VERSION))
def test_a_store_of_every_earlier_version_is_migrated(store_url: str, old: int) -> None:
    """A store at version `old` holding a log reads, once opened, as the same log written by
    this version: same events, same summaries, same report."""
    current = store_url
    r = responder(current)
    a_life(r)
    a_life(r, "INC-9")
    log = {i: r.store.events(i) for i in ("INC-7", "INC-9")}
    expected = r.store.summaries(open_only=False)
    report = r.store.report(T0 - timedelta(days=1), T0 + timedelta(days=1), T0)
    r.store.close()
    _drop_everything(current)
    conn = connect(current)
    assert migrate(conn, target=old) == 0 and version(conn) == old
    with conn.write():  # the log as version `old` stored it
        for events in log.values():
            tx = Transaction(conn, events[0].incident)
            for e in events:
                tx.append(e.kind, e.at, e.by, e.data, e.key)
    conn.close()
    migrated = store(current)
    assert version(migrated.conn) == SCHEMA_VERSION
    for ident, events in log.items():  # `recorded` differs: when each row was written
        assert [(e.n, e.kind, e.at, e.by, e.data, e.key) for e in migrated.events(ident)] == [
            (e.n, e.kind, e.at, e.by, e.data, e.key) for e in events
        ]
    assert migrated.summaries(open_only=False) == expected
    assert migrated.report(T0 - timedelta(days=1), T0 + timedelta(days=1), T0) == report


def _drop_everything(url: str) -> None:
    conn = connect(url)
    with conn.write():
        for table in ("pb_incident_playbooks", "pb_incidents", "pb_events", "pb_meta"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.close()


def test_a_store_written_by_a_newer_version_is_refused(store_url: str) -> None:
    r = responder(store_url)
    r.open(incident(), minutes(1), "alice")
    with r.store.conn.write():
        r.store.conn.execute(
            "UPDATE pb_meta SET value = ? WHERE key = 'schema_version'",
            (str(SCHEMA_VERSION + 1),),
        )
    r.store.close()
    with pytest.raises(StoreError) as refused:
        open_store(store_url)
    assert refused.value.code == "ST102"
    assert refused.value.message == (
        f"the store was written by a newer playbook-engine (schema version "
        f"{SCHEMA_VERSION + 1}; this one reads up to {SCHEMA_VERSION}); nothing was read or "
        "written"
    )


def test_events_round_trip_as_json(store_url: str) -> None:
    r = responder(store_url)
    r.open(incident(title='Ünïcode \u202e and "quotes"'), minutes(1), "zoë")
    (opened,) = [e for e in r.store.events("INC-7") if e.kind == "opened"]
    assert opened.data["data"]["title"] == 'Ünïcode \u202e and "quotes"' and opened.by == "zoë"
    assert json.loads(json.dumps(opened.as_dict()))["at"] == "2026-03-14T02:18:00Z"


@pytest.mark.parametrize(
    "seconds", [0, 1, 1_741_000_000, 1_741_000_000.5, 253_402_300_799, -1, -86_400.25]
)
def test_iso_seconds_writes_what_iso_writes(seconds: float) -> None:
    from playbook_engine.store.events import iso, iso_seconds, moment

    assert iso_seconds(seconds) == iso(moment(seconds))
