"""Whatever is put at the cache's paths, a run goes on without the cache, with at most a
one-line note: a FIFO, a link to /dev/zero, a directory, a full disk (issue #15)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import PLAYBOOK

from playbook_engine.speed.cache import SECRET_NAME, LibraryCache, fingerprint

LIBRARY = Path(__file__).parent / "data" / "libraries" / "basic"
INCIDENT_TEXT = "id: I\ntitle: t\nstartedAt: 2026-01-01T00:00:00Z\nseverity: critical\n"


def _run(cache: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    incident = tmp_path / "incident.yaml"
    incident.write_text(INCIDENT_TEXT, encoding="utf-8")
    return subprocess.run(
        [*PLAYBOOK, "run", str(incident), "--library", str(LIBRARY), "--at", "2026-01-01T00:05Z"],
        capture_output=True,
        text=True,
        timeout=30,  # a hang would be caught here
        env={**os.environ, "PLAYBOOK_CACHE_DIR": str(cache)},
        cwd=tmp_path,
    )


def _plan_is_fine(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# I — t")
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) <= 1


def _entry(cache: Path, tmp_path: Path) -> Path:
    # The entry's name depends on the working directory and the library root, as in `_run`.
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        return LibraryCache(cache).entry_path(fingerprint(LIBRARY))
    finally:
        os.chdir(here)


def test_a_fifo_as_the_entry_does_not_hang(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _plan_is_fine(_run(cache, tmp_path))  # makes the secret and an entry
    entry = _entry(cache, tmp_path)
    entry.unlink()
    os.mkfifo(entry)
    _plan_is_fine(_run(cache, tmp_path))


def test_a_link_to_dev_zero_as_the_entry_is_not_read(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _plan_is_fine(_run(cache, tmp_path))
    entry = _entry(cache, tmp_path)
    entry.unlink()
    entry.symlink_to("/dev/zero")
    _plan_is_fine(_run(cache, tmp_path))


@pytest.mark.parametrize("kind", ["fifo", "directory", "link", "empty"])
def test_a_strange_secret_means_no_cache_with_a_note(tmp_path: Path, kind: str) -> None:
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    secret = cache / SECRET_NAME
    if kind == "fifo":
        os.mkfifo(secret, 0o600)
    elif kind == "directory":
        secret.mkdir()
    elif kind == "link":
        secret.symlink_to("/dev/zero")
    else:
        secret.touch(mode=0o600)
    result = _run(cache, tmp_path)
    _plan_is_fine(result)
    assert result.stderr.startswith("playbook: no library cache: "), result.stderr


def test_a_full_disk_costs_only_the_cache_and_leaves_no_empty_key(
    tmp_path: Path, small_disk: Path
) -> None:
    filler = small_disk / "filler"
    sink = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(sink, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(sink)
    cache = small_disk / "cache"
    _plan_is_fine(_run(cache, tmp_path))
    assert not (cache / SECRET_NAME).exists()  # no empty key left to disable the cache
    filler.unlink()
    _plan_is_fine(_run(cache, tmp_path))
    assert len((cache / SECRET_NAME).read_bytes()) == 32  # the cache works again
