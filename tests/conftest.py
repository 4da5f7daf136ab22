"""Test-session settings shared by every test module."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

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
