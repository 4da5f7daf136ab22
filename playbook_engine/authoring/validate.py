"""`playbook validate`: check library directories and files, collecting every diagnostic.

A file is checked in the context of the library it belongs to (the nearest directory above it
holding a policy), so references between documents are checked even when a pre-commit hook
passes only the changed files; only the diagnostics of the files asked for are reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePath

from playbook_engine.diagnostics import (
    Diagnostic,
    InputError,
    Span,
    error,
    sorted_diagnostics,
    warning,
)
from playbook_engine.load.discovery import (
    DOCUMENT_SUFFIXES,
    POLICY_NAMES,
    display_path,
    document_files,
    library_root_of,
)
from playbook_engine.pipeline import LoadResult, load_library, load_library_for
from playbook_engine.speed.doccache import load_checked
from playbook_engine.speed.lifetime import collector_paused


@dataclass(frozen=True, slots=True)
class ValidationResult:
    diagnostics: list[Diagnostic]
    files: int
    unreadable: bool  # a path could not be read at all (exit 2)


def _suites_for(root: Path, wanted: set[str] | None) -> list[Path]:
    """The test suites in the library's tests/ folder to check: all of them, or with `wanted`
    (display paths of the files asked for) those that could report on one of them."""
    from playbook_engine.authoring.testing.collect import discover_suites

    paths = discover_suites(root / "tests") if (root / "tests").is_dir() else []
    if wanted is not None:
        paths = [path for path in paths if _may_report_on(path, wanted)]
    return paths


def _suite_diagnostics(result: LoadResult, paths: list[Path]) -> dict[str, list[Diagnostic]]:
    """Problems of each test suite of `paths`, by suite path; suites are checked against the
    compiled library (unknown ids, incident files, clocks)."""
    if result.compiled is None or not paths:
        return {}
    from playbook_engine.authoring.testing.suites import SuiteLoader

    # Ids defined in a document that did not load are unknown to the compiled library: a
    # suite naming them is not wrong for that (TS115 counts them instead).
    unsure = sorted({d.span.path for d in result.diagnostics if d.is_error and d.of_loading})
    suite_loader = SuiteLoader(result.compiled, tuple(unsure), result.removed_ids)
    return {display_path(path): suite_loader.load(path)[1] for path in paths}


def _incident_diagnostics(root: Path, wanted: set[str] | None) -> dict[str, list[Diagnostic]]:
    """Problems of each example incident in the library's incidents/ folder (`playbook diff`
    runs them), by path; with `wanted`, only of those asked for."""
    found: dict[str, list[Diagnostic]] = {}
    for path in document_files(root / "incidents"):
        shown = display_path(path)
        if wanted is not None and shown not in wanted:
            continue
        from playbook_engine.load.incident import parse_incident  # only with an incident

        try:
            parse_incident(shown, path.read_bytes())
            found[shown] = []
        except InputError as exc:
            found[shown] = exc.diagnostics
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            found[shown] = [error("PB111", f"cannot read file: {reason}", Span(shown))]
    return found


def _may_report_on(suite: Path, wanted: set[str]) -> bool:
    """Whether checking `suite` can find a problem in a file of `wanted`: a suite reports on
    itself and on the incident files its cases name (`incidentFile`, relative to the suite's
    folder), nothing else. A pre-commit hook passing a playbook then skips every suite; a
    suite that cannot be read reports only on itself."""
    shown = display_path(suite)
    if shown in wanted:
        return True
    doc, _, _ = load_checked(suite, shown)
    spec = doc.data.get("spec") if doc is not None and isinstance(doc.data, dict) else None
    cases = spec.get("cases") if isinstance(spec, dict) else None
    names = {PurePath(path).name for path in wanted}
    for case in cases if isinstance(cases, list) else ():
        named = case.get("incidentFile") if isinstance(case, dict) else None
        if isinstance(named, str):
            try:
                candidate = suite.parent / named
                # Resolving keeps the last name unless it is a link or '..': a file of
                # another name is not one asked for, and costs no resolving.
                if candidate.name not in names and candidate.name != "..":
                    if not candidate.is_symlink():
                        continue
                if display_path(candidate) in wanted:
                    return True
            except (OSError, RuntimeError, ValueError):  # the suite's own check reports it
                return True
    return False


def validate_paths(paths: list[Path]) -> ValidationResult:
    """Validate every library directory and file in `paths`."""
    with collector_paused():  # test suites and lone files build many objects too
        return _validate_paths(paths)


def _validate_paths(paths: list[Path]) -> ValidationResult:
    diagnostics: list[Diagnostic] = []
    unreadable = False
    whole: set[Path] = set()  # library roots checked entirely
    chosen: dict[Path, set[str]] = {}  # library root -> files asked for
    lone: list[Path] = []  # files outside any library
    for path in paths:
        if not path.exists():
            diagnostics.append(
                error(
                    "PB111",
                    "no such file or directory",
                    Span(str(path)),
                    hint="check the path; without paths the library is found from here",
                )
            )
            unreadable = True
            continue
        if path.is_dir():
            own = any((path / name).is_file() for name in POLICY_NAMES)
            whole.add(path.resolve() if own else (library_root_of(path) or path.resolve()))
            continue
        root = library_root_of(path)
        if root is None:
            lone.append(path)
        else:
            chosen.setdefault(root, set()).add(display_path(path))
    files = 0
    for root in sorted(whole | set(chosen)):
        asked = None if root in whole else chosen[root]
        suite_paths = _suites_for(root, asked)
        # A suite is checked against the whole compiled library; without one to check, the
        # files asked for are checked loading only what they need.
        focused = asked is not None and not suite_paths
        result = load_library_for(root, asked) if focused and asked else load_library(root)
        suites = _suite_diagnostics(result, suite_paths)
        incidents = _incident_diagnostics(root, asked)
        others = [d for found in (*suites.values(), *incidents.values()) for d in found]
        if asked is None:
            files += len(result.files) + len(suites) + len(incidents)
            diagnostics += result.diagnostics + others
        else:
            # A file that is no document (a README, a golden text) is not checked, nor counted.
            files += sum(1 for shown in asked if PurePath(shown).suffix in DOCUMENT_SUFFIXES)
            diagnostics += [d for d in result.diagnostics + others if d.span.path in asked]
    for path in lone:
        files += 1
        shown = display_path(path)
        doc, found, checked = load_checked(path, shown)
        diagnostics += found + checked
        if doc is not None and not any(d.is_error for d in found + checked):
            # "No problems" would claim more than was checked.
            diagnostics.append(
                warning(
                    "PB319",
                    "outside any library: only its schema was checked, not its references, "
                    "conditions or templates",
                    Span(shown),
                    hint="validate it inside its library (a folder holding policy.yaml), or "
                    "pass the library directory",
                )
            )
    # A file that exists but cannot be read (permissions, I/O error, a FIFO) is an input
    # error like a missing one, not a finding about its content.
    unreadable = unreadable or any(d.code == "PB111" for d in diagnostics)
    return ValidationResult(sorted_diagnostics(diagnostics), files, unreadable)
