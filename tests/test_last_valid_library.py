"""At 3 a.m. one broken playbook must not stop every plan: `run` falls back to the last library
that validated at the same place (the cache keeps it), says so loudly with the current errors,
and exits 1; without such a library it refuses as before."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from conftest import PLAYBOOK, ROOT

BUNDLED = Path(ROOT) / "playbooks"
INCIDENT = "incidents/01-gitlab-db-deletion.yaml"
AT = "2026-02-01T00:30:00Z"


def run(library: Path, cache: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PLAYBOOK_CACHE_DIR": str(cache)}
    return subprocess.run(
        [*PLAYBOOK, "run", str(library / INCIDENT), "--library", str(library), "--at", AT,
         "--format", "json", *extra],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip


def break_a_playbook(library: Path) -> None:
    path = library / "database-failure.yaml"
    path.write_text(path.read_text().replace("due: 5m", "due: 15min", 1))


def test_a_broken_library_falls_back_to_the_last_valid_one(tmp_path: Path) -> None:
    library, cache = tmp_path / "lib", tmp_path / "cache"
    shutil.copytree(BUNDLED, library)
    good = run(library, cache)
    assert good.returncode == 0, good.stderr
    break_a_playbook(library)
    stale = run(library, cache)
    assert stale.returncode == 1
    assert stale.stdout == good.stdout  # the same plan, from the library as it was
    assert "WARNING the library does not validate (1 error)" in stale.stderr
    assert "database-failure.yaml:" in stale.stderr and "PB201" in stale.stderr
    assert "Traceback" not in stale.stderr
    # Fixed again: current, exit 0.
    shutil.copy(BUNDLED / "database-failure.yaml", library / "database-failure.yaml")
    assert run(library, cache).returncode == 0


def test_jsonl_falls_back_too(tmp_path: Path) -> None:
    library, cache = tmp_path / "lib", tmp_path / "cache"
    shutil.copytree(BUNDLED, library)
    assert run(library, cache).returncode == 0
    break_a_playbook(library)
    lines = tmp_path / "in.jsonl"
    data = {"id": "I-1", "title": "Checkout down", "startedAt": "2026-02-01T00:00:00Z",
            "severity": "critical", "service": "checkout-api"}  # fmt: skip
    lines.write_text(json.dumps(data) + "\n")
    env = {**os.environ, "PLAYBOOK_CACHE_DIR": str(cache)}
    done = subprocess.run(
        [*PLAYBOOK, "run", "--jsonl", str(lines), "--library", str(library), "--at", AT],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert json.loads(done.stdout)["incident"]["id"] == "I-1"
    assert "WARNING the library does not validate" in done.stderr


def test_without_a_valid_library_before_it_refuses(tmp_path: Path) -> None:
    library, cache = tmp_path / "lib", tmp_path / "cache"
    shutil.copytree(BUNDLED, library)
    break_a_playbook(library)
    done = run(library, cache)
    assert done.returncode == 2 and "PB201" in done.stdout + done.stderr
    assert "WARNING" not in done.stderr


def test_no_cache_means_no_fallback(tmp_path: Path) -> None:
    library, cache = tmp_path / "lib", tmp_path / "cache"
    shutil.copytree(BUNDLED, library)
    assert run(library, cache).returncode == 0
    break_a_playbook(library)
    assert run(library, cache, "--no-cache").returncode == 2


def test_run_finds_the_library_of_the_incident_file(tmp_path: Path) -> None:
    # From an unrelated folder, without --library: the incident's own library is used.
    library, elsewhere = tmp_path / "team-a", tmp_path / "elsewhere"
    shutil.copytree(BUNDLED, library)
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PLAYBOOK_LIBRARY"}
    env["PLAYBOOK_CACHE_DIR"] = str(tmp_path / "cache")
    done = subprocess.run(
        [*PLAYBOOK, "run", str(library / INCIDENT), "--at", AT, "--format", "json"],
        capture_output=True, text=True, env=env, cwd=elsewhere, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["priority"]["id"] == "P1"


def test_validate_takes_the_library_option_as_every_command_does(tmp_path: Path) -> None:
    done = subprocess.run([*PLAYBOOK, "validate", "-l", str(BUNDLED)], capture_output=True,
                          text=True, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0 and "no problems" in done.stdout
    missing = subprocess.run([*PLAYBOOK, "validate", "--library", str(tmp_path / "nope")],
                             capture_output=True, text=True)  # fmt: skip
    assert missing.returncode == 2
