"""Files `playbook` writes for its user: whole or not at all, with ordinary permissions.

Files are written to a temporary file and renamed into place, and `tempfile.mkstemp` makes that
file private (0600). A plan, a report, a docs page or a scaffolded playbook is an ordinary file:
it gets the permissions `open()` would give it, or those of the file it replaces.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def user_file_mode(replaced: Path | None = None) -> int:
    """The mode of the regular file at `replaced` (followed through links), else 0o666 less
    the process's umask."""
    if replaced is not None:
        try:
            st = replaced.stat()
        except OSError:
            pass
        else:
            if stat.S_ISREG(st.st_mode):
                return stat.S_IMODE(st.st_mode)
    umask = os.umask(0)  # reading the umask means setting it: put it back at once
    os.umask(umask)
    return 0o666 & ~umask


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` exactly (UTF-8, no newline translation) through a temporary
    file renamed into place: readers see the old file or the new one, never half of one. On
    any failure the temporary file is removed and the error raised."""
    import tempfile  # here, not at the top: its imports (random, weakref) cost every command

    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, user_file_mode(path))  # mkstemp makes it private
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
