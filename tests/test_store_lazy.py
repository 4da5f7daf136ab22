"""`playbook run` (and --help) never import the incident store, SQLite or psycopg; the store's
commands import psycopg only for a PostgreSQL store."""

from __future__ import annotations

from pathlib import Path

from conftest import ROOT, modules_loaded_by
from storekit import P1

LIBRARY = Path(ROOT) / "playbooks"
INCIDENT = LIBRARY / "incidents" / "01-gitlab-db-deletion.yaml"
WATCHED = ("sqlite3", "_sqlite3", "psycopg", "playbook_engine.store")


def loaded_after(*argv: str, stdin: str | None = None) -> set[str]:
    return modules_loaded_by(*argv, watched=WATCHED, stdin=stdin)


def test_run_imports_no_store() -> None:
    args = ["run", str(INCIDENT), "--library", str(LIBRARY), "--at", "2026-02-01T00:30:00Z"]
    assert loaded_after(*args) == set()


def test_help_imports_no_store() -> None:
    assert loaded_after("--help") == set()


def test_the_check_can_fail_and_sqlite_needs_no_psycopg(tmp_path: Path) -> None:
    import json

    store = str(tmp_path / "s.sqlite")
    args = ["incident", "open", "-", "--store", store, "--library", str(LIBRARY)]
    assert loaded_after(*args, stdin=json.dumps(P1)) == {
        "sqlite3", "_sqlite3", "playbook_engine.store",
    }  # fmt: skip
