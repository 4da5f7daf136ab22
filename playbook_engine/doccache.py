"""Loaded and schema-checked documents kept between runs of `playbook validate FILE`.

A pre-commit hook checks the files of a commit in the context of their whole library, so
each run loads every document of the library although only the committed ones changed.
Loading and schema-checking a document depend only on its bytes, the name it is shown by,
and the engine (its code and schemas): the result — the document with its source map, and
the diagnostics of both steps — is kept in the store `sandbox.use_code_store` set, beside the
compiled template code. The store names each entry by a hash of the engine's identity and
the key, and HMAC-checks it with the user's secret before it is read, so an entry is only
ever what this engine wrote for these bytes; it is `marshal`led plain data (no pickle),
checked for shape when read, and a changed file has another key. Without a store (whole
directories, `playbook run`), documents are loaded afresh.

`load_many` loads a large library on two cores: a forked child loads and checks every other
file and sends the results back in the same marshalled form (see `load_many` for when).
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import loader, sandbox, schema
from .diagnostics import Diagnostic, Severity, Span
from .loader import SourceDoc

FORMAT = 1
"""Changes whenever the shape of an entry does (the engine's identity changes with it too)."""

FORK_MIN_FILES = 64
"""Fewer files load faster in one process than forking and sending results back costs."""

Checked = tuple[SourceDoc | None, list[Diagnostic], list[Diagnostic]]
"""A document (None if it cannot be loaded), the loader's diagnostics, the schema's."""


def load_checked(path: Path, display: str) -> Checked:
    """`loader.load_file(path, display)` and, for a document, `schema.validate_document` —
    from the store when it holds them for these bytes."""
    content, problems = loader.read_file(path, display)
    if content is None:
        return None, problems, []
    json_only = path.suffix.lower() == ".json"
    store = sandbox.active_store()
    key = ""
    if store is not None:
        digest = hashlib.sha256(content).hexdigest()
        key = f"document\0{FORMAT}\0{int(json_only)}\0{display}\0{digest}"
        data = store.get(key)
        stored = _decode(data, display) if data is not None else None
        if stored is not None:
            return stored
    doc, problems = loader.load_text(content, display, json_only=json_only)
    checked = schema.validate_document(doc) if doc is not None else []
    if store is not None:
        store.put(key, _encode(doc, problems, checked))
    return doc, problems, checked


def load_many(files: Sequence[tuple[Path, str]], fork: bool | None = None) -> list[Checked]:
    """`load_checked` of each (path, name shown), in order.

    From `FORK_MIN_FILES` files on (or with `fork=True`), on Linux and with no other thread
    running (forking copies only the calling thread), a forked child loads every other file
    while this process loads the rest: loading and schema checks are about half of
    validating a large library, and sending a document back costs a few percent of loading
    it. A child that fails in any way only costs time: its files are then loaded here.
    """
    if fork is None:
        fork = len(files) >= FORK_MIN_FILES
    if not fork or not sys.platform.startswith("linux") or threading.active_count() > 1:
        return [load_checked(path, shown) for path, shown in files]
    theirs = files[1::2]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns, never runs the parent's exit handlers
        status = 1
        try:
            os.close(read)
            rows = [_plain(*load_checked(path, shown)) for path, shown in theirs]
            with os.fdopen(write, "wb") as out:
                out.write(marshal.dumps(rows))
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    incoming = os.fdopen(read, "rb")
    try:
        mine = [load_checked(path, shown) for path, shown in files[::2]]
        payload = incoming.read()
    finally:
        incoming.close()  # on an error here, a child blocked writing gets EPIPE and exits
        _, status = os.waitpid(pid, 0)
    sent = _received(payload, theirs) if status == 0 else None
    if sent is None:
        sent = [load_checked(path, shown) for path, shown in theirs]
    merged: list[Checked] = []
    for index in range(len(files)):
        merged.append(mine[index // 2] if index % 2 == 0 else sent[index // 2])
    return merged


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
        shape = (doc.data, dict(doc.value_positions), dict(doc.key_positions))
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
            data, values, keys = shape
            if not isinstance(values, dict) or not isinstance(keys, dict):
                return None
            doc = SourceDoc(display, data, values, keys)
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
