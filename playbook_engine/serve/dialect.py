"""One ledger SQL for SQLite and PostgreSQL: a connection wrapper that translates.

The ledger's statements are written for SQLite (`?` parameters, `INSERT OR IGNORE`); on
PostgreSQL (psycopg 3) they run as `%s` parameters and `INSERT ... ON CONFLICT DO NOTHING`.
What differs in meaning is chosen by the ledger itself: `BEGIN IMMEDIATE` (SQLite's write
lock) against `BEGIN` plus row locks (`FOR UPDATE SKIP LOCKED`) or a table lock.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_INSERT_OR_IGNORE = re.compile(r"^\s*INSERT OR IGNORE INTO", re.S)


def postgres_schema(schema: str) -> str:
    """The SQLite schema in PostgreSQL's types."""
    return schema.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY").replace(
        " REAL", " DOUBLE PRECISION"
    )


class Db:
    """A connection (sqlite3, or psycopg in autocommit mode) speaking the ledger's SQL."""

    def __init__(self, raw: Any, postgres: bool) -> None:
        self.raw = raw
        self.postgres = postgres

    def sql(self, text: str) -> str:
        """`text` for this connection's database."""
        if not self.postgres:
            return text
        if _INSERT_OR_IGNORE.match(text):
            text = _INSERT_OR_IGNORE.sub("INSERT INTO", text, count=1) + " ON CONFLICT DO NOTHING"
        return text.replace("?", "%s")

    def execute(self, text: str, args: Sequence[Any] = ()) -> Any:
        """Run one statement; the cursor (fetchone, fetchall, rowcount)."""
        return self.raw.execute(self.sql(text), tuple(args))

    def executemany(self, text: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for each of `rows`."""
        if not rows:
            return
        if self.postgres:
            with self.raw.cursor() as cursor:
                cursor.executemany(self.sql(text), [tuple(row) for row in rows])
        else:
            self.raw.executemany(text, rows)
