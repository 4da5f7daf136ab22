"""A throwaway PostgreSQL server on 127.0.0.1 for tests (Debian's or any `initdb` on PATH,
run as the `postgres` user when the tests run as root)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from servekit import free_port


def _tool(name: str) -> str | None:
    """A PostgreSQL program: on PATH, or in Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which(name)
    if found:
        return found
    debian = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(debian[-1]) if debian else None


def _as_postgres(command: list[str]) -> list[str]:
    command = [_tool(command[0]) or command[0], *command[1:]]
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def available() -> str | None:
    """Why PostgreSQL cannot run here, or None."""
    if _tool("initdb") is None or _tool("pg_ctl") is None:
        return "PostgreSQL (initdb, pg_ctl) is not installed"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a postgres user"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed"
    return None


@contextmanager
def postgres(tmp: Path, socket_only: bool = False) -> Iterator[str]:
    """A running server; yields its URL. Its data lives in a fresh folder of the system's
    temporary directory (pytest's are private to root, and the server runs as postgres).
    `socket_only`: no TCP at all, only a Unix socket in that folder (the URL names it)."""
    base = Path(tempfile.mkdtemp(prefix="playbook-pg-"))
    data = base / "pgdata"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(data, "postgres")
    subprocess.run(
        _as_postgres(["initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"]),
        check=True,
        capture_output=True,
    )
    port = free_port()
    listen = "''" if socket_only else "127.0.0.1"
    options = f"-p {port} -k {data} -c listen_addresses={listen} -c fsync=off"
    subprocess.run(
        _as_postgres(["pg_ctl", "-D", str(data), "-o", options, "-w", "-l", str(data / "log"),
                      "start"]),
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        if socket_only:
            yield f"postgresql://postgres@/postgres?host={data}&port={port}"
        else:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres(["pg_ctl", "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)
