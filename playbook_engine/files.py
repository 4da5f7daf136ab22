"""Permissions of the files `playbook` writes for its user.

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
