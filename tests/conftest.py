"""Test-session settings shared by every test module."""

from __future__ import annotations

import os
import tempfile

# Commands run by the tests (in this process or as subprocesses, which inherit the environment)
# keep their library cache in a folder of this session, never in the user's ~/.cache.
os.environ.setdefault("PLAYBOOK_CACHE_DIR", tempfile.mkdtemp(prefix="playbook-test-cache-"))
