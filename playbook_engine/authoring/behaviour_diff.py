"""`playbook diff`: how a library change changes what incidents get.

Two versions of a library (a git revision, or the working tree as it is) are loaded, every
known incident is evaluated by both at the same clock, and the two plans are compared:
selected playbooks, classification, deadlines, steps, escalation, notifications and evaluation
errors. The incidents are the library's examples (`incidents/`), the incidents of its test
suites (`tests/`) on either side, and any directory given with `--incidents`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from playbook_engine.authoring import gitrev
from playbook_engine.authoring.plan_compare import Change, compare_plans
from playbook_engine.authoring.testing.collect import discover_suites
from playbook_engine.authoring.testing.suites import SuiteLoader
from playbook_engine.compile.compiler import CompiledLibrary
from playbook_engine.diagnostics import Diagnostic, InputError, Span, error
from playbook_engine.engine.evaluation import evaluate
from playbook_engine.load.discovery import display_path, document_files
from playbook_engine.load.incident import Incident, parse_incident
from playbook_engine.pipeline import load_library

WORKING_TREE = "working tree"
DEFAULT_DELAY = timedelta(minutes=30)  # the clock when no --at: startedAt + 30 minutes


@dataclass(frozen=True, slots=True)
class Outcome:
    """The headline of one plan: its priority and selected playbooks."""

    priority: str
    playbooks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IncidentDiff:
    """One incident evaluated by both versions."""

    source: str  # where the incident comes from, e.g. incidents/01-db.yaml or tests/x.yaml#2
    incident_id: str
    title: str
    at: datetime
    before: Outcome | None  # None: the library did not exist in the earlier version
    after: Outcome
    changes: tuple[Change, ...]


@dataclass(frozen=True, slots=True)
class Skipped:
    """An incident file that could not be read or validated."""

    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class BehaviourDiff:
    """The whole comparison: labels of both versions and one entry per incident."""

    before: str
    after: str
    library: str
    at: datetime | None  # the clock given; None: each incident's startedAt + DEFAULT_DELAY
    incidents: tuple[IncidentDiff, ...]
    skipped: tuple[Skipped, ...]
    before_missing: str = ""  # why the earlier version has no plans (new, or does not validate)

    @property
    def changed(self) -> bool:
        """Whether any incident's plan differs between the two versions."""
        return any(i.changes for i in self.incidents)


@dataclass(frozen=True, slots=True)
class _Side:
    """One revision of the library, compiled."""

    label: str
    root: Path
    compiled: CompiledLibrary
    prefix: str  # the display prefix of the library's files, stripped from plan error places


# --- the comparison ---------------------------------------------------------------------


def diff_library(
    library: Path,
    rev_a: str = "HEAD",
    rev_b: str | None = None,
    incidents_dir: Path | None = None,
    at: datetime | None = None,
) -> BehaviourDiff:
    """Compare the library at `rev_a` with `rev_b` (default: the working tree as it is).

    Raises `InputError` when the directory is not in a git repository, a revision is unknown,
    or a version of the library does not validate (with that version's error diagnostics).
    A library that does not exist yet at `rev_a` (the pull request adding it), or does not
    validate there (the pull request repairing it), has no plans before: every incident's
    plan is an addition, and `before_missing` says why.
    """
    if not library.is_dir():
        raise InputError([error("PB111", "library directory not found", Span(str(library)))])
    repo = gitrev.repository_root(library)
    relative = library.resolve().relative_to(repo.resolve()).as_posix()
    commits = [(rev, gitrev.resolve_revision(repo, rev)) for rev in (rev_a, rev_b) if rev]
    with tempfile.TemporaryDirectory(prefix="playbook-diff-") as scratch:
        sides: list[_Side | None] = []
        missing = ""
        for index, (rev, commit) in enumerate(commits):
            root = Path(scratch) / str(index)
            try:
                gitrev.materialise(repo, commit, relative, root)
                # Diagnostics name files as git does (`REV:path/in/repo`), not the scratch copy.
                sides.append(_open(rev, root, f"{rev}:" + ("" if relative == "." else relative)))
            except InputError as exc:
                code = exc.diagnostics[0].code if exc.diagnostics else ""
                if index or code not in ("GT103", "GT105"):
                    raise
                sides.append(None)
                errors = sum(1 for d in exc.diagnostics[1:] if d.is_error)
                missing = (
                    f"the library does not exist at {rev}"
                    if code == "GT103"
                    else f"the library at {rev} does not validate ({errors} error"
                    f"{'s' * (errors != 1)})"
                )
        if rev_b is None:
            sides.append(_open(WORKING_TREE, library, None))
        before, after = sides
        assert after is not None  # only the earlier version may be missing
        known = [after] if before is None else [after, before]
        incidents, skipped = _incidents(known, incidents_dir)
        results = tuple(_compare(before, after, source, inc, at) for source, inc in incidents)
    return BehaviourDiff(
        rev_a, rev_b or WORKING_TREE, display_path(library), at, results, tuple(skipped), missing
    )


