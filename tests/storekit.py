"""Helpers for the incident-store tests: the bundled library, a P1 incident, and the CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from conftest import PLAYBOOK, ROOT

LIBRARY = Path(ROOT) / "playbooks"
T0 = "2026-03-14T02:17:00Z"
P1: dict[str, Any] = {
    "id": "INC-7",
    "title": "Checkout returns 502",
    "startedAt": T0,
    "severity": "critical",
    "service": "checkout-api",
    "environment": "production",
    "customersAffected": 1200,
}


def at(minutes: float) -> str:
    """The moment `minutes` after T0, as --at text."""
    from datetime import datetime, timedelta

    start = datetime.fromisoformat(T0.replace("Z", "+00:00"))
    return (start + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def pb(store: str, *args: str, stdin: str | None = None, timeout: float = 60) -> Any:
    """Run `playbook ARGS --store STORE --library playbooks/`; the completed process."""
    return subprocess.run(
        [*PLAYBOOK, *args, "--store", store, "--library", str(LIBRARY)],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=timeout,
    )


def write_incident(folder: Path, data: dict[str, Any] | None = None) -> Path:
    """The incident (default: P1) as a JSON file in `folder`."""
    path = folder / "incident.json"
    path.write_text(json.dumps(data or P1), encoding="utf-8")
    return path


def events(store: str, incident: str) -> list[Any]:
    """The incident's log, read in this process."""
    from playbook_engine.store import open_store

    opened = open_store(store, create=False)
    try:
        return opened.events(incident)
    finally:
        opened.close()


def kinds(store: str, incident: str) -> list[str]:
    """The kinds of the incident's events, in log order."""
    return [event.kind for event in events(store, incident)]
