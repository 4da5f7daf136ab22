"""Find, load, validate and compile a library directory.

A library is a directory tree holding one Policy and any number of Playbooks (`*.yaml`,
`*.yml`, `*.json`); files under `tests/` and `incidents/` directories hold test suites and
example incidents and are not library documents.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import lifetime, schema
from .compiler import CompiledLibrary
from .diagnostics import Diagnostic, InputError, Span, error, sorted_diagnostics, warning

if TYPE_CHECKING:
    from .doccache import Loading
    from .loader import SourceDoc
    from .model import Playbook, Policy

DOCUMENT_SUFFIXES = (".yaml", ".yml", ".json")
NON_LIBRARY_DIRS = frozenset({"tests", "incidents"})
POLICY_NAMES = ("policy.yaml", "policy.yml", "policy.json")
ENV_VAR = "PLAYBOOK_LIBRARY"


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


def find_library_root(start: Path | None = None) -> Path | None:
    """The library for a command run without paths: `$PLAYBOOK_LIBRARY`, else the nearest
    directory at or above `start` holding a policy file directly or in `playbooks/`."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return Path(configured)
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        for candidate in (directory, directory / "playbooks"):
            if any((candidate / name).is_file() for name in POLICY_NAMES):
                return candidate
    return None


def library_root_of(path: Path) -> Path | None:
    """The library a file or directory belongs to: the nearest ancestor holding a policy file."""
    here = path.resolve()
    for directory in (here if here.is_dir() else here.parent, *here.parents):
        if any((directory / name).is_file() for name in POLICY_NAMES):
            return directory
    return None


def discover(root: Path) -> list[Path]:
    """Library document files below `root`, sorted, skipping hidden, tests/ and incidents/."""
    found = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(
            d for d in subdirs if not d.startswith(".") and d not in NON_LIBRARY_DIRS
        )
        for name in sorted(files):
            if name.endswith(DOCUMENT_SUFFIXES) and not name.startswith("."):
                found.append(Path(directory) / name)
    return found


def document_files(directory: Path) -> list[Path]:
    """The YAML and JSON files anywhere below `directory` (example incidents), sorted,
    skipping hidden ones; none if it is not a directory."""
    if not directory.is_dir():
        return []
    return sorted(
        p
        for p in directory.rglob("*")
        if p.suffix in DOCUMENT_SUFFIXES and p.is_file() and not p.name.startswith(".")
    )


def display_path(path: Path) -> str:
    """A path as shown in diagnostics: relative to the working directory when below it
    (both with symbolic links resolved), else as given."""
    real, here = os.path.realpath(path), _real_directory(os.getcwd())
    if real == here:
        return "."
    # Text, not pathlib: a 1,000-file library names every file (34 -> 14 ms).
    prefix = os.path.join(here, "")  # "/" stays "/"
    return real[len(prefix) :] if real.startswith(prefix) else str(path)


@lru_cache(maxsize=8)
def _real_directory(directory: str) -> str:
    return os.path.realpath(directory)


def incident_fields() -> frozenset[str]:
    """Top-level incident fields the incident schema declares."""
    return frozenset(schema.load_schema("incident").get("properties", {}))


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the body with Python's cyclic garbage collector off, restoring it afterwards.

    Loading builds hundreds of thousands of long-lived objects (scalars, source maps, model
    dataclasses) and almost no cyclic garbage (about 350 objects for 1,000 playbooks), yet
    each of those allocations counts towards the collector's thresholds: its passes over the
    growing heap were a quarter of `playbook validate` on 1,000 files (4.5 -> 3.3 s).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_library(root: Path, files: Iterable[Path] | None = None) -> LoadResult:
    """Load every document of the library at `root` and validate and compile it."""
    with collector_paused():
        return _load_library(root, files)


def _load_library(root: Path, files: Iterable[Path] | None) -> LoadResult:
    # Loading, checking and linting are imported here: a `playbook run` served from the
    # cache needs only `discover` and `incident_fields` of this module (~3 ms of imports).
    from .doccache import FORK_MIN_FILES, Loading

    paths = list(files) if files is not None else discover(root)
    shown = [display_path(p) for p in paths]
    policy = next((root / name for name in POLICY_NAMES if (root / name).is_file()), None)
    work = None
    if len(paths) >= FORK_MIN_FILES:  # the only case that forks (prework costs ~1 ms to import)
        from .prework import TemplateWork

        work = TemplateWork(policy)
    loading = Loading(list(zip(paths, shown, strict=True)), None, work)
    try:
        return _assemble(root, shown, loading)
    finally:
        loading.close()
        lifetime.keep(loading.results)  # the documents: the library holds what it needs


def _assemble(root: Path, shown: list[str], loading: Loading) -> LoadResult:
    from . import sandbox
    from .build import build_playbook, build_policy, build_shared, shared_for_validation
    from .checks import check_library
    from .compiler import compile_library
    from .lint import lint_library
    from .model import Library
    from .suppress import apply_suppressions

    diagnostics: list[Diagnostic] = []
    documents: dict[str, list[SourceDoc]] = {
        "Policy": [],
        "Playbook": [],
        "Shared": [],
        "PayloadMapping": [],
    }
    invalid_policy = False
    complete = True  # every document loaded and passed its schema
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
    root_display = display_path(root)
    if not policies:
        if invalid_policy:
            return LoadResult(root_display, tuple(shown), None, sorted_diagnostics(diagnostics))
        diagnostics.append(
            error(
                "PB305",
                "the library has no Policy document",
                Span(root_display),
                hint="a library needs exactly one document with `kind: Policy` (see README)",
            )
        )
        return LoadResult(root_display, tuple(shown), None, sorted_diagnostics(diagnostics))
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
    library = Library(
        root_display,
        policies[0],
        tuple(playbooks),
        tuple(shown),
        tuple(shared.macros),
        tuple(holders),
        mappings,
    )
    fields = incident_fields()
    diagnostics += check_library(library, fields, complete)
    # Linting before compiling gives a loading child more time to check templates for us.
    diagnostics += lint_library(library, schema.load_schema("incident"), complete)
    # Template checks a loading child has made meanwhile, in front of the store (if any).
    below = sandbox.active_store()
    sandbox.use_code_store(loading.store(below))
    try:
        compiled, found = compile_library(library, fields)
    finally:
        sandbox.use_code_store(below)
    diagnostics += found
    kept = apply_suppressions(sorted_diagnostics(diagnostics))
    return LoadResult(root_display, tuple(shown), compiled, kept)


def _mappings(docs: list[SourceDoc]) -> tuple[dict[str, Any], list[Diagnostic]]:
    """The library's payload mappings by id, and the problems `adapters` finds in them."""
    if not docs:
        return {}, []  # without importing the adapters (2-4 ms)
    from . import adapters

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
