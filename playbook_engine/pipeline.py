"""The pipeline driver: load a library directory's documents, build the model, check, lint
and compile it, collecting every diagnostic (`load_library`); `open_library` for a library
that must be valid. Which files are documents: `load.discovery`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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
    display_path,
    incident_fields,
)
from playbook_engine.model import Library
from playbook_engine.speed import lifetime, stores
from playbook_engine.speed.doccache import FORK_MIN_FILES, Loading

if TYPE_CHECKING:
    from playbook_engine.load.documents import SourceDoc
    from playbook_engine.model import Playbook, Policy


@dataclass(frozen=True, slots=True)
class LoadResult:
    """A library and everything found while loading it (compiled is None if it cannot be)."""

    root: str
    files: tuple[str, ...]
    compiled: CompiledLibrary | None
    diagnostics: list[Diagnostic]

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


def build_check_compile(
    root: Path, shown: list[str], loading: Loading, refused: Sequence[Diagnostic] = ()
) -> LoadResult:
    """Build the model from the loaded documents, check, lint and compile it: the stages after
    loading, with every diagnostic collected (`refused`: files discovery would not read)."""
    documents, diagnostics, complete, invalid_policy = _documents_by_kind(loading)
    diagnostics[:0] = refused
    complete = complete and not refused
    root_display = display_path(root)
    library = _build_library(documents, diagnostics, root_display, shown, invalid_policy)
    if library is None:
        return LoadResult(root_display, tuple(shown), None, sorted_diagnostics(diagnostics))
    fields = incident_fields()
    diagnostics += check_library(library, fields, complete)
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
    if not complete:
        diagnostics = _without_follow_ons(diagnostics)
    kept = apply_suppressions(sorted_diagnostics(diagnostics))
    return LoadResult(root_display, tuple(shown), compiled, kept)


# What a document that did not load makes other files say: references to what it defined
# (a Shared file's step groups, escalations, notifications) and steps that depend on them.
_FOLLOW_ON_CODES = frozenset({"PB303", "PB307"})
_LOADING = ("PB1", "PB2")  # loading and schema codes: the document did not load


def _without_follow_ons(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """The diagnostics with the errors that may only follow from a document that did not
    load (its syntax or schema failed) replaced by one note at that document: fix it first.
    An error in the failed document itself is always kept."""
    failed = sorted({d.span.path for d in diagnostics if d.is_error and d.code[:3] in _LOADING})
    if not failed:
        return diagnostics
    follow = [d for d in diagnostics if d.code in _FOLLOW_ON_CODES and d.span.path not in failed]
    if not follow:
        return diagnostics
    kept = [
        d for d in diagnostics if not (d.code in _FOLLOW_ON_CODES and d.span.path not in failed)
    ]
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


def _documents_by_kind(
    loading: Loading,
) -> tuple[dict[str, list[SourceDoc]], list[Diagnostic], bool, bool]:
    """The loaded documents that passed their schema, by kind; the diagnostics so far; whether
    every document loaded and passed (`complete`); and whether a Policy failed its schema."""
    diagnostics: list[Diagnostic] = []
    documents: dict[str, list[SourceDoc]] = {
        "Policy": [],
        "Playbook": [],
        "Shared": [],
        "PayloadMapping": [],
    }
    invalid_policy = False
    complete = True
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
    for doc in documents.get("TestSuite", []):
        diagnostics.append(
            warning(
                "PB317",
                "a TestSuite outside the library's tests/ folder is not run",
                doc.span("/kind"),
                hint="move it into tests/ so that `playbook test` finds it",
            )
        )
    return documents, diagnostics, complete, invalid_policy


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
