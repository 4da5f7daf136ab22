"""The pipeline driver: load a library directory's documents, build the model, check, lint
and compile it, collecting every diagnostic (`load_library`); `open_library` for a library
that must be valid. Which files are documents: `load.discovery`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from playbook_engine.check.lint import lint_library
from playbook_engine.check.semantic import check_library
from playbook_engine.check.suppressions import apply_suppressions
from playbook_engine.compile.compiler import CompiledLibrary, compile_library
from playbook_engine.diagnostics import (
    Diagnostic,
    InputError,
    Span,
    error,
    info,
    sorted_diagnostics,
    warning,
)
from playbook_engine.load import schema
from playbook_engine.load.build import (
    build_playbook,
    build_policy,
    build_shared,
    shared_for_validation,
)
from playbook_engine.load.discovery import (
    POLICY_NAMES,
    confine,
    discover,
    discover_listing,
    display_path,
    display_paths,
    incident_fields,
)
from playbook_engine.load.salvage import Salvaged, salvage
from playbook_engine.model import Library
from playbook_engine.speed import lifetime, stores
from playbook_engine.speed.doccache import FORK_MIN_FILES, Loading

if TYPE_CHECKING:
    from playbook_engine.load.documents import SourceDoc
    from playbook_engine.model import Playbook, Policy


@dataclass(frozen=True, slots=True)
class Elsewhere:
    """What the library's documents that were not loaded bring to the checks of those that
    were (see `load_library_for`): the playbook ids they define and where, in file order.
    They all loaded and passed their schema (else the whole library is loaded)."""

    playbooks: tuple[tuple[str, Span], ...]  # (id, where it is written)


@dataclass(frozen=True, slots=True)
class LoadResult:
    """A library and everything found while loading it (compiled is None if it cannot be)."""

    root: str
    files: tuple[str, ...]
    compiled: CompiledLibrary | None
    diagnostics: list[Diagnostic]
    # Of each document that failed its schema but was checked in part (`load.salvage`), by
    # path: the ids of what was left out. A failed document not here did not load at all.
    removed_ids: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.compiled is not None and not any(d.is_error for d in self.diagnostics)


def load_library(root: Path, files: Iterable[Path] | None = None) -> LoadResult:
    """Load every document of the library at `root` and validate and compile it."""
    with lifetime.collector_paused():
        return _load_library(root, files)


def _load_library(root: Path, files: Iterable[Path] | None) -> LoadResult:

    paths, refused = confine(root, list(files) if files is not None else discover(root))
    shown = [display_path(p) for p in paths]
    policy = next((root / name for name in POLICY_NAMES if (root / name).is_file()), None)
    work = None
    if len(paths) >= FORK_MIN_FILES:  # the only case that forks (prework is imported only then)
        from playbook_engine.speed.prework import TemplateWork

        work = TemplateWork(policy)
    loading = Loading(list(zip(paths, shown, strict=True)), None, work)
    try:
        return build_check_compile(root, shown, loading, refused)
    finally:
        loading.close()
        lifetime.keep(loading.results)  # the documents: the library holds what it needs


def load_library_for(root: Path, asked: set[str]) -> LoadResult:
    """`load_library(root)` for reporting on the files shown as `asked` only (a pre-commit
    hook's case): with a code store in use and every asked file a playbook, only the asked
    files, the policy, the Shared documents and the files changed since the library index
    was written are loaded (`speed.libindex`); every other document contributes what the
    index says of it. The asked files' diagnostics are those of loading the whole library."""
    if stores.active_store() is None:
        return load_library(root)
    with lifetime.collector_paused():
        return _load_library_for(root, asked)


def _load_library_for(root: Path, asked: set[str]) -> LoadResult:
    from playbook_engine.speed import libindex

    listing = discover_listing(root)
    links = [path for path, link in listing if link]
    kept, refused = confine(root, [Path(path) for path in links])
    inside = set(kept)
    allowed = {path for path in links if Path(path) in inside}
    texts = [path for path, link in listing if not link or path in allowed]
    shown = display_paths(texts, allowed)
    index = libindex.read(root)
    keys = [libindex.file_key(path) for path in texts]
    wanted = []  # positions of the files to load
    for position, (name, key) in enumerate(zip(shown, keys, strict=True)):
        known = index.get(name)
        if name in asked or known is None or known.key != key or known.kind in _ALWAYS_LOADED:
            wanted.append(position)
    every = len(wanted) * 2 > len(texts)  # a first run, or most files changed
    if every:
        wanted = list(range(len(texts)))
    loaded = [(Path(texts[i]), shown[i]) for i in wanted]
    work = None
    if len(loaded) >= FORK_MIN_FILES:
        from playbook_engine.speed.prework import TemplateWork

        policy = next((root / name for name in POLICY_NAMES if (root / name).is_file()), None)
        work = TemplateWork(policy)
    loading = Loading(loaded, None, work)
    try:
        fresh = {
            shown[i]: libindex.summary_of(key, checked)
            for i, checked in zip(wanted, loading.results, strict=True)
            if (key := keys[i]) is not None
        }
        current = {
            name: fresh.get(name) or index[name] for name in shown if name in fresh or name in index
        }
        if current != index:
            libindex.write(root, current)
        # A file discovery does not list (an example incident, a README) needs nothing here.
        documents = asked.intersection(shown)
        skipped = set(shown).difference(name for _, name in loaded)
        others = [(name, index[name]) for name in shown if name in skipped]
        # A broken document is salvaged and checked with the rest (`load.salvage`), which
        # only loading it does: with one, the whole library is loaded.
        focused = (
            not every
            and all(
                (found := fresh.get(name)) is not None
                and found.kind == "Playbook"
                and not found.failed
                for name in documents
            )
            and not any(o.failed or o.incomplete for _, o in others)
        )
        if not focused:
            if not every:  # load the rest too: the asked files need the whole library
                loading.close()
                lifetime.keep(loading.results)
                return _load_library(root, None)
            return build_check_compile(root, shown, loading, refused)
        elsewhere = Elsewhere(
            tuple(
                (o.playbook[0], Span(name, o.playbook[1], o.playbook[2]))
                for name, o in others
                if o.playbook is not None
            )
        )
        return build_check_compile(root, shown, loading, refused, elsewhere)
    finally:
        loading.close()
        lifetime.keep(loading.results)


# Kinds whose documents every playbook's checks read: loaded even when unchanged.
_ALWAYS_LOADED = frozenset({"Policy", "Shared"})


def build_check_compile(
    root: Path,
    shown: list[str],
    loading: Loading,
    refused: Sequence[Diagnostic] = (),
    elsewhere: Elsewhere | None = None,
) -> LoadResult:
    """Build the model from the loaded documents, check, lint and compile it: the stages after
    loading, with every diagnostic collected (`refused`: files discovery would not read;
    `elsewhere`: what the documents not loaded bring)."""
    documents, diagnostics, complete, invalid_policy, salvaged = _documents_by_kind(loading)
    diagnostics[:0] = refused
    complete = complete and not refused
    root_display = display_path(root)
    library = _build_library(documents, diagnostics, root_display, shown, invalid_policy)
    if library is None:
        return LoadResult(root_display, tuple(shown), None, sorted_diagnostics(diagnostics))
    fields = incident_fields()
    others = elsewhere.playbooks if elsewhere else ()
    diagnostics += check_library(library, fields, complete, others)
    # Linting before compiling gives a loading child more time to check templates for us.
    diagnostics += lint_library(library, schema.load_schema("incident"), complete)
    # Template checks a loading child has made meanwhile, in front of the store (if any).
    below = stores.active_store()
    stores.use_code_store(loading.store(below))
    try:
        compiled, found = compile_library(library, fields)
    finally:
        stores.use_code_store(below)
    diagnostics += found
    if salvaged:
        diagnostics = _without_salvage_artefacts(diagnostics, salvaged)
    removed = {path: rest.removed_ids for path, rest in salvaged.items()}
    if not complete:
        diagnostics = _without_follow_ons(diagnostics, removed)
    kept = apply_suppressions(sorted_diagnostics(diagnostics))
    return LoadResult(root_display, tuple(shown), compiled, kept, removed)


# What a document that did not load makes other files say: references to what it defined
# (a Shared file's step groups, escalations, notifications) and steps that depend on them.
_FOLLOW_ON_CODES = frozenset({"PB303", "PB307"})
_QUOTED = re.compile(r"'([^']*)'")  # the ids a message names


def _without_follow_ons(
    diagnostics: list[Diagnostic], removed: Mapping[str, frozenset[str]]
) -> list[Diagnostic]:
    """The diagnostics with the errors that may only follow from a document that did not
    load (its syntax or schema failed) replaced by one note at that document: fix it first.
    An error in the failed document itself is always kept. When every failed document was
    checked in part (`removed`: by path, the ids of what was left out), only an error naming
    one of those ids may follow from it; any other is a finding of its own."""
    failed = sorted({d.span.path for d in diagnostics if d.is_error and d.of_loading})
    if not failed:
        return diagnostics
    whole = any(path not in removed for path in failed)  # nothing of it loaded: any may
    ids = frozenset[str]().union(*removed.values())

    def follows(d: Diagnostic) -> bool:
        if d.code not in _FOLLOW_ON_CODES or d.span.path in failed:
            return False
        return whole or any(name in ids for name in _QUOTED.findall(d.message))

    follow = [d for d in diagnostics if follows(d)]
    if not follow:
        return diagnostics
    kept = [d for d in diagnostics if not follows(d)]
    names = ", ".join(failed[:3]) + (f" and {len(failed) - 3} more" if len(failed) > 3 else "")
    count = len(follow)
    kept.append(
        info(
            "PB323",
            f"{count} error{'s' if count != 1 else ''} in other files not shown (unknown "
            f"references, missing steps): they may follow from {names} not loading",
            Span(failed[0]),
            hint="fix that file first; validate again to see what remains",
        )
    )
    return kept


def _without_salvage_artefacts(
    diagnostics: list[Diagnostic], salvaged: dict[str, Salvaged]
) -> list[Diagnostic]:
    """The diagnostics without those a salvaged document's removed parts would cause: of a
    salvaged document, loading and schema diagnostics and the errors of its other parts are
    kept (its warnings come once it validates), except a step depending on a removed one."""
    kept = []
    for d in diagnostics:
        found = salvaged.get(d.span.path)
        if found is not None and not d.of_loading:
            if not d.is_error:
                continue
            if d.code == "PB307" and any(f"on '{i}'" in d.message for i in found.removed_ids):
                continue
        kept.append(d)
    return kept


def _documents_by_kind(
    loading: Loading,
) -> tuple[dict[str, list[SourceDoc]], list[Diagnostic], bool, bool, dict[str, Salvaged]]:
    """The loaded documents that passed their schema (or what of them could be salvaged), by
    kind; the diagnostics so far; whether every document loaded and passed (`complete`);
    whether a Policy failed its schema; and the salvaged documents by path."""
    diagnostics: list[Diagnostic] = []
    documents: dict[str, list[SourceDoc]] = {
        "Policy": [],
        "Playbook": [],
        "Shared": [],
        "PayloadMapping": [],
    }
    invalid_policy = False
    complete = True
    salvaged: dict[str, Salvaged] = {}
    for doc, found, checked in loading.results:
        diagnostics += found
        if doc is None:
            complete = False
            continue
        diagnostics += checked
        if not any(d.is_error for d in checked):
            documents.setdefault(doc.data["kind"], []).append(doc)
        else:
            complete = False
            if isinstance(doc.data, dict) and doc.data.get("kind") == "Policy":
                invalid_policy = True  # reported already; "no Policy" would mislead
            rest = salvage(doc, checked)
            if rest is not None:  # what the schema did not refuse is checked too
                salvaged[doc.path] = rest
                documents[rest.doc.data["kind"]].append(rest.doc)
    for doc in documents.get("TestSuite", []):
        diagnostics.append(
            warning(
                "PB317",
                "a TestSuite outside the library's tests/ folder is not run",
                doc.span("/kind"),
                hint="move it into tests/ so that `playbook test` finds it",
            )
        )
    return documents, diagnostics, complete, invalid_policy, salvaged


def _build_library(
    documents: dict[str, list[SourceDoc]],
    diagnostics: list[Diagnostic],
    root_display: str,
    shown: list[str],
    invalid_policy: bool,
) -> Library | None:
    """The model of the library (its build diagnostics appended), or None without a Policy."""
    shared, found = build_shared(documents["Shared"])
    diagnostics += found
    policies: list[Policy] = []
    for doc in documents["Policy"]:
        policy, found = build_policy(doc)
        policies.append(policy)
        diagnostics += found
    playbooks: list[Playbook] = []
    for doc in documents["Playbook"]:
        playbook, found = build_playbook(doc, shared)
        playbooks.append(playbook)
        diagnostics += found
    if not policies:
        if not invalid_policy:
            diagnostics.append(
                error(
                    "PB305",
                    "the library has no Policy document",
                    Span(root_display),
                    hint="a library needs exactly one document with `kind: Policy` (see README)",
                )
            )
        return None
    for extra in policies[1:]:
        diagnostics.append(
            error(
                "PB305",
                f"a library has exactly one Policy; the first is {policies[0].path}",
                extra.span,
                hint="merge the policies into one document",
            )
        )
    holders, found = shared_for_validation(shared)
    diagnostics += found
    mappings, found = _mappings(documents["PayloadMapping"])
    diagnostics += found
    return Library(
        root_display,
        policies[0],
        tuple(playbooks),
        tuple(shown),
        tuple(shared.macros),
        tuple(holders),
        mappings,
    )


def _mappings(docs: list[SourceDoc]) -> tuple[dict[str, Any], list[Diagnostic]]:
    """The library's payload mappings by id, and the problems `adapters` finds in them."""
    if not docs:
        return {}, []
    from playbook_engine import adapters  # only for a library that has mappings

    mappings: dict[str, Any] = {}
    diagnostics: list[Diagnostic] = []
    for doc in docs:
        ident = doc.data["metadata"]["id"]
        if ident in mappings or ident in adapters.FORMATS or ident in ("auto", "generic"):
            diagnostics.append(
                error(
                    "PB302",
                    f"payload mapping id '{ident}' is already taken",
                    doc.span("/metadata/id"),
                    hint="mapping ids must differ from each other and from the built-in formats",
                )
            )
            continue
        for problem in adapters.check_mapping(doc.data["spec"]):
            diagnostics.append(error("AD102", str(problem), doc.span("/spec")))
        mappings[ident] = doc.data["spec"]
    return mappings, diagnostics


def open_library(root: Path) -> CompiledLibrary:
    """A compiled library ready to evaluate; raises `InputError` if it has errors."""
    if not root.is_dir():
        raise InputError([error("PB111", "library directory not found", Span(str(root)))])
    result = load_library(root)
    if not result.ok or result.compiled is None:
        raise InputError([d for d in result.diagnostics if d.is_error])
    return result.compiled