def _open(label: str, root: Path, git_path: str | None) -> _Side:
    """Load one version; `git_path` (`REV:dir`) names a materialised revision in diagnostics."""
    result = load_library(root)
    shown = result.root.rstrip("/")
    prefix = "" if shown in ("", ".") else shown + "/"
    errors = [d for d in result.diagnostics if d.is_error]
    if errors or result.compiled is None:
        headline = error(
            "GT105",
            f"the library at {label} does not validate",
            Span(git_path or shown),
            hint="fix it (playbook validate) before comparing behaviour",
        )
        if git_path is not None:
            base = git_path if git_path.endswith(":") else git_path + "/"
            errors = [_relabel(d, prefix, base) for d in errors]
        raise InputError([headline, *errors])
    return _Side(label, root, result.compiled, prefix)


def _relabel(d: Diagnostic, prefix: str, base: str) -> Diagnostic:
    if not d.span.path.startswith(prefix):
        return d
    return replace(d, span=replace(d.span, path=base + d.span.path[len(prefix) :]))


def _compare(
    before: _Side | None, after: _Side, source: str, incident: Incident, at: datetime | None
) -> IncidentDiff:
    clock = at or incident.started_at + DEFAULT_DELAY
    new = evaluate(after.compiled, incident, clock)
    if before is None:  # a new library: what it selects and decides is all new
        changes = [
            Change("playbooks", "added", ident, after=title) for ident, title in new.playbooks
        ]
        changes.append(Change("classification", "changed", "priority", after=new.priority.id))
        outcome = None
    else:
        old = evaluate(before.compiled, incident, clock)
        changes = compare_plans(old, new, before.prefix, after.prefix)
        outcome = Outcome(old.priority.id, tuple(p for p, _ in old.playbooks))
    return IncidentDiff(
        source=source,
        incident_id=incident.id,
        title=incident.title,
        at=clock,
        before=outcome,
        after=Outcome(new.priority.id, tuple(p for p, _ in new.playbooks)),
        changes=tuple(changes),
    )


# --- incidents --------------------------------------------------------------------------


def _incidents(
    sides: list[_Side], extra: Path | None
) -> tuple[list[tuple[str, Incident]], list[Skipped]]:
    """Every incident to compare with, by label; the first side's version wins for a label.

    The same incident data under several labels (an example file that a test case also uses)
    is compared once, under the first label in sorted order.
    """
    found: dict[str, Incident | Skipped] = {}
    for side in sides:
        for label, item in _side_incidents(side):
            found.setdefault(label, item)
    if extra is not None:
        if not extra.is_dir():
            raise InputError([error("IN101", "--incidents: not a directory", Span(str(extra)))])
        for path in document_files(extra):
            label = display_path(path)
            found.setdefault(label, _incident_file(path, label))
    incidents: list[tuple[str, Incident]] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for label in sorted(found):
        item = found[label]
        if isinstance(item, Skipped):
            skipped.append(item)
            continue
        key = json.dumps(item.data, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            incidents.append((label, item))
    return incidents, skipped


def _side_incidents(side: _Side) -> Iterator[tuple[str, Incident | Skipped]]:
    """The example incidents of a library version and the incidents of its test cases."""
    for path in document_files(side.root / "incidents"):
        label = path.relative_to(side.root).as_posix()
        yield label, _incident_file(path, label)
    suites = SuiteLoader(side.compiled)
    for path in discover_suites(side.root / "tests"):
        label = path.relative_to(side.root).as_posix()
        suite, problems = suites.load(path)
        if suite is not None:
            yield from ((f"{label}#{case.name}", case.incident) for case in suite.cases)
        elif not any(d.code == "TS109" for d in problems):  # not a suite: a golden file, say
            # A message may name a file by its path in the scratch copy: name it in the library.
            reason = _first(problems, side.prefix).replace(os.path.join(str(side.root), ""), "")
            yield label, Skipped(label, f"test suite does not load: {reason}")


def _incident_file(path: Path, label: str) -> Incident | Skipped:
    try:
        content = path.read_bytes()
    except OSError as exc:
        return Skipped(label, f"cannot read: {exc.strerror or type(exc).__name__}")
    try:
        return parse_incident(label, content)
    except InputError as exc:
        return Skipped(label, _first(exc.diagnostics))


def _first(diagnostics: list[Diagnostic], prefix: str = "") -> str:
    """The first error, its place relative to the library (`prefix` stripped: no scratch dir)."""
    errors = [d for d in diagnostics if d.is_error] or diagnostics
    if not errors:
        return "not an incident"
    d = errors[0]
    where = str(d.span)
    where = where[len(prefix) :] if prefix and where.startswith(prefix) else where
    return f"{d.code} {d.message} ({where})"
