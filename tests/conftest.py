"""Test-session settings shared by every test module."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

if TYPE_CHECKING:
    from playbook_engine.compile.compiler import CompiledLibrary

# Commands run by the tests (in this process or as subprocesses, which inherit the environment)
# keep their library cache in a folder of this session, never in the user's ~/.cache.
os.environ.setdefault("PLAYBOOK_CACHE_DIR", tempfile.mkdtemp(prefix="playbook-test-cache-"))

# End-to-end tests run the checkout's code, never a `playbook` found on PATH: the command is this
# interpreter with `-m playbook_engine`, and the checkout comes first on the import path of every
# subprocess.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ["PYTHONPATH"] = os.pathsep.join(
    [ROOT, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
)
PLAYBOOK = [sys.executable, "-m", "playbook_engine"]


@contextmanager
def edited_yaml(path: Path) -> Iterator[Any]:
    """The YAML document at `path`, written back once the block has changed it."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    yield data
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def valid_library(folder: Path) -> CompiledLibrary:
    """The compiled library at `folder`, which must load without an error."""
    from playbook_engine.pipeline import load_library

    result = load_library(folder)
    assert [d for d in result.diagnostics if d.is_error] == []
    assert result.compiled is not None
    return result.compiled


def modules_loaded_by(
    *argv: str, watched: tuple[str, ...], prefixes: tuple[str, ...] = (), stdin: str | None = None
) -> set[str]:
    """Which `watched` modules, and which modules under `prefixes`, `playbook ARGV` imports:
    run in a fresh interpreter, unmeasured (coverage imports modules of its own)."""
    code = (
        "import sys\n"
        "from playbook_engine.cli.main import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"found = [m for m in sys.modules if m in {watched!r} or m.startswith({prefixes!r})]\n"
        "print('\\n' + ','.join(sorted(found)), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        env=unmeasured_env(),
        input=stdin,
    )
    return set(filter(None, done.stderr.rstrip("\n").split("\n")[-1].split(",")))


def unmeasured_env() -> dict[str, str]:
    """The environment for a subprocess whose imported modules a test inspects: without
    coverage.py's measurement, which the other subprocesses inherit and which imports sqlite3
    and more of its own."""
    return {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_PROCESS_")}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs to fill up: a full disk, for real (root only; skipped elsewhere)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private PostgreSQL server for the session (Debian's binaries, run as `postgres`, on
    a Unix socket in a private folder, no TCP); skipped only when the binaries are absent."""
    from pgkit import available, postgres

    reason = available()
    if reason is not None:
        pytest.skip(f"PostgreSQL tests skipped: {reason}")
    with postgres(tmp_path_factory.mktemp("pg"), socket_only=True) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty incident store: an SQLite path, or a new database on the session's
    PostgreSQL server (the same tests run against both)."""
    if request.param == "sqlite":
        return str(tmp_path / "store.sqlite")
    import uuid

    import psycopg

    server: str = request.getfixturevalue("postgres_server")
    name = "t" + uuid.uuid4().hex[:12]
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server.replace("/postgres?", f"/{name}?")
