"""The serve ledger: incidents, their alerts, event log, timers and outbox in one SQLite file.

SQLite in WAL mode with `synchronous=FULL` (a committed alert survives power loss), a busy
timeout, and `BEGIN IMMEDIATE` for every read-modify-write, so several processes (`serve`
replicas, `tick` from cron, responders) serialise their writes instead of racing. Uniqueness
is what makes it exactly-once: a payload's receipt key, a timer's (incident, action, due time)
and an outbox row's (incident, notification, revision) are primary keys, claimed in the same
transaction as the work they stand for.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playbook_engine.serve.dialect import Db, postgres_schema
from playbook_engine.serve.ports import (
    AlertIn,
    IncidentRow,
    IntakeResult,
    OutboxItem,
    StoreUnavailable,
    Timer,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS receipts (key TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS incidents (
  uid INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  grp TEXT NOT NULL,
  status TEXT NOT NULL,
  opened_at REAL NOT NULL,
  resolved_at REAL,
  acknowledged_at REAL,
  revision INTEGER NOT NULL DEFAULT 1,
  data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_grp ON incidents (grp, uid);
CREATE INDEX IF NOT EXISTS incidents_status ON incidents (status);
CREATE TABLE IF NOT EXISTS alerts (
  incident_id TEXT NOT NULL, key TEXT NOT NULL, firing INTEGER NOT NULL, at REAL NOT NULL,
  PRIMARY KEY (incident_id, key)
);
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  incident_id TEXT NOT NULL, at REAL NOT NULL, kind TEXT NOT NULL, by TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_incident ON events (incident_id, seq);
CREATE TABLE IF NOT EXISTS steps (
  incident_id TEXT NOT NULL, step_id TEXT NOT NULL, state TEXT NOT NULL, note TEXT NOT NULL,
  PRIMARY KEY (incident_id, step_id)
);
CREATE TABLE IF NOT EXISTS timers (
  incident_id TEXT NOT NULL, action TEXT NOT NULL, due_at REAL NOT NULL, fired_at REAL,
  outcome TEXT, subject TEXT NOT NULL DEFAULT '', body TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (incident_id, action, due_at)
);
CREATE INDEX IF NOT EXISTS timers_due ON timers (fired_at, due_at);
CREATE INDEX IF NOT EXISTS timers_incident ON timers (incident_id);
CREATE TABLE IF NOT EXISTS outbox (
  key TEXT PRIMARY KEY, incident_id TEXT NOT NULL, channel TEXT NOT NULL,
  notification TEXT NOT NULL, revision TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL,
  state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL,
  last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_at);
CREATE TABLE IF NOT EXISTS replan (incident_id TEXT PRIMARY KEY);
"""

Follow = Callable[[IncidentRow], tuple[list[Timer], list[OutboxItem]]]
"""What an incident's plan asks for now: its pending timers and the notifications to send."""

FLAP_WINDOW = timedelta(minutes=10)
"""A group whose incident resolved less than this long ago reopens it when an alert fires again
(a flapping alert); later, a new incident opens."""


def _ts(moment: datetime) -> float:
    return moment.timestamp()


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _queued(item: OutboxItem) -> str:
    return f"{item.notification} to {item.channel} queued (revision {item.revision})"


def incident_id_for(group: str) -> str:
    """A short, stable, URL-safe incident id for a group key (group keys can be long)."""
    return "inc-" + hashlib.sha256(group.encode()).hexdigest()[:12]


