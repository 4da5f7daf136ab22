"""Loaded and schema-checked documents kept between runs of `playbook validate FILE`.

A pre-commit hook checks the files of a commit in the context of their whole library, so
each run loads every document of the library although only the committed ones changed.
Loading and schema-checking a document depend only on its bytes, the name it is shown by,
and the engine (its code and schemas): the result — the document with its source map, and
the diagnostics of both steps — is kept in the store `stores.use_code_store` set, beside the
compiled template code. The store names each entry by a hash of the engine's identity and
the key, and HMAC-checks it with the user's secret before it is read, so an entry is only
ever what this engine wrote for these bytes; it is `marshal`led plain data (no pickle),
checked for shape when read, and a changed file has another key. Without a store (whole
directories, `playbook run`), documents are loaded afresh.

`Loading` loads a large library on two cores: a forked child loads and checks every other
file and sends the results back in the same marshalled form, then checks templates for this
process's code store (see `Loading` for when).
"""

from __future__ import annotations

import fcntl
import hashlib
import marshal
import os
import select
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from playbook_engine.diagnostics import Diagnostic, Severity, Span
from playbook_engine.load import documents, schema
from playbook_engine.load.documents import SourceDoc
from playbook_engine.speed import stores

FORMAT = 2
"""Changes whenever the shape of an entry does (the engine's identity changes with it too)."""

FORK_MIN_FILES = 64
"""Fewer files load faster in one process than forking and sending results back costs."""

TRANSFER_VERSION = 2
"""The marshal format of documents a loading child sends: without version 3's references it
writes faster and reads slower, and the parent is waiting for it (docs/benchmarks.md,
"Shapes"). Stored entries, read far more often than written, keep 4."""

Checked = tuple[SourceDoc | None, list[Diagnostic], list[Diagnostic]]
"""A document (None if it cannot be loaded), the loader's diagnostics, the schema's."""


def load_checked(path: Path, display: str) -> Checked:
    """`documents.load_file(path, display)` and, for a document, `schema.validate_document` —
    from the store when it holds them for these bytes."""
    content, problems = documents.read_file(path, display)
    if content is None:
        return None, problems, []
    json_only = path.suffix.lower() == ".json"
    store = stores.active_store()
    key = ""
    if store is not None:
        digest = hashlib.sha256(content).hexdigest()
        key = f"document\0{FORMAT}\0{int(json_only)}\0{display}\0{digest}"
        data = store.get(key)
        stored = _decode(data, display) if data is not None else None
        if stored is not None:
            return stored
    doc, problems = documents.load_text(content, display, json_only=json_only)
    checked = schema.validate_document(doc) if doc is not None else []
    if store is not None:
        store.put(key, _encode(doc, problems, checked))
    return doc, problems, checked


class Work(Protocol):
    """What a loading child does once it has sent its documents (see `prework`)."""

    def wanted(self, found: list[Checked]) -> list[Any]:
        """In the parent, from the documents it loaded itself: what to ask the child for
        (plain data marshal can write)."""

    def run(self, found: list[Checked], wanted: Callable[[], list[Any]]) -> Iterator[Any]:
        """In the child: code-store entries (dicts of bytes by key), in batches, for the
        documents it loaded; `wanted()` waits for what the parent asks for."""


def load_many(files: Sequence[tuple[Path, str]], fork: bool | None = None) -> list[Checked]:
    """`load_checked` of each (path, name shown), in order (see `Loading` for `fork`)."""
    loading = Loading(files, fork)
    loading.close()
    return loading.results


