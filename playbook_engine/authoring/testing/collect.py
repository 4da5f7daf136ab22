"""Find test suites and load them, each library once: what `playbook test PATHS` runs.

A path is a library folder (its `tests/` folder is searched), any folder inside a library (it is
searched), or a suite file. Each belongs to the library above it unless `--library` says which.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from playbook_engine.diagnostics import Diagnostic, Span, error, sorted_diagnostics
from playbook_engine.load.discovery import (
    DOCUMENT_SUFFIXES,
    POLICY_NAMES,
    display_path,
    library_root_of,
)
from playbook_engine.pipeline import load_library

if TYPE_CHECKING:  # `playbook validate` uses `discover_suites` alone, often without a suite
    from playbook_engine.authoring.testing.suites import Collection, Suite

SKIPPED_DIRS = frozenset({"goldens"})


def discover_suites(folder: Path) -> list[Path]:
    """Suite files below `folder`, sorted, skipping hidden files and `goldens` folders."""
    found = []
    for directory, subdirs, files in os.walk(folder):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".") and d not in SKIPPED_DIRS)
        found += [
            Path(directory) / name
            for name in sorted(files)
            if name.endswith(DOCUMENT_SUFFIXES) and not name.startswith(".")
        ]
    return found


def _has_policy(folder: Path) -> bool:
    return any((folder / name).is_file() for name in POLICY_NAMES)


def _targets(
    paths: Sequence[Path], library: Path | None
) -> tuple[dict[Path, dict[Path, Path]], list[Diagnostic]]:
    """Library root -> {resolved suite path: path as given}, in the order given."""
    groups: dict[Path, dict[Path, Path]] = {}
    problems: list[Diagnostic] = []
    for path in paths:
        where = Span(display_path(path))
        if not path.exists():
            problems.append(error("PB111", "no such file or directory", where))
            continue
        own = path.is_dir() and _has_policy(path)
        root = library or (path if own else library_root_of(path))
        if root is None:
            problems.append(
                error(
                    "TS102",
                    "not inside a library: no policy file here or in a folder above",
                    where,
                    hint="pass --library DIR to say which library the suites test",
                )
            )
            continue
        if path.is_dir():
            folder = path / "tests" if own else path
            files = discover_suites(folder)
            if not files:
                problems.append(
                    error(
                        "TS101",
                        f"no test suites in {display_path(folder)}",
                        Span(display_path(folder)),
                        hint="add a document with `kind: TestSuite` to the library's tests/ folder",
                    )
                )
        else:
            files = [path]
        group = groups.setdefault(root.resolve(), {})
        for file in files:
            group.setdefault(file.resolve(), file)
    return groups, problems


def collect(paths: Sequence[Path], library: Path | None = None) -> Collection:
    """Find the suites in `paths` (library folders, test folders or suite files), load each
    library once and every suite against its library. `library` overrides the library that
    each path belongs to."""
    from playbook_engine.authoring.testing.suites import Collection, SuiteLoader

    groups, diagnostics = _targets(paths, library)
    suites: list[Suite] = []
    for root, files in groups.items():
        if not root.is_dir():
            diagnostics.append(
                error("PB111", "library directory not found", Span(display_path(root)))
            )
            continue
        result = load_library(root)
        if not result.ok or result.compiled is None:
            diagnostics += [d for d in result.diagnostics if d.is_error]
            continue
        loading = SuiteLoader(result.compiled)
        for path in files.values():
            suite, found = loading.load(path)
            diagnostics += found
            if suite is not None:
                suites.append(suite)
    diagnostics += _duplicate_ids(suites)
    return Collection(tuple(suites), tuple(sorted_diagnostics(diagnostics)))


def _duplicate_ids(suites: list[Suite]) -> list[Diagnostic]:
    first: dict[str, Suite] = {}
    out = []
    for suite in suites:
        if suite.id in first:
            out.append(
                error(
                    "TS107",
                    f"duplicate suite id '{suite.id}' (also in {first[suite.id].path})",
                    suite.span,
                    hint="suite ids name the suites in reports; make them unique",
                )
            )
        else:
            first[suite.id] = suite
    return out


def select_cases(suites: Sequence[Suite], patterns: Sequence[str]) -> list[Suite]:
    """The suites with only the cases whose name contains one of `patterns` (ignoring case);
    suites left without cases are dropped. No patterns: everything."""
    if not patterns:
        return list(suites)
    wanted = [p.casefold() for p in patterns]
    out = []
    for suite in suites:
        cases = tuple(c for c in suite.cases if any(w in c.name.casefold() for w in wanted))
        if cases:
            out.append(replace(suite, cases=cases))
    return out
