"""`playbook run` (and `convert`) never import the service's heavy dependencies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, unmeasured_env

HEAVY = ("starlette", "uvicorn", "apprise", "prometheus_client", "requests", "aiosmtpd")
LIBRARY = Path(ROOT) / "playbooks"
INCIDENT = LIBRARY / "incidents" / "01-gitlab-db-deletion.yaml"


def loaded_after(*argv: str) -> set[str]:
    code = (
        "import sys\n"
        "from playbook_engine.cli.main import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
        "print(','.join(m for m in sys.modules if m.startswith('playbook_engine.serve')"
        " or m.startswith('playbook_engine.deliver')), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, env=unmeasured_env()
    )
    return set(filter(None, ",".join(done.stderr.strip().splitlines()[-2:]).split(",")))


def test_run_imports_no_service_dependency() -> None:
    args = ["run", str(INCIDENT), "--library", str(LIBRARY), "--at", "2026-02-01T00:30:00Z"]
    assert loaded_after(*args) == set()


def test_help_lists_serve_and_tick_without_importing_them() -> None:
    assert loaded_after("--help") == set()


def test_the_check_can_fail() -> None:
    # tick imports the service: the same probe sees it
    args = ["tick", "--library", str(LIBRARY), "--store", os.devnull + "-nonexistent-dir/x"]
    assert "playbook_engine.serve.ledger" in loaded_after(*args)
