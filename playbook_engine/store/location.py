"""Where the store lives, and which version of the library a plan was made with.

The store is `--store`, else `$PLAYBOOK_STORE`, else `.playbook/incidents.sqlite` inside the
library (the folder is created on first use, with a `.gitignore` that keeps it out of git).
A `postgresql://` URL names a PostgreSQL database instead of a file.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from playbook_engine.store.connection import is_url

STORE_ENV = "PLAYBOOK_STORE"
DEFAULT_FOLDER = ".playbook"
DEFAULT_NAME = "incidents.sqlite"
_GITIGNORE = "# playbook's incident store: local state, not part of the library\n*\n"


def store_location(option: str | None, library: Path | None) -> tuple[str | Path, bool]:
    """The store to use and whether it is the default one inside the library."""
    chosen = option or os.environ.get(STORE_ENV)
    if chosen:
        return (chosen if is_url(chosen) else Path(chosen)), False
    if library is None:
        raise ValueError("no store given and no library to keep it in")
    return library / DEFAULT_FOLDER / DEFAULT_NAME, True


def prepare_default(path: Path) -> None:
    """Create the default store's folder (and its `.gitignore`) if missing; errors are left
    to the store's own open to report."""
    folder = path.parent
    if folder.is_dir():
        return
    try:
        folder.mkdir()
        (folder / ".gitignore").write_text(_GITIGNORE, encoding="utf-8")
    except OSError:
        pass


def library_version(root: Path) -> str:
    """The library's version: `git:<commit>` when it is committed in a git work tree as it
    is, `git:<commit>+<content hash>` when it has uncommitted changes, else `sha256:<content
    hash>` of its files (names and contents)."""
    from playbook_engine.load.discovery import discover

    digest = hashlib.sha256()
    base = os.path.join(str(root), "")
    files = sorted(discover(root))
    names = [str(path).removeprefix(base) for path in files]
    for path, name in zip(files, names, strict=True):
        digest.update(name.encode("utf-8", "surrogateescape") + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"\0unreadable")
        digest.update(b"\0")
    content = digest.hexdigest()[:12]
    commit = _git(root, "rev-parse", "--verify", "-q", "HEAD")
    if not commit:
        return f"sha256:{content}"
    dirty = _git(root, "status", "--porcelain", "--untracked-files=normal", "--", *names)
    return f"git:{commit[:12]}" + (f"+{content}" if dirty else "")


def _git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        result = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, env=env, check=False, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return result.stdout.decode("utf-8", "replace").strip() if result.returncode == 0 else ""