class Loading:
    """`load_checked` of each (path, name shown), in order, in `results`.

    From `FORK_MIN_FILES` files on (or with `fork=True`), on Linux and with no other thread
    running (forking copies only the calling thread), a forked child loads every other file
    while this process loads the rest: loading and schema checks are about half of
    validating a large library, and sending a document back costs a few percent of loading
    it. The child then does `work` for what it loaded and what the parent asks for, and
    appends each batch of entries to an anonymous temporary file as it is made; `store()`
    puts them in front of a code store, taking whatever has arrived when asked and never
    waiting, so that a busy second core costs nothing. A child that fails in any way only
    costs time: its files are then loaded here. `close()` stops the child (at its next
    batch) and waits for it.
    """

    def __init__(
        self, files: Sequence[tuple[Path, str]], fork: bool | None, work: Work | None = None
    ) -> None:
        self.pid = self.spool = self.stop = self.read = self.ask = 0
        self.offset = 0  # how much of the spool has been taken
        if fork is None:
            fork = len(files) >= FORK_MIN_FILES
        if not fork or not sys.platform.startswith("linux") or threading.active_count() > 1:
            self.results = [load_checked(path, shown) for path, shown in files]
            return
        theirs = files[1::2]
        opened: list[int] = []
        try:
            self.read, write = os.pipe()
            opened += (self.read, write)
            stopped, self.stop = os.pipe()
            opened += (stopped, self.stop)
            asked, self.ask = os.pipe()
            opened += (asked, self.ask)
            import tempfile  # only a forking load needs it (slow to import)

            with tempfile.TemporaryFile() as spool:
                self.spool = os.dup(spool.fileno())
            opened.append(self.spool)
            self.pid = os.fork()
        except OSError:  # no pipe, temporary file or process to be had: load here
            for fd in opened:
                os.close(fd)
            self.pid = 0
            self.results = [load_checked(path, shown) for path, shown in files]
            return
        if self.pid == 0:  # the child: never returns, never runs the parent's exit handlers
            status = 1
            try:
                for fd in (self.read, self.stop, self.ask):
                    os.close(fd)
                found = [load_checked(path, shown) for path, shown in theirs]
                with os.fdopen(write, "wb") as out:
                    rows = [_plain(*checked) for checked in found]
                    out.write(marshal.dumps(rows, TRANSFER_VERSION))
                for batch in work.run(found, partial(_asked, asked)) if work else ():
                    if select.select([stopped], [], [], 0)[0]:
                        break  # the parent has what it needs
                    payload = marshal.dumps(batch)
                    os.write(self.spool, len(payload).to_bytes(8, "big") + payload)
                status = 0
            finally:
                os._exit(status)
        for fd in (write, stopped, asked):
            os.close(fd)
        try:
            mine = [load_checked(path, shown) for path, shown in files[::2]]
            self._ask(marshal.dumps(work.wanted(mine)) if work else b"")
            with os.fdopen(self.read, "rb") as incoming:
                self.read = 0
                sent = _received(incoming.read(), theirs)
        except BaseException:
            self.close()
            raise
        if sent is None:
            self.close()
            sent = [load_checked(path, shown) for path, shown in theirs]
        self.results = [
            mine[index // 2] if index % 2 == 0 else sent[index // 2] for index in range(len(files))
        ]

    def _ask(self, payload: bytes) -> None:
        """Send `payload` to the child if the pipe can hold all of it (never block: the
        child reads it only when done with its own work); then close the pipe."""
        try:
            if len(payload) > fcntl.fcntl(self.ask, fcntl.F_GETPIPE_SZ):
                fcntl.fcntl(self.ask, fcntl.F_SETPIPE_SZ, len(payload))
            if len(payload) <= fcntl.fcntl(self.ask, fcntl.F_GETPIPE_SZ):
                os.set_blocking(self.ask, False)
                os.write(self.ask, payload)
        except OSError:
            pass  # too large for a pipe here: the child does its own work only
        os.close(self.ask)
        self.ask = 0

    def batches(self) -> Iterator[bytes]:
        """The batches the child has finished writing since the last call."""
        if not self.pid:
            return
        size = os.fstat(self.spool).st_size
        while self.offset + 8 <= size:
            length = int.from_bytes(os.pread(self.spool, 8, self.offset), "big")
            if self.offset + 8 + length > size:
                return  # still being written
            yield os.pread(self.spool, length, self.offset + 8)
            self.offset += 8 + length

    def store(self, below: stores.CodeStore | None) -> stores.CodeStore | None:
        """A code store answering first from the child's entries, then from `below`."""
        return _Prepared(self, below) if self.pid else below

    def close(self) -> None:
        """Stop the child, if any, and wait for it."""
        if self.pid:
            for fd in (self.stop, self.read, self.ask):
                if fd:
                    os.close(fd)  # the child stops at its next batch, or fails writing
            os.waitpid(self.pid, 0)
            os.close(self.spool)
            self.pid = 0


class _Prepared(stores.MemoryStore):
    """The entries a loading child writes, read as they arrive, in front of another store."""

    def __init__(self, loading: Loading, below: stores.CodeStore | None) -> None:
        super().__init__({}, below)
        self.loading = loading

    def get(self, key: str) -> bytes | None:
        """The child's entry for `key` if it has arrived, else the store's below."""
        if key not in self.entries:
            self.drain()
        return super().get(key)

    def drain(self) -> None:
        """Take every batch that has arrived whole."""
        for message in self.loading.batches():
            try:
                batch = marshal.loads(message)
            except (EOFError, ValueError, TypeError):
                continue
            if isinstance(batch, dict):
                self.entries.update(
                    (k, v) for k, v in batch.items() if isinstance(k, str) and isinstance(v, bytes)
                )


def _asked(fd: int) -> list[Any]:
    """In the child: what the parent asked for (waiting for it), or nothing."""
    with os.fdopen(fd, "rb") as incoming:
        payload = incoming.read()
    try:
        wanted = marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return []
    return wanted if isinstance(wanted, list) else []


def _received(payload: bytes, files: Sequence[tuple[Path, str]]) -> list[Checked] | None:
    try:
        rows = marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return None
    if not isinstance(rows, list) or len(rows) != len(files):
        return None
    found: list[Checked] = []
    for row, (_, shown) in zip(rows, files, strict=True):
        checked = _rebuilt(row, shown)
        if checked is None:
            return None
        found.append(checked)
    return found


def _encode(doc: SourceDoc | None, problems: list[Diagnostic], checked: list[Diagnostic]) -> bytes:
    return marshal.dumps(_plain(doc, problems, checked))


def _plain(doc: SourceDoc | None, problems: list[Diagnostic], checked: list[Diagnostic]) -> Any:
    """What `load_checked` returned, as data marshal can write."""
    shape = None
    if doc is not None:
        shape = (
            doc.data,
            dict(doc.value_positions),
            dict(doc.key_positions),
            dict(doc.block_positions),
        )
    return (shape, [_row(d) for d in problems], [_row(d) for d in checked])


def _row(d: Diagnostic) -> tuple[str, str, str, str, int, int, str, str]:
    span = d.span
    return (d.code, d.severity.value, d.message, span.path, span.line, span.col, d.hint, d.pointer)


def _decode(data: bytes, display: str) -> Checked | None:
    """An entry read back, or None if it is not of the expected shape."""
    try:
        return _rebuilt(marshal.loads(data), display)
    except (EOFError, ValueError, TypeError):
        return None


def _rebuilt(plain: Any, display: str) -> Checked | None:
    """`_plain`'s data made into a document and diagnostics again; None if it is not that."""
    try:
        shape, problems, checked = plain
        doc = None
        if shape is not None:
            data, values, keys, blocks = shape
            if not all(isinstance(positions, dict) for positions in (values, keys, blocks)):
                return None
            doc = SourceDoc(display, data, values, keys, blocks)
        return doc, _diagnostics(problems), _diagnostics(checked)
    except (ValueError, TypeError):  # the data was authentic: an engine bug, not an attack
        return None


def _diagnostics(rows: Any) -> list[Diagnostic]:
    if not isinstance(rows, list):
        raise TypeError("not a list of diagnostics")
    return [
        Diagnostic(code, Severity(severity), message, Span(path, line, col), hint, pointer)
        for code, severity, message, path, line, col, hint, pointer in rows
    ]