class Ledger:
    """The ledger; thread-safe (one connection, one lock), process-safe (the database's locks).

    `Ledger(path)` is an SQLite file; `Ledger.postgres(url)` a PostgreSQL database (psycopg 3),
    for replicas on several machines: due timers and outbox rows are claimed with
    `SELECT ... FOR UPDATE SKIP LOCKED`, intake takes the incidents table's share-row-exclusive
    lock so two replicas never open the same group twice.
    """

    def __init__(
        self,
        path: Path | str,
        flap_window: timedelta = FLAP_WINDOW,
        busy_timeout: float = 10.0,
    ) -> None:
        self.path = path
        self.flap_window = flap_window
        self._lock = threading.Lock()
        self._busy_timeout = busy_timeout
        self._postgres = isinstance(path, str) and path.startswith(("postgresql://", "postgres://"))
        self._errors: tuple[type[Exception], ...] = (sqlite3.DatabaseError,)
        if self._postgres:
            import psycopg

            self._errors = (psycopg.OperationalError, psycopg.InterfaceError)
        self._db = self._connect()

    @classmethod
    def postgres(cls, url: str, flap_window: timedelta = FLAP_WINDOW) -> Ledger:
        """The ledger in the PostgreSQL database at `url`."""
        return cls(url, flap_window)

    def _connect(self) -> Db:
        try:
            if self._postgres:
                import psycopg

                raw: Any = psycopg.connect(
                    str(self.path), autocommit=True, connect_timeout=max(1, int(self._busy_timeout))
                )
                db = Db(raw, True)
                db.execute("SELECT pg_advisory_lock(724061)")  # one schema creation at a time
                try:
                    raw.execute(postgres_schema(SCHEMA))
                finally:
                    db.execute("SELECT pg_advisory_unlock(724061)")
                return db
            raw = sqlite3.connect(
                self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
            )
            raw.execute("PRAGMA journal_mode=WAL")
            raw.execute("PRAGMA synchronous=FULL")
            raw.executescript(SCHEMA)
            return Db(raw, False)
        except Exception as exc:
            if not isinstance(exc, (sqlite3.Error, *self._errors)):
                raise
            raise StoreUnavailable(f"{self._shown()}: cannot open the store: {exc}") from None

    def _shown(self) -> str:
        """The store's name for messages, without a URL's password."""
        text = str(self.path)
        return re.sub(r"//([^:/@]*):[^@]*@", r"//\1:***@", text)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.raw.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[Db]:
        with self._lock:
            if self._postgres and self._db.raw.closed:
                self._db = self._connect()  # the connection was lost: a new one
            try:
                self._db.execute("BEGIN" if self._postgres else "BEGIN IMMEDIATE")
            except self._errors as exc:
                raise StoreUnavailable(f"store busy or unavailable: {exc}") from None
            try:
                yield self._db
                self._db.execute("COMMIT")
            except self._errors as exc:  # disk full, I/O error, locked, connection lost
                self._rollback()
                raise StoreUnavailable(f"store write failed: {exc}") from None
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        # SQLite may already have rolled back (a full disk does): nothing left to undo then
        if self._postgres or self._db.raw.in_transaction:
            with contextlib.suppress(Exception):
                self._db.execute("ROLLBACK")

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            if self._postgres and self._db.raw.closed:
                try:
                    self._db = self._connect()
                except StoreUnavailable:
                    raise
            try:
                rows: list[Any] = self._db.execute(sql, args).fetchall()
                return rows
            except self._errors as exc:
                raise StoreUnavailable(f"store read failed: {exc}") from None

    def healthy(self) -> bool:
        """Whether the store answers a query."""
        try:
            self._read("SELECT 1")
        except StoreUnavailable:
            return False
        return True

    # --- intake -------------------------------------------------------------------------

    def ingest(
        self,
        receipt: str,
        alerts: Sequence[AlertIn],
        at: datetime,
        follow: Follow | None = None,
    ) -> IntakeResult:
        """Record one payload's alerts, idempotently by `receipt`; commits before returning.
        `follow` gives each touched open incident's timers and notifications, written in the
        same transaction (so an alert is never stored without its escalation)."""
        opened: list[str] = []
        updated: list[str] = []
        reopened: list[str] = []
        resolved: list[str] = []
        changed: list[str] = []  # updated in a way that changes the plan (acknowledged)
        now = _ts(at)
        with self._write() as db:
            if db.postgres:  # SQLite's BEGIN IMMEDIATE already serialises writers
                db.execute("LOCK TABLE incidents IN SHARE ROW EXCLUSIVE MODE")
            if db.execute("SELECT 1 FROM receipts WHERE key = ?", (receipt,)).fetchone():
                return IntakeResult(duplicate=True)
            db.execute("INSERT INTO receipts VALUES (?, ?)", (receipt, now))
            for alert in alerts:
                row = db.execute(
                    "SELECT id, status, resolved_at, uid FROM incidents WHERE grp = ? "
                    "ORDER BY uid DESC LIMIT 1",
                    (alert.group,),
                ).fetchone()
                if alert.firing:
                    if row is None or (
                        row[1] == "resolved" and now - row[2] > self.flap_window.total_seconds()
                    ):
                        ident = self._open(db, alert, row, now)
                        opened.append(ident)
                    elif row[1] == "resolved":
                        ident = row[0]
                        db.execute(
                            "UPDATE incidents SET status = 'open', resolved_at = NULL, "
                            "revision = revision + 1 WHERE id = ?",
                            (ident,),
                        )
                        self._event(db, ident, now, "reopened", "intake", alert.key)
                        reopened.append(ident)
                    else:
                        ident = row[0]
                        updated.append(ident)
                    self._alert(db, ident, alert, now)
                    if alert.data.get("status") == "acknowledged" and self._acknowledge(
                        db, ident, now, "intake"
                    ):
                        changed.append(ident)
                elif row is not None and row[1] == "open":
                    ident = row[0]
                    self._alert(db, ident, alert, now)
                    firing = db.execute(
                        "SELECT count(*) FROM alerts WHERE incident_id = ? AND firing = 1",
                        (ident,),
                    ).fetchone()[0]
                    if firing == 0:
                        self._resolve(db, ident, now, "intake", "every alert resolved")
                        resolved.append(ident)
                    else:
                        updated.append(ident)
            # a further alert of an open incident changes nothing the plan reads (the
            # incident's data is its first alert's), so only these are planned again
            touched = list(dict.fromkeys([*opened, *reopened, *changed]))
            if follow is not None:
                for ident in touched:
                    self._follow(db, ident, follow, now)
            else:  # planned soon by `plan_pending`, committed now so no restart loses it
                db.executemany(
                    "INSERT OR IGNORE INTO replan VALUES (?)", [(ident,) for ident in touched]
                )
        new = {*opened, *reopened}
        return IntakeResult(
            False,
            tuple(dict.fromkeys(opened)),
            tuple(i for i in dict.fromkeys(updated) if i not in new and i not in resolved),
            tuple(dict.fromkeys(reopened)),
            tuple(dict.fromkeys(resolved)),
        )

    def _follow(self, db: Db, ident: str, follow: Follow, now: float) -> None:
        found = db.execute(f"SELECT {self._COLUMNS} FROM incidents WHERE id = ?", (ident,))
        row = self._row(found.fetchone(), db)
        timers, items = follow(row)
        db.execute("DELETE FROM timers WHERE incident_id = ? AND fired_at IS NULL", (ident,))
        db.executemany(
            "INSERT OR IGNORE INTO timers (incident_id, action, due_at, subject, body) "
            "VALUES (?, ?, ?, ?, ?)",
            [(t.incident_id, t.action, _ts(t.due_at), t.subject, t.body) for t in timers],
        )
        self._enqueue(db, items, now)

    def plan_pending(self, follow: Follow, at: datetime, limit: int = 200) -> int:
        """Plan the incidents intake marked (timers and notifications); how many."""
        done = 0
        while True:
            with self._write() as db:
                rows = db.execute("SELECT incident_id FROM replan LIMIT ?", (limit,)).fetchall()
                for (ident,) in rows:
                    status = db.execute(
                        "SELECT status FROM incidents WHERE id = ?", (ident,)
                    ).fetchone()
                    if status is not None and status[0] == "open":
                        self._follow(db, ident, follow, _ts(at))
                    db.execute("DELETE FROM replan WHERE incident_id = ?", (ident,))
            done += len(rows)
            if len(rows) < limit:
                return done

    def refresh(self, incident_id: str, follow: Follow, at: datetime) -> None:
        """Recompute an open incident's timers and notifications (after an ack, a step)."""
        with self._write() as db:
            found = db.execute(
                "SELECT status FROM incidents WHERE id = ?", (incident_id,)
            ).fetchone()
            if found is not None and found[0] == "open":
                self._follow(db, incident_id, follow, _ts(at))

    def _open(self, db: Db, alert: AlertIn, previous: Any, now: float) -> str:
        ident = incident_id_for(alert.group)
        if previous is not None:
            count = db.execute(
                "SELECT count(*) FROM incidents WHERE grp = ?", (alert.group,)
            ).fetchone()[0]
            ident = f"{ident}-{count + 1}"
        data = dict(alert.data)
        data["id"] = ident
        db.execute(
            "INSERT INTO incidents (id, grp, status, opened_at, data) VALUES (?, ?, 'open', ?, ?)",
            (ident, alert.group, now, json.dumps(data, sort_keys=True)),
        )
        self._event(db, ident, now, "opened", "intake", str(data.get("title", "")))
        return ident

    def _alert(self, db: Db, ident: str, alert: AlertIn, now: float) -> None:
        db.execute(
            "INSERT INTO alerts VALUES (?, ?, ?, ?) ON CONFLICT (incident_id, key) "
            "DO UPDATE SET firing = excluded.firing, at = excluded.at",
            (ident, alert.key, int(alert.firing), now),
        )
        self._event(
            db,
            ident,
            now,
            "alert",
            "intake",
            f"{alert.key} {'firing' if alert.firing else 'resolved'}",
        )

    def _resolve(self, db: Db, ident: str, now: float, by: str, why: str) -> None:
        db.execute(
            "UPDATE incidents SET status = 'resolved', resolved_at = ? WHERE id = ?", (now, ident)
        )
        db.execute("DELETE FROM timers WHERE incident_id = ? AND fired_at IS NULL", (ident,))
        self._event(db, ident, now, "resolved", by, why)

    @staticmethod
    def _event(db: Db, ident: str, now: float, kind: str, by: str, detail: str) -> None:
        db.execute(
            "INSERT INTO events (incident_id, at, kind, by, detail) VALUES (?, ?, ?, ?, ?)",
            (ident, now, kind, by, detail),
        )

    # --- reading ------------------------------------------------------------------------

    _COLUMNS = "id, status, data, opened_at, resolved_at, acknowledged_at, revision"

    def _row(self, row: Any, db: Db | None = None) -> IncidentRow:
        ident = row[0]
        sql = "SELECT step_id, state, note FROM steps WHERE incident_id = ?"
        found = db.execute(sql, (ident,)).fetchall() if db else self._read(sql, (ident,))
        steps = {step: (state, note) for step, state, note in found}
        opened = _dt(row[3])
        assert opened is not None
        return IncidentRow(
            ident, row[1], json.loads(row[2]), opened, _dt(row[4]), _dt(row[5]), row[6], steps
        )

    def incident(self, incident_id: str) -> IncidentRow | None:
        """One incident, or None."""
        rows = self._read(f"SELECT {self._COLUMNS} FROM incidents WHERE id = ?", (incident_id,))
        return self._row(rows[0]) if rows else None

    def open_incidents(self) -> list[IncidentRow]:
        """The open incidents, oldest first."""
        rows = self._read(
            f"SELECT {self._COLUMNS} FROM incidents WHERE status = 'open' ORDER BY opened_at, uid"
        )
        return [self._row(row) for row in rows]

    def incidents(self) -> list[IncidentRow]:
        """Every incident, oldest first."""
        rows = self._read(f"SELECT {self._COLUMNS} FROM incidents ORDER BY uid")
        return [self._row(row) for row in rows]

    def timeline(self, incident_id: str) -> list[dict[str, Any]]:
        """The incident's events in order."""
        rows = self._read(
            "SELECT at, kind, by, detail FROM events WHERE incident_id = ? ORDER BY seq",
            (incident_id,),
        )
        return [
            {"at": _dt(at), "kind": kind, "by": by, "detail": detail}
            for at, kind, by, detail in rows
        ]

    def count(self, table: str, where: str = "1 = 1", args: Sequence[Any] = ()) -> int:
        """Rows of a ledger table (for metrics and tests)."""
        if table not in {"incidents", "alerts", "events", "timers", "outbox", "receipts"}:
            raise ValueError(table)
        return int(self._read(f"SELECT count(*) FROM {table} WHERE {where}", args)[0][0])

    # --- responders ---------------------------------------------------------------------

    def append(self, incident_id: str, kind: str, by: str, at: datetime, detail: str) -> None:
        """An event with no other effect (a note)."""
        with self._write() as db:
            self._event(db, incident_id, _ts(at), kind, by, detail)

    def acknowledge(self, incident_id: str, by: str, at: datetime) -> bool:
        """Acknowledge an open, unacknowledged incident; False when it was not."""
        with self._write() as db:
            return self._acknowledge(db, incident_id, _ts(at), by)

    def _acknowledge(self, db: Db, ident: str, now: float, by: str) -> bool:
        cur = db.execute(
            "UPDATE incidents SET acknowledged_at = ? WHERE id = ? AND status = 'open' "
            "AND acknowledged_at IS NULL",
            (now, ident),
        )
        if cur.rowcount:
            self._event(db, ident, now, "acknowledged", by, "")
        return bool(cur.rowcount)

    def resolve(self, incident_id: str, by: str, at: datetime, why: str = "") -> bool:
        """Resolve an open incident by hand; False when it was not open."""
        with self._write() as db:
            row = db.execute("SELECT status FROM incidents WHERE id = ?", (incident_id,)).fetchone()
            if row is None or row[0] != "open":
                return False
            db.execute("UPDATE alerts SET firing = 0 WHERE incident_id = ?", (incident_id,))
            self._resolve(db, incident_id, _ts(at), by, why or "resolved by hand")
            return True

    def mark_step(
        self, incident_id: str, step: str, state: str, note: str, by: str, at: datetime
    ) -> None:
        """Mark a checklist step done or skipped (with a note)."""
        with self._write() as db:
            db.execute(
                "INSERT INTO steps VALUES (?, ?, ?, ?) ON CONFLICT (incident_id, step_id) "
                "DO UPDATE SET state = excluded.state, note = excluded.note",
                (incident_id, step, state, note),
            )
            self._event(db, incident_id, _ts(at), f"step {state}", by, f"{step} {note}".strip())

    # --- timers -------------------------------------------------------------------------

    def set_timers(self, incident_id: str, timers: Sequence[Timer]) -> None:
        """Replace the incident's pending timers; fired ones stay (and are never re-added)."""
        with self._write() as db:
            db.execute(
                "DELETE FROM timers WHERE incident_id = ? AND fired_at IS NULL", (incident_id,)
            )
            db.executemany(
                "INSERT OR IGNORE INTO timers (incident_id, action, due_at, subject, body) "
                "VALUES (?, ?, ?, ?, ?)",
                [(t.incident_id, t.action, _ts(t.due_at), t.subject, t.body) for t in timers],
            )

    def next_due(self, incident_id: str) -> Timer | None:
        """The incident's next pending timer."""
        rows = self._read(
            "SELECT action, due_at FROM timers WHERE incident_id = ? AND fired_at IS NULL "
            "ORDER BY due_at LIMIT 1",
            (incident_id,),
        )
        if not rows:
            return None
        due = _dt(rows[0][1])
        assert due is not None
        return Timer(incident_id, rows[0][0], due)

    def fire_due(
        self,
        at: datetime,
        decide: Callable[[datetime | None, Timer], tuple[str, list[OutboxItem]]],
        limit: int = 2000,
    ) -> list[tuple[Timer, str]]:
        """Fire the timers due at `at`: each is claimed, decided, its outbox rows enqueued and
        its fire recorded in one transaction, so it fires once even across restarts and
        processes. `decide`, given the incident's acknowledgement time and the timer, gives an
        outcome (`fired`, `cancelled: why`) and the notifications."""
        fired: list[tuple[Timer, str]] = []
        now = _ts(at)
        while True:
            with self._write() as db:
                rows = db.execute(
                    "SELECT t.incident_id, t.action, t.due_at, t.subject, t.body, i.status, "
                    "i.acknowledged_at FROM timers t LEFT JOIN incidents i ON i.id = t.incident_id "
                    "WHERE t.fired_at IS NULL AND t.due_at <= ? ORDER BY t.due_at LIMIT ?"
                    + (" FOR UPDATE OF t SKIP LOCKED" if db.postgres else ""),
                    (now, limit),
                ).fetchall()
                updates, events, queued = [], [], []
                for ident, action, due, subject, body, status, acked in rows:
                    due_at = _dt(due)
                    assert due_at is not None
                    timer = Timer(ident, action, due_at, subject, body)
                    if status != "open":
                        outcome, items = "cancelled: incident not open", list[OutboxItem]()
                    else:
                        outcome, items = decide(_dt(acked), timer)
                    updates.append((now, outcome, ident, action, due))
                    events.append((ident, now, "timer", "scheduler", f"{action}: {outcome}"))
                    queued.extend(items)
                    fired.append((timer, outcome))
                # batched: one statement each for the claims, their events and the pages
                db.executemany(
                    "UPDATE timers SET fired_at = ?, outcome = ? WHERE incident_id = ? "
                    "AND action = ? AND due_at = ? AND fired_at IS NULL",
                    updates,
                )
                db.executemany(
                    "INSERT INTO events (incident_id, at, kind, by, detail) VALUES (?, ?, ?, ?, ?)",
                    events,
                )
                self._enqueue(db, queued, now)
            if len(rows) < limit:
                return fired

    # --- outbox -------------------------------------------------------------------------

    def enqueue(self, items: Sequence[OutboxItem], at: datetime) -> int:
        """Add notifications to the outbox; a key already there is left alone. How many new."""
        with self._write() as db:
            return self._enqueue(db, items, _ts(at))

    def _enqueue(self, db: Db, items: Sequence[OutboxItem], now: float) -> int:
        sql = (
            "INSERT OR IGNORE INTO outbox (key, incident_id, channel, notification, revision,"
            " subject, body, state, next_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)"
        )
        rows = [
            (i.key, i.incident_id, i.channel, i.notification, i.revision, i.subject, i.body, now)
            for i in items
        ]
        if db.postgres:
            fresh = [
                item for item, row in zip(items, rows, strict=True) if db.execute(sql, row).rowcount
            ]
        else:
            before = db.raw.total_changes
            db.executemany(sql, rows)
            if db.raw.total_changes - before == len(items):
                fresh = list(items)
            else:  # some keys were there already: record only the new ones
                fresh = [
                    i
                    for i in items
                    if db.execute(
                        "SELECT 1 FROM events WHERE incident_id = ? AND kind = 'notification' "
                        "AND detail = ?",
                        (i.incident_id, _queued(i)),
                    ).fetchone()
                    is None
                ]
        db.executemany(
            "INSERT INTO events (incident_id, at, kind, by, detail) VALUES (?, ?, ?, ?, ?)",
            [(i.incident_id, now, "notification", "outbox", _queued(i)) for i in fresh],
        )
        return len(fresh)

    def claim_outbox(self, at: datetime, limit: int = 50) -> list[OutboxItem]:
        """Pending notifications due at `at`, each marked `sending` (committed) before any
        request, so a crash mid-send leaves it `sending` and it is never sent a second time."""
        now = _ts(at)
        with self._write() as db:
            rows = db.execute(
                "SELECT key, incident_id, channel, notification, revision, subject, body, attempts "
                "FROM outbox WHERE state = 'pending' AND next_at <= ? ORDER BY next_at LIMIT ?"
                + (" FOR UPDATE SKIP LOCKED" if db.postgres else ""),
                (now, limit),
            ).fetchall()
            db.executemany(
                "UPDATE outbox SET state = 'sending', attempts = attempts + 1 WHERE key = ?",
                [(row[0],) for row in rows],
            )
        return [OutboxItem(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7] + 1) for r in rows]

    def dry_run_outbox(self, at: datetime) -> int:
        """Record every due notification as a dry run (nothing sent), in one transaction."""
        now = _ts(at)
        with self._write() as db:
            db.execute(
                "INSERT INTO events (incident_id, at, kind, by, detail) "
                "SELECT incident_id, ?, 'delivery', 'outbox', notification || ' to ' || channel "
                "|| ': attempt ' || (attempts + 1) || ' dry-run' FROM outbox "
                "WHERE state = 'pending' AND next_at <= ? ORDER BY next_at, key",
                (now, now),
            )
            cur = db.execute(
                "UPDATE outbox SET state = 'dry-run', attempts = attempts + 1 "
                "WHERE state = 'pending' AND next_at <= ?",
                (now,),
            )
            return int(cur.rowcount)

    def finish_outbox(
        self, item: OutboxItem, state: str, at: datetime, error: str, retry_at: datetime | None
    ) -> None:
        """Record an attempt: `sent`, `failed` (for good), `dry-run`, or `pending` again at
        `retry_at`; the attempt is an event of the incident's timeline."""
        now = _ts(at)
        with self._write() as db:
            db.execute(
                "UPDATE outbox SET state = ?, next_at = ?, last_error = ? WHERE key = ?",
                (state, _ts(retry_at) if retry_at else now, error, item.key),
            )
            detail = f"{item.notification} to {item.channel}: attempt {item.attempts} {state}"
            if error:
                detail += f": {error}"
            if retry_at is not None:
                detail += f"; retry at {retry_at.isoformat()}"
            self._event(db, item.incident_id, now, "delivery", "outbox", detail)

    def outbox(self) -> list[dict[str, Any]]:
        """Every outbox row (for tests and the page)."""
        rows = self._read(
            "SELECT key, incident_id, channel, notification, revision, state, attempts, "
            "last_error FROM outbox ORDER BY key"
        )
        names = ("key", "incident", "channel", "notification", "revision", "state", "attempts")
        return [dict(zip((*names, "error"), row, strict=True)) for row in rows]
