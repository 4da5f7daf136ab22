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
"""

from __future__ import annotations

import hashlib
import marshal
from pathlib import Path
from typing import Any

from . import loader, sandbox, schema
from .diagnostics import Diagnostic, Severity, Span
from .loader import SourceDoc

FORMAT = 1
"""Changes whenever the shape of an entry does (the engine's identity changes with it too)."""

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
        stored = _decode(store.get(key), display)
        if stored is not None:
            return stored
    doc, problems = loader.load_text(content, display, json_only=json_only)
    checked = schema.validate_document(doc) if doc is not None else []
    if store is not None:
        store.put(key, _encode(doc, problems, checked))
    return doc, problems, checked


def _encode(doc: SourceDoc | None, problems: list[Diagnostic], checked: list[Diagnostic]) -> bytes:
    shape = None
    if doc is not None:
        shape = (doc.data, dict(doc.value_positions), dict(doc.key_positions))
    return marshal.dumps((shape, [_row(d) for d in problems], [_row(d) for d in checked]))


def _row(d: Diagnostic) -> tuple[str, str, str, str, int, int, str, str]:
    span = d.span
    return (d.code, d.severity.value, d.message, span.path, span.line, span.col, d.hint, d.pointer)


def _decode(data: bytes | None, display: str) -> Checked | None:
    """An entry read back, or None if there is none or it is not of the expected shape."""
    if data is None:
        return None
    try:
        shape, problems, checked = marshal.loads(data)
        doc = None
        if shape is not None:
            data, values, keys = shape
            if not isinstance(values, dict) or not isinstance(keys, dict):
                return None
            doc = SourceDoc(display, data, values, keys)
        return doc, _diagnostics(problems), _diagnostics(checked)
    except (EOFError, ValueError, TypeError):  # the HMAC held: an engine bug, not an attack
        return None


def _diagnostics(rows: Any) -> list[Diagnostic]:
    if not isinstance(rows, list):
        raise TypeError("not a list of diagnostics")
    return [
        Diagnostic(code, Severity(severity), message, Span(path, line, col), hint, pointer)
        for code, severity, message, path, line, col, hint, pointer in rows
    ]
