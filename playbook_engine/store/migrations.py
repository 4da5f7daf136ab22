"""The store's schema, versioned: each version is a migration from the one before.

`pb_meta` holds `schema_version`. Opening a store applies the migrations it lacks, in one
transaction (under the write lock, so two first uses do not race); a store whose version is
newer than this code's is refused (ST102) — a newer playbook wrote it and an older one must not
guess what it means. Tables are prefixed `pb_` so the store can share a database (or
`playbook serve`'s file) with other tables.

Versions:
1. `pb_meta`, and `pb_events`: the append-only log (one row per event; `(incident, n)` and
   `(incident, key)` unique).
2. `pb_incidents` and `pb_incident_playbooks`: the per-incident summary, derived from the
   log (built from it here).

The summary has a version of its own (`summary_version` in `pb_meta`): when the code derives
it differently (a new column's meaning, a fixed rule), opening the store rebuilds it from the
log, which never changes.
"""

from __future__ import annotations

from collections.abc import Callable

from playbook_engine.store.connection import Connection
from playbook_engine.store.errors import StoreError

SCHEMA_VERSION = 2
"""The newest schema this code reads and writes."""
SUMMARY_VERSION = 1
"""How the summary is derived from the log; a store with another one is rebuilt on open."""


def _types(conn: Connection, ddl: str) -> str:
    if conn.postgres:
        return ddl.replace("{serial}", "BIGSERIAL PRIMARY KEY").replace(
            "{real}", "DOUBLE PRECISION"
        )
    return ddl.replace("{serial}", "INTEGER PRIMARY KEY AUTOINCREMENT").replace("{real}", "REAL")


def _v1(conn: Connection) -> None:
    for ddl in (
        "CREATE TABLE pb_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE pb_events (seq {serial}, incident TEXT NOT NULL, n INTEGER NOT NULL, "
        "kind TEXT NOT NULL, at {real} NOT NULL, by TEXT NOT NULL, data TEXT NOT NULL, "
        "key TEXT, recorded {real} NOT NULL, UNIQUE (incident, n), UNIQUE (incident, key))",
        "CREATE INDEX pb_events_kind ON pb_events (kind, at)",
    ):
        conn.execute(_types(conn, ddl))


def _v2(conn: Connection) -> None:
    from playbook_engine.store.summary import rebuild

    for ddl in (
        "CREATE TABLE pb_incidents (id TEXT PRIMARY KEY, title TEXT NOT NULL, "
        "stage TEXT NOT NULL, priority TEXT NOT NULL, peak TEXT NOT NULL, "
        "peak_rank INTEGER NOT NULL, playbook TEXT NOT NULL, started {real} NOT NULL, "
        "acknowledged {real}, resolved {real}, respond_by {real}, resolve_by {real}, "
        "next_escalation {real}, next_tier INTEGER, max_tier INTEGER NOT NULL, "
        "reopened INTEGER NOT NULL, steps_done INTEGER NOT NULL, steps_total INTEGER NOT NULL, "
        "events INTEGER NOT NULL, updated {real} NOT NULL, library TEXT NOT NULL)",
        "CREATE INDEX pb_incidents_stage ON pb_incidents (stage, started)",
        "CREATE INDEX pb_incidents_started ON pb_incidents (started)",
        "CREATE INDEX pb_incidents_due ON pb_incidents (next_escalation)",
        "CREATE TABLE pb_incident_playbooks (incident TEXT NOT NULL, playbook TEXT NOT NULL, "
        "PRIMARY KEY (incident, playbook))",
        "CREATE INDEX pb_incident_playbooks_playbook ON pb_incident_playbooks (playbook)",
    ):
        conn.execute(_types(conn, ddl))
    rebuild(conn)
    conn.execute("INSERT INTO pb_meta VALUES ('summary_version', ?)", (str(SUMMARY_VERSION),))


MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _v1, 2: _v2}
"""Version -> the migration that makes it from the version before."""


def version(conn: Connection) -> int:
    """The store's schema version (0: nothing of the store there yet)."""
    if conn.postgres:
        found = conn.execute("SELECT to_regclass('pb_meta') IS NOT NULL").fetchone()[0]
    else:
        found = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'pb_meta'"
        ).fetchone()[0]
    if not found:
        return 0
    row = conn.execute("SELECT value FROM pb_meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring the store to `target` (tests build older stores with a lower one); the version
    it had. Refuses a store newer than this code (ST102)."""
    try:
        before = version(conn)
    except Exception as exc:
        if isinstance(exc, StoreError):
            raise
        raise conn.failure(exc, writing=False) from None
    _refuse_newer(conn, before)
    if before >= target:
        if target == SCHEMA_VERSION and _summary_version(conn) != str(SUMMARY_VERSION):
            _rebuild_summary(conn)
        return before
    with conn.write(lock="pb-schema"):
        before = version(conn)  # another process may have migrated it meanwhile
        _refuse_newer(conn, before)
        for number in range(before + 1, target + 1):
            MIGRATIONS[number](conn)
        if before == 0:
            conn.execute("INSERT INTO pb_meta VALUES ('schema_version', ?)", (str(target),))
        else:
            conn.execute(
                "UPDATE pb_meta SET value = ? WHERE key = 'schema_version'", (str(target),)
            )
    return before


def _summary_version(conn: Connection) -> str | None:
    row = conn.execute("SELECT value FROM pb_meta WHERE key = 'summary_version'").fetchone()
    return None if row is None else str(row[0])


def _rebuild_summary(conn: Connection) -> None:
    from playbook_engine.store.summary import rebuild

    with conn.write(lock="pb-schema"):
        if _summary_version(conn) == str(SUMMARY_VERSION):
            return  # another process rebuilt it meanwhile
        rebuild(conn)
        conn.execute("DELETE FROM pb_meta WHERE key = 'summary_version'")
        conn.execute("INSERT INTO pb_meta VALUES ('summary_version', ?)", (str(SUMMARY_VERSION),))


def _refuse_newer(conn: Connection, found: int) -> None:
    if found > SCHEMA_VERSION:
        raise StoreError(
            "ST102",
            f"the store was written by a newer playbook-engine (schema version {found}; this "
            f"one reads up to {SCHEMA_VERSION}); nothing was read or written",
            conn.where,
            "upgrade playbook-engine to use this store",
        )
