"""`playbook run` (and `convert`) never import the service's heavy dependencies."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import ROOT, modules_loaded_by

HEAVY = ("starlette", "uvicorn", "apprise", "prometheus_client", "requests", "aiosmtpd")
LIBRARY = Path(ROOT) / "playbooks"
INCIDENT = LIBRARY / "incidents" / "01-gitlab-db-deletion.yaml"


def loaded_after(*argv: str) -> set[str]:
    prefixes = ("playbook_engine.serve", "playbook_engine.deliver")
    return modules_loaded_by(*argv, watched=HEAVY, prefixes=prefixes)


def test_run_imports_no_service_dependency() -> None:
    args = ["run", str(INCIDENT), "--library", str(LIBRARY), "--at", "2026-02-01T00:30:00Z"]
    assert loaded_after(*args) == set()


def test_help_lists_serve_and_tick_without_importing_them() -> None:
    assert loaded_after("--help") == set()


def test_the_check_can_fail() -> None:
    # tick imports the service: the same probe sees it
    args = ["tick", "--library", str(LIBRARY), "--store", os.devnull + "-nonexistent-dir/x"]
    assert "playbook_engine.serve.ledger" in loaded_after(*args)
