"""The store: open it, append to an incident's log in a transaction, read logs and summaries.

Every change runs in `Store.transaction(incident_id)`: the incident's log is read under the
write lock, the caller decides (and may refuse by raising: nothing is written), appends
events, and the summary row is updated from the fold of the whole log before the commit.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from playbook_engine.store.connection import Connection, connect
from playbook_engine.store.events import KINDS, Event, encode, epoch, moment
from playbook_engine.store.migrations import migrate
from playbook_engine.store.state import SUMMARY_COLUMNS, IncidentState, fold
from playbook_engine.store.summary import EVENT_COLUMNS, event_of, rebuild, upsert


class Transaction:
    """One incident's log under the write lock: read it, append to it."""

    def __init__(self, conn: Connection, incident: str) -> None:
        self.conn = conn
        self.incident = incident
        rows = conn.execute(
            f"SELECT {EVENT_COLUMNS} FROM pb_events WHERE incident = ? ORDER BY n", (incident,)
        ).fetchall()
        self.events: list[Event] = [event_of(row) for row in rows]
        self.appended: list[Event] = []
        self._state = fold(self.events)

    @property
    def state(self) -> IncidentState | None:
        """The incident as its log makes it now (None: no such incident yet)."""
        return self._state

    def append(
        self,
        kind: str,
        at: datetime,
        by: str,
        data: dict[str, Any] | None = None,
        key: str | None = None,
    ) -> Event | None:
        """Append an event; None (and nothing written) when `key` is in the log already."""
        if kind not in KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        if key is not None and any(e.key == key for e in self.events):
            return None
        if not self.events and kind != "opened":
            raise ValueError("an incident's log begins with `opened`")
        recorded = time.time()
        event = Event(
            self.incident, len(self.events) + 1, kind, at, by, dict(data or {}), key,
            moment(recorded),
        )  # fmt: skip
        self.conn.execute(
            f"INSERT INTO pb_events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (event.incident, event.n, kind, epoch(at), by, encode(event.data), key, recorded),
        )
        self.events.append(event)
        self.appended.append(event)
        self._state = fold(self.events)
        return event


class Store:
    """An open store (SQLite file or PostgreSQL database) at the current schema version."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @property
    def where(self) -> str:
        """The store's name for messages (a URL without its password)."""
        return self.conn.where

    @property
    def postgres(self) -> bool:
        """Whether the store is a PostgreSQL database."""
        return self.conn.postgres

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    @contextlib.contextmanager
    def transaction(self, incident: str) -> Iterator[Transaction]:
        """The incident's log under the write lock; what the block appends is committed with
        the summary row when it ends, nothing when it raises."""
        with self.conn.write(lock=incident) as conn:
            tx = Transaction(conn, incident)
            yield tx
            if tx.appended and tx.state is not None:
                upsert(conn, tx.state)

    # --- reading ------------------------------------------------------------------------

    def events(self, incident: str) -> list[Event]:
        """The incident's log, in order (empty: no such incident)."""
        with self.conn.read() as conn:
            rows = conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM pb_events WHERE incident = ? ORDER BY n",
                (incident,),
            ).fetchall()
        return [event_of(row) for row in rows]

    def state(self, incident: str) -> IncidentState | None:
        """The incident as its log makes it, or None."""
        return fold(self.events(incident))

    def summaries(self, open_only: bool = True) -> list[dict[str, Any]]:
        """Summary rows (see `fold.summary_row`), oldest first: the open (not resolved)
        incidents, or all of them."""
        # `stage IN (...)` reads the open incidents through the stage index (`<> 'resolved'`,
        # or an ORDER BY the started index serves, walked every resolved one too: 46 -> 26
        # ms for 10,000 open among 110,000); sorting them here is cheaper.
        where = "WHERE stage IN ('open', 'acknowledged')" if open_only else ""
        with self.conn.read() as conn:
            rows = conn.execute(
                f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM pb_incidents {where}"
            ).fetchall()
        started, ident = SUMMARY_COLUMNS.index("started"), SUMMARY_COLUMNS.index("id")
        rows.sort(key=lambda row: (row[started], row[ident]))
        return [dict(zip(SUMMARY_COLUMNS, row, strict=True)) for row in rows]

    def due(self, at: datetime) -> list[tuple[str, datetime, int]]:
        """The open incidents with an escalation tier due at `at` and not yet recorded:
        (incident, when, tier), earliest first — what a scheduler appends next."""
        with self.conn.read() as conn:
            rows = conn.execute(
                "SELECT id, next_escalation, next_tier FROM pb_incidents WHERE "
                "next_escalation IS NOT NULL AND next_escalation <= ? AND stage <> 'resolved' "
                "ORDER BY next_escalation, id",
                (epoch(at),),
            ).fetchall()
        return [(str(i), moment(float(w)), int(t)) for i, w, t in rows]

    def report(self, since: datetime, until: datetime, now: datetime) -> dict[str, Any]:
        """MTTA, MTTR, SLA compliance and rates of the incidents that started in
        [since, until), overall, by peak priority, by playbook and by week (see
        `store.report`)."""
        from playbook_engine.store.report import report

        return report(self.conn, since, until, now)

    def rebuild(self) -> int:
        """Rebuild every summary row from the log; how many incidents."""
        with self.conn.write(lock="pb-schema") as conn:
            return rebuild(conn)


def open_store(location: str | Path, create: bool = True, busy_timeout: float = 10.0) -> Store:
    """The store at `location`: an SQLite file (created on first use when `create`; else a
    missing file reads as an empty store) or a `postgresql://` URL. Older schemas are
    migrated; raises `StoreError` (ST101-ST104) when it cannot be used."""
    conn = connect(location, busy_timeout, create)
    try:
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return Store(conn)
