"""Template work a helper process can do for the documents it loaded (see `doccache.Loading`).

Compiling templates is a third of validating a large library and depends only on each
template's source and output mode, so the child process that loads half of the files goes
on to compile their templates, document by document, while the parent builds and checks
the library; the parent compiles with the entries that have arrived in front of its store. The
modes are read from the documents the way `compiler` chooses them (steps in markdown,
notifications by their channel's kind): a wrong guess only costs the work, since entries are
keyed by source and mode and hold only what compiling that source in that mode makes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import sandbox
from .compiler import BODY_MODE
from .doccache import Checked, load_checked
from .loader import SourceDoc


def template_entries(found: list[Checked], policy: Path | None) -> Iterator[dict[str, bytes]]:
    """Code-store entries for the templates of the schema-valid documents in `found`, one
    batch per document, with channel kinds from the policy file at `policy` (if it loads)."""
    kinds = _channel_kinds(policy)
    below = sandbox.active_store()
    valid = [doc for doc, _, checked in found if doc and not any(d.is_error for d in checked)]
    # In the order `compile_library` compiles (shared definitions, then playbooks by order
    # and id), so that what the parent asks for next has most likely arrived.
    valid.sort(key=_compile_order)
    done: set[tuple[str, str]] = set()  # libraries repeat templates: each is prepared once
    for doc in valid:
        store = sandbox.MemoryStore({}, below)
        sandbox.use_code_store(store)
        try:
            for template in _templates(doc.data.get("spec", {}), kinds):
                if template not in done:
                    done.add(template)
                    sandbox.prepare_template(*template)
        finally:
            sandbox.use_code_store(below)
        yield store.entries


def _compile_order(doc: SourceDoc) -> tuple[bool, int, str]:
    data = doc.data
    spec, metadata = data.get("spec", {}), data.get("metadata", {})
    order = spec.get("order", 100) if isinstance(spec, dict) else 100
    ident = metadata.get("id", "") if isinstance(metadata, dict) else ""
    shared = data.get("kind") == "Shared"
    return (not shared, order if isinstance(order, int) else 100, str(ident))


def _channel_kinds(policy: Path | None) -> dict[str, str]:
    doc = load_checked(policy, str(policy))[0] if policy is not None else None
    spec = doc.data.get("spec", {}) if doc is not None and isinstance(doc.data, dict) else {}
    channels = spec.get("channels", []) if isinstance(spec, dict) else []
    return {
        c["id"]: c["kind"]
        for c in channels
        if isinstance(c, dict) and isinstance(c.get("id"), str) and isinstance(c.get("kind"), str)
    }


def _templates(spec: Any, kinds: dict[str, str]) -> Iterator[tuple[str, str]]:
    """(source, mode) of the steps and notifications of a Playbook or Shared spec."""
    if not isinstance(spec, dict):
        return
    steps = list(spec.get("steps", ()))
    for group in spec.get("stepGroups", ()):
        steps += group.get("steps", ())
    for step in steps:
        for key in ("title", "details"):
            if isinstance(step, dict) and isinstance(step.get(key), str):
                yield step[key], "markdown"
    for note in spec.get("notifications", ()):
        if not isinstance(note, dict):
            continue
        kind = kinds.get(note.get("channel", ""), "chat")
        line = "chat-header" if kind == "chat" else "header"
        for text in [*note.get("to", ()), note.get("subject")]:
            if isinstance(text, str):
                yield text, line
        if isinstance(note.get("body"), str) and kind in BODY_MODE:
            yield note["body"], BODY_MODE[kind]
