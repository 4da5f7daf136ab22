"""One connection to the store — an SQLite file or a PostgreSQL database — speaking one SQL.

Statements are written for SQLite (`?` parameters); on PostgreSQL (psycopg 3) they run with
`%s`. Every read-modify-write runs in `write()`: `BEGIN IMMEDIATE` on SQLite (the database's
write lock, taken before anything is read, so two processes serialise instead of racing),
`BEGIN` plus a transaction-scoped advisory lock on the incident on PostgreSQL. SQLite runs in
WAL mode with `synchronous=FULL` (a committed event survives a power cut) and a busy timeout.
Every database failure becomes a `StoreError` naming the store; a failed write has been rolled
back, so nothing of it is left.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from playbook_engine.store.errors import StoreError

_SQLITE_HEADER = b"SQLite format 3\x00"
URL_PREFIXES = ("postgresql://", "postgres://")


def is_url(location: str | Path) -> bool:
    """Whether `location` names a PostgreSQL database rather than an SQLite file."""
    return isinstance(location, str) and location.startswith(URL_PREFIXES)


def shown(location: str | Path) -> str:
    """The store's name for messages: a URL without its password."""
    return re.sub(r"//([^:/@]*):[^@]*@", r"//\1:***@", str(location))


class Connection:
    """An open store connection (sqlite3, or psycopg in autocommit mode)."""

    def __init__(self, raw: Any, postgres: bool, where: str) -> None:
        self.raw = raw
        self.postgres = postgres
        self.where = where
        self._errors: tuple[type[BaseException], ...] = (sqlite3.Error,)
        if postgres:
            import psycopg

            self._errors = (psycopg.Error,)

    def sql(self, text: str) -> str:
        """`text` for this connection's database."""
        return text.replace("?", "%s") if self.postgres else text

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

    @contextlib.contextmanager
    def write(self, lock: str | None = None) -> Iterator[Connection]:
        """A read-modify-write transaction, committed when the block ends, rolled back (and
        nothing written) when it raises. `lock` names what is changed (an incident id): on
        PostgreSQL writers of the same name wait for each other, others run side by side."""
        try:
            self.execute("BEGIN" if self.postgres else "BEGIN IMMEDIATE")
            if self.postgres and lock is not None:
                self.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (lock,))
        except self._errors as exc:
            self._rollback()
            raise self.failure(exc, writing=True) from None
        try:
            yield self
            self.execute("COMMIT")
        except self._errors as exc:  # disk full, read-only, I/O error, connection lost
            self._rollback()
            raise self.failure(exc, writing=True) from None
        except BaseException:
            self._rollback()
            raise

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A consistent snapshot for several reads."""
        try:
            self.execute(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" if self.postgres else "BEGIN"
            )
            yield self
            self.execute("COMMIT")
        except self._errors as exc:
            self._rollback()
            raise self.failure(exc, writing=False) from None
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        # SQLite may have rolled back already (a full disk does): nothing is left to undo then
        if self.postgres or self.raw.in_transaction:
            with contextlib.suppress(Exception):
                self.execute("ROLLBACK")

    def failure(self, exc: BaseException, writing: bool) -> StoreError:
        """The `StoreError` a database exception means."""
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        low = text.lower()
        if "locked" in low or "busy" in low or "lock timeout" in low:
            return StoreError(
                "ST104",
                f"the store is busy (another process held it too long): {text}; nothing "
                "was written",
                self.where,
                "try again; a long-running process may be holding the store",
            )
        if writing or "readonly" in low or "read-only" in low or "full" in low:
            return StoreError(
                "ST103",
                f"cannot write to the store: {text}; nothing was written",
                self.where,
                "check the store's file permissions and free disk space (or the server)",
            )
        return StoreError("ST101", f"cannot read the store: {text}", self.where)

    def close(self) -> None:
        """Close the connection."""
        with contextlib.suppress(Exception):
            self.raw.close()


def connect(location: str | Path, busy_timeout: float = 10.0, create: bool = True) -> Connection:
    """A connection to the store at `location` (a path, or a `postgresql://` URL). A missing
    SQLite file is created when `create`, else an empty in-memory store stands in for it (a
    read of a store nobody has written yet finds nothing)."""
    if is_url(location):
        return _postgres(str(location), busy_timeout)
    return _sqlite(Path(location), busy_timeout, create)


def _sqlite(path: Path, busy_timeout: float, create: bool) -> Connection:
    where = str(path)
    target: str = where
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise StoreError("ST101", f"cannot open the store: {exc.strerror}", where) from None
    if info is not None:
        _check_file(path, info)
    elif not create:
        target = ":memory:"
    elif not path.parent.is_dir():
        raise StoreError(
            "ST101",
            f"cannot create the store: its folder {path.parent} does not exist",
            where,
            "create the folder, or pass --store (or set $PLAYBOOK_STORE) to a writable path",
        )
    try:
        raw = sqlite3.connect(
            target, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise StoreError("ST101", f"cannot open the store: {exc}", where) from None
    conn = Connection(raw, False, where)
    try:
        raw.execute("PRAGMA synchronous=FULL")
        mode = raw.execute("PRAGMA journal_mode=WAL").fetchone()
    except sqlite3.Error as exc:
        conn.close()
        raise conn.failure(exc, writing=False) from None
    if target != ":memory:" and (mode is None or str(mode[0]).lower() != "wal"):
        conn.close()  # a read-only file not yet in WAL mode: it could not be written either
        raise StoreError(
            "ST103",
            "cannot use the store: it is read-only",
            where,
            "make the store file and its folder writable by this user",
        )
    return conn


def _check_file(path: Path, info: os.stat_result) -> None:
    """Refuse what is not an SQLite file before SQLite opens it (a FIFO would block)."""
    where = str(path)
    if not stat.S_ISREG(info.st_mode):
        kind = (
            "a directory"
            if stat.S_ISDIR(info.st_mode)
            else "a FIFO"
            if stat.S_ISFIFO(info.st_mode)
            else "a socket"
            if stat.S_ISSOCK(info.st_mode)
            else "a device"
        )
        raise StoreError(
            "ST101",
            f"cannot open the store: it is {kind}, not a file",
            where,
            "pass --store (or set $PLAYBOOK_STORE) to an SQLite file or a postgresql:// URL",
        )
    if info.st_size == 0:
        return
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(_SQLITE_HEADER))
    except OSError as exc:
        raise StoreError("ST101", f"cannot open the store: {exc.strerror}", where) from None
    if head != _SQLITE_HEADER:
        raise StoreError(
            "ST101",
            "cannot open the store: the file is not an SQLite database",
            where,
            "the store is a file playbook created; pass --store to another path",
        )


def _postgres(url: str, busy_timeout: float) -> Connection:
    where = shown(url)
    try:
        import psycopg
    except ImportError:
        raise StoreError(
            "ST101",
            "a PostgreSQL store needs psycopg 3, which is not installed",
            where,
            "pip install 'playbook-engine[postgres]'",
        ) from None
    try:
        raw = psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(busy_timeout)))
    except psycopg.Error as exc:
        message = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise StoreError("ST101", f"cannot connect to the store: {message}", where) from None
    conn = Connection(raw, True, where)
    try:  # a write waits for a lock at most as long as SQLite's busy timeout
        conn.execute(f"SET lock_timeout = {int(busy_timeout * 1000)}")
    except psycopg.Error as exc:
        conn.close()
        raise conn.failure(exc, writing=False) from None
    return conn
