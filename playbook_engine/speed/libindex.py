"""What each document of a library was when it was last loaded, kept between runs of
`playbook validate FILE`: so that checking one file loads that file, the policy and the
Shared documents, not the whole library.

The checks of a playbook read the policy and the Shared documents; of every other document
they need only three facts: the playbook id it defines and where (a duplicate id is an
error at the later one), whether it loaded and passed its schema (if not, errors that may
follow from it are not shown), and its kind. The index keeps those facts for each file with
the file's `os.stat` identity (modification and change times in nanoseconds, size, inode),
as git's index does; a file whose identity differs is loaded again, and the index updated.
It is kept in the code store (`stores.use_code_store`, HMAC-checked, keyed by the engine's
identity too), marshalled plain data checked for shape when read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from playbook_engine.speed import stores
from playbook_engine.speed.doccache import Checked

FORMAT = 1
"""Changes whenever the shape of an entry does."""

FileKey = tuple[int, int, int, int]
"""A file's `os.stat` identity: modification and change times (ns), size and inode."""


@dataclass(frozen=True, slots=True)
class Summary:
    """One file of a library, as its checks elsewhere need it."""

    key: FileKey
    kind: str  # the document's `kind`; "" when it did not load
    incomplete: bool  # it did not load, or failed its schema
    failed: bool  # it has a loading or schema error (PB1xx, PB2xx)
    playbook: tuple[str, int, int] | None  # a Playbook's id and where it is written


def file_key(path: str | Path) -> FileKey | None:
    """The stat identity of `path`, or None if it cannot be had (it is then loaded, and the
    loading says why)."""
    try:
        found = os.stat(path)
    except (OSError, ValueError):
        return None
    return (found.st_mtime_ns, found.st_ctime_ns, found.st_size, found.st_ino)


def summary_of(key: FileKey, checked: Checked) -> Summary:
    """The summary of a file loaded with `doccache.load_checked`."""
    doc, problems, schema_problems = checked
    failed = any(d.is_error and d.of_loading for d in (*problems, *schema_problems))
    kind, playbook = "", None
    if doc is not None and isinstance(doc.data, dict):
        written = doc.data.get("kind")
        kind = written if isinstance(written, str) else ""
        meta = doc.data.get("metadata")
        ident = meta.get("id") if isinstance(meta, dict) else None
        if kind == "Playbook" and isinstance(ident, str):
            span = doc.span("/metadata/id")
            playbook = (ident, span.line, span.col)
    incomplete = doc is None or any(d.is_error for d in schema_problems)
    return Summary(key, kind, incomplete, failed, playbook)


def _store_key(root: Path) -> str:
    # The files' names as shown depend on the working directory: an index per place it is
    # checked from, so that two libraries shown alike (`lib` in two repositories) or one
    # library checked from two folders do not overwrite each other's.
    return f"library-index\0{FORMAT}\0{os.path.realpath(root)}\0{os.getcwd()}"


def read(root: Path) -> dict[str, Summary]:
    """The index of the library at `root`, by the files' display paths; empty when the store
    has none (or no store is in use)."""
    plain = stores.stored(stores.active_store(), _store_key(root))
    if not isinstance(plain, dict):
        return {}
    found: dict[str, Summary] = {}
    try:
        for shown, (key, kind, incomplete, failed, playbook) in plain.items():
            if not (isinstance(shown, str) and isinstance(kind, str) and len(key) == 4):
                return {}
            if playbook is not None:
                ident, line, col = playbook
                playbook = (str(ident), int(line), int(col))
            found[shown] = Summary(
                tuple(int(part) for part in key),  # type: ignore[arg-type]
                kind,
                bool(incomplete),
                bool(failed),
                playbook,
            )
    except (TypeError, ValueError):  # authentic but not this shape: an engine bug
        return {}
    return found


def write(root: Path, index: Mapping[str, Summary]) -> None:
    """Keep `index` for the library at `root` (nowhere without a store)."""
    store = stores.active_store()
    if store is None:
        return
    import marshal

    plain = {
        shown: (s.key, s.kind, s.incomplete, s.failed, s.playbook) for shown, s in index.items()
    }
    store.put(_store_key(root), marshal.dumps(plain))
