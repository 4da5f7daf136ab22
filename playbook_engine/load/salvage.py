"""What can still be checked of a document that failed its schema.

One schema error used to hide every other finding of its file: the document was dropped
before the model was built, so an unknown impact level two rules below an unknown key was
reported only once the key was fixed. `salvage` removes the parts the schema refuses (an
unknown key, a wrong value, a list item of the wrong shape; an object missing a required key,
as a whole) until the rest validates, and keeps the source positions of what is left, so
that the remaining parts are built and checked like any document. What is removed is only
ever reported by the schema's own errors; `Salvaged` says what went, so that findings that
follow from the removal itself (a step depending on a removed step) are not reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from playbook_engine.diagnostics import Diagnostic
from playbook_engine.load import schema
from playbook_engine.load.documents import SourceDoc, escape_pointer_token

SALVAGED_KINDS = frozenset({"Playbook", "Shared"})
"""Kinds a failed document is salvaged for: a policy or mapping with a schema error is
reported alone (every other document depends on the policy)."""

_ESSENTIAL = frozenset({"", "/apiVersion", "/kind", "/metadata", "/metadata/id", "/spec"})
_ROUNDS = 8  # removing a required value refuses its parent next: a few rounds at most
_MISSING = "PB203"  # a required key is missing: its object goes


@dataclass(frozen=True, slots=True)
class Salvaged:
    """The document without the parts its schema refused, and what those parts were."""

    doc: SourceDoc
    removed: frozenset[str]  # pointers, as written in the original document
    removed_ids: frozenset[str]  # ids of removed objects and of those inside them

    def touches(self, prefix: str) -> bool:
        """Whether anything at or below `prefix` was removed."""
        return any(p == prefix or p.startswith(prefix + "/") for p in self.removed)


def salvage(doc: SourceDoc, problems: list[Diagnostic]) -> Salvaged | None:
    """`doc` without the parts `problems` (its schema errors) point at, re-checked until it
    validates; None if an essential part (kind, metadata id, spec) would go or it does not
    settle."""
    data = doc.data
    if not isinstance(data, dict) or data.get("kind") not in SALVAGED_KINDS:
        return None
    removed: set[str] = set()
    current: SourceDoc = doc
    back: dict[str, str] | None = None  # the first round's pointers are the original ones
    for _ in range(_ROUNDS):
        targets = set()
        for problem in problems:
            if not problem.is_error:
                continue
            if not problem.pointer and problem.code[:3] == "PB2":
                return None  # an error without a place: nothing can be removed for it
            pointer = problem.pointer
            if problem.code == _MISSING:
                pointer = pointer.rsplit("/", 1)[0]
            original = _original(pointer, back)
            if original is None or original in _ESSENTIAL:
                return None
            targets.add(original)
        if not targets:
            return Salvaged(current, frozenset(removed), _ids(data, removed))
        removed |= targets
        current, back = _pruned(doc, removed)
        problems = schema.validate_document(current)
    return None


def _original(pointer: str, back: dict[str, str] | None) -> str | None:
    """The original pointer of `pointer` in the pruned document (or of its nearest known
    ancestor's child, for a pointer to a missing key)."""
    if back is None:
        return pointer
    if pointer in back:
        return back[pointer]
    parent, _, last = pointer.rpartition("/")
    if parent in back:
        return f"{back[parent]}/{last}"
    return None


def _pruned(doc: SourceDoc, removed: set[str]) -> tuple[SourceDoc, dict[str, str]]:
    """A copy of `doc` without the values at `removed` (original pointers), with the positions
    of what is left under their new pointers; and each new pointer's original."""
    values: dict[str, tuple[int, int]] = {}
    keys: dict[str, tuple[int, int]] = {}
    blocks: dict[str, tuple[int, int]] = {}
    back: dict[str, str] = {}

    def copy(value: Any, old: str, new: str) -> Any:
        back[new] = old
        for source, target in (
            (doc.value_positions, values),
            (doc.key_positions, keys),
            (doc.block_positions, blocks),
        ):
            if old in source:
                target[new] = source[old]
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for key, item in value.items():
                token = escape_pointer_token(str(key))
                if f"{old}/{token}" not in removed:
                    out[key] = copy(item, f"{old}/{token}", f"{new}/{token}")
            return out
        if isinstance(value, list):
            kept: list[Any] = []
            for index, item in enumerate(value):
                if f"{old}/{index}" not in removed:
                    kept.append(copy(item, f"{old}/{index}", f"{new}/{len(kept)}"))
            return kept
        return value

    data = copy(doc.data, "", "")
    return SourceDoc(doc.path, data, values, keys, blocks), back


def _ids(data: Any, removed: set[str]) -> frozenset[str]:
    """The ids of the objects at `removed` in `data` and of the objects inside them."""
    found: set[str] = set()
    for pointer in removed:
        value = data
        for token in pointer.split("/")[1:]:
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(value, dict):
                value = value.get(token)
            elif isinstance(value, list) and token.isdigit() and int(token) < len(value):
                value = value[int(token)]
            else:
                value = None
                break
        stack = [value]  # a removed object, and the objects inside it (a group's steps)
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                if isinstance(item.get("id"), str):
                    found.add(item["id"])
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
    return frozenset(found)
