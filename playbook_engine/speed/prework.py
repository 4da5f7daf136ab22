"""Template work a helper process can do for the documents it loaded (see `doccache.Loading`).

Checking templates (`sandbox.check_template`) is a large part of validating a large library
and depends only on each template's source and output mode, so the child process that loads
half of the files goes on to check templates while the parent builds and checks the library;
the parent compiles the library with the entries that have arrived in front of its store. The
modes are read from the documents the way `compiler` chooses them (steps in markdown,
notifications by their channel's kind): a wrong guess only costs the work, since entries are
keyed by source and mode and hold only what checking that source in that mode makes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from playbook_engine import sandbox
from playbook_engine.compile.compiler import BODY_MODE
from playbook_engine.load.documents import SourceDoc
from playbook_engine.speed import stores
from playbook_engine.speed.doccache import Checked, load_checked


class TemplateWork:
    """Templates checked by the loading child (a `doccache.Work`): first those of the
    documents it loaded, in the order `compile_library` will ask for them, then those the
    parent's documents need, from the last: the parent checks its own from the first, so
    the two meet in the middle instead of doing the same ones."""

    def __init__(self, policy: Path | None) -> None:
        self.policy = policy

    def wanted(self, found: list[Checked]) -> list[Any]:
        """The templates of the parent's documents, as [source, mode] pairs in order."""
        kinds = _channel_kinds(self.policy)
        return [list(template) for template in dict.fromkeys(_ordered(found, kinds))]

    def run(self, found: list[Checked], wanted: Callable[[], list[Any]]) -> Iterator[Any]:
        """Code-store entries for the templates of `found`, then for `wanted()`'s."""
        kinds = _channel_kinds(self.policy)
        done: set[tuple[str, str]] = set()  # libraries repeat templates: each is made once
        below = stores.active_store()
        store = stores.MemoryStore({}, below)
        stores.use_code_store(store)
        try:
            for template in _ordered(found, kinds):
                if template not in done:
                    done.add(template)
                    sandbox.prepare_template(*template)
                    yield store.entries
                    store.entries = {}
            for pair in reversed(wanted()):
                if isinstance(pair, list) and len(pair) == 2 and tuple(pair) not in done:
                    done.add((pair[0], pair[1]))
                    sandbox.prepare_template(str(pair[0]), str(pair[1]))
                    yield store.entries
                    store.entries = {}
        finally:
            stores.use_code_store(below)


def _ordered(found: list[Checked], kinds: dict[str, str]) -> Iterator[tuple[str, str]]:
    """(source, mode) of each template of the schema-valid documents in `found`, in the order
    `compile_library` checks them: shared definitions, then playbooks by order and id."""
    valid = [doc for doc, _, checked in found if doc and not any(d.is_error for d in checked)]
    valid.sort(key=_compile_order)
    for doc in valid:
        yield from _templates(doc.data.get("spec", {}), kinds)


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
