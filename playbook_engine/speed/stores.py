"""Where deterministic work is kept between runs and between the processes of one run.

A `CodeStore` holds bytes by key: the cache's HMAC-checked folder (`cache.FileCodeStore`), or a
`MemoryStore` carrying what a forked child made. `use_code_store` sets the store of this
process (a context variable); the sandbox keeps template code and checks there, `doccache`
loaded documents, `schema` the code of its generated checks. This module imports nothing
heavy, so that anything may ask for the store without importing Jinja2.
"""

from __future__ import annotations

import marshal
from contextvars import ContextVar
from typing import Any, Protocol


class CodeStore(Protocol):
    """Bytes by key, kept between processes (`cache.FileCodeStore`) or in memory, authenticated
    by the store: what `get` returns is what `put` was given."""

    def get(self, key: str) -> bytes | None:
        """The bytes stored under `key`, or None."""

    def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key`; failing soft."""


_CODE_STORE: ContextVar[CodeStore | None] = ContextVar("playbook_engine_code_store", default=None)


def use_code_store(store: CodeStore | None) -> None:
    """Keep deterministic work in `store` from now on (None: nowhere).

    What is kept depends only on its key and the engine (the store keys its entries by the
    engine's identity): the Python code Jinja2 generates for templates, the checks of
    templates that compiled (a template that fails is checked, and reported, every time),
    loaded documents and the code of generated schema checks.
    """
    _CODE_STORE.set(store)


class MemoryStore:
    """A `CodeStore` in memory, in front of another store (or none): what it is given it
    keeps in `entries` and passes on. It carries the work of another process of this run
    (`prepare_template` in a forked child), which needs no authentication."""

    def __init__(self, entries: dict[str, bytes], below: CodeStore | None) -> None:
        self.entries, self.below = entries, below

    def get(self, key: str) -> bytes | None:
        """The entry for `key`, here or below."""
        found = self.entries.get(key)
        if found is None and self.below is not None:
            found = self.below.get(key)
        return found

    def put(self, key: str, data: bytes) -> None:
        """Keep `data` here and below."""
        self.entries[key] = data
        if self.below is not None:
            self.below.put(key, data)


def active_store() -> CodeStore | None:
    """The store `use_code_store` set, if any."""
    return _CODE_STORE.get()


def stored(store: CodeStore | None, key: str) -> Any:
    """What `store` holds under `key`, unmarshalled; None when absent or unreadable (the
    caller checks the shape: an entry is only as trusted as its type)."""
    data = store.get(key) if store is not None else None
    if data is None:
        return None
    try:
        return marshal.loads(data)
    except (EOFError, ValueError, TypeError):
        return None
