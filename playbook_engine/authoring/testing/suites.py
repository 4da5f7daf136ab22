"""Test suites: authors prove that a library does what they mean.

A `TestSuite` document (`schemas/testsuite.schema.json`, described in `playbooks/tests/README.md`)
holds cases: an incident (inline, or a file relative to the suite), optional `set` overrides like
`playbook run --set`, a clock, and expectations about the plan. Suites live under
`<library>/tests/`.

The pieces: this module holds the model and loads one suite against a compiled library;
`testing_refs` checks that expectations name ids the library has; `testing_collect` finds suites
and loads each library once; `testing_run` runs cases and checks expectations (and rewrites
golden files on request); `testing_report` prints results as text, JSON or JUnit XML.
Everything wrong with a suite is a diagnostic found before any case runs.

Codes: TS101 no suites found, TS102 a suite outside any library, TS103 incidentFile unreadable,
TS104 a path that is absolute or leaves the suite's folder, TS105 a case without a clock, TS106
duplicate case name, TS107 duplicate suite id, TS108 invalid timestamp or duration, TS109 not a
TestSuite, TS110 both incident and incidentFile, TS111 unknown id in an expectation, TS112 a `set`
path through a non-mapping, TS113 `-k` selects no case, TS114 a `decidedBy` of unknown form.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from playbook_engine.authoring.testing.expect import Expect, SuiteValues
from playbook_engine.authoring.testing.refs import References
from playbook_engine.compile.compiler import CompiledLibrary
from playbook_engine.diagnostics import Diagnostic, InputError, Span, error, info
from playbook_engine.load import documents
from playbook_engine.load.discovery import display_path
from playbook_engine.load.documents import SourceDoc, escape_pointer_token
from playbook_engine.load.incident import INCIDENT_LIMITS, Incident, build_incident
from playbook_engine.speed.doccache import load_checked

# --- the model ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Case:
    """One loaded case: its incident, clock and expectations, and where it is written."""

    suite: str
    name: str
    incident: Incident
    at: datetime
    expect: Expect
    doc: SourceDoc
    pointer: str  # of the case inside the suite document, e.g. /spec/cases/3

    def span(self, relative: str = "") -> Span:
        """Where the case, or a value inside it (`expect/priority`), is written."""
        return self.doc.span(f"{self.pointer}/{relative}" if relative else self.pointer)


@dataclass(frozen=True, slots=True)
class Suite:
    """A loaded suite and the compiled library its cases run against."""

    id: str
    title: str
    path: str
    span: Span  # of metadata.id
    cases: tuple[Case, ...]
    library: CompiledLibrary


@dataclass(frozen=True, slots=True)
class Collection:
    """The suites found, and every problem met finding and loading them (errors: exit 2)."""

    suites: tuple[Suite, ...]
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


# --- loading one suite -------------------------------------------------------------------


class SuiteLoader:
    """Loads suites against one compiled library; each incident file is read once."""

    def __init__(
        self,
        compiled: CompiledLibrary,
        unsure: tuple[str, ...] = (),
        removed: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        """`unsure`: the library documents that did not load; `removed`: of those checked in
        part, the ids of the parts left out (see `References`)."""
        self.compiled = compiled
        self.references = References(compiled, unsure, removed)
        self.incident_files: dict[Path, tuple[SourceDoc | None, list[Diagnostic]]] = {}

    def load(self, path: Path) -> tuple[Suite | None, list[Diagnostic]]:
        """The suite in `path`, or None, and every problem found in it."""
        doc, problems, checked = load_checked(path, display_path(path))
        if doc is None:
            return None, problems
        problems = checked
        if any(d.is_error for d in problems):
            return None, problems
        if doc.data["kind"] != "TestSuite":
            return None, [
                error(
                    "TS109",
                    f"expected a TestSuite, got a {doc.data['kind']}",
                    doc.span("/kind"),
                    hint="only test suites belong in a library's tests/ folder",
                )
            ]
        metadata, spec = doc.data["metadata"], doc.data["spec"]
        values = SuiteValues(doc, path.parent, problems)
        unchecked = self.references.unchecked
        default_at = values.moment("/spec/at") if "at" in spec else None
        cases: list[Case] = []
        names: dict[str, Span] = {}
        for index, raw in enumerate(spec["cases"]):
            pointer = f"/spec/cases/{index}"
            if raw["name"] in names:
                problems.append(
                    error(
                        "TS106",
                        f"duplicate case name {raw['name']!r} (first at {names[raw['name']]})",
                        doc.span(f"{pointer}/name"),
                        hint="case names identify failures, and -k selects cases by name",
                    )
                )
            names.setdefault(raw["name"], doc.span(pointer))
            case = _CaseLoader(self, values, metadata["id"]).load(
                pointer, raw, default_at, "at" in spec
            )
            if case is not None:
                cases.append(case)
        skipped = self.references.unchecked - unchecked
        if skipped:
            problems.append(_not_checked(skipped, self.references.unsure, doc))
        if any(d.is_error for d in problems):
            return None, problems
        title = metadata.get("title", metadata["id"])
        where = doc.span("/metadata/id")
        return Suite(metadata["id"], title, doc.path, where, tuple(cases), self.compiled), problems

    def incident_doc(self, path: Path) -> tuple[SourceDoc | None, list[Diagnostic]]:
        """An incident file, loaded once however many cases use it."""
        key = path.resolve()
        if key not in self.incident_files:
            self.incident_files[key] = documents.load_file(
                path, display_path(path), INCIDENT_LIMITS
            )
        return self.incident_files[key]


class _CaseLoader:
    """Loads the cases of one suite document, appending every problem to `values.problems`."""

    def __init__(self, suites: SuiteLoader, values: SuiteValues, suite_id: str) -> None:
        self.suites = suites
        self.values = values
        self.doc = values.doc
        self.problems = values.problems
        self.suite_id = suite_id

    def load(
        self, pointer: str, raw: dict[str, Any], default_at: datetime | None, has_default: bool
    ) -> Case | None:
        before = len(self.problems)
        at = default_at
        if "at" in raw:
            at = self.values.moment(f"{pointer}/at")
        elif not has_default:
            self.problems.append(
                error(
                    "TS105",
                    f"case {raw['name']!r} has no clock",
                    self.doc.span(pointer),
                    hint="set `at:` in the case, or a default `at:` in the suite's spec",
                )
            )
        incident = self.incident(pointer, raw)
        data = raw.get("expect", {})
        self.problems += self.suites.references.check(data, self.doc, f"{pointer}/expect")
        expect = self.values.expect(data, f"{pointer}/expect")
        if len(self.problems) > before or incident is None or at is None:
            return None
        return Case(self.suite_id, raw["name"], incident, at, expect, self.doc, pointer)

    # --- the incident ---------------------------------------------------------------

    def incident(self, pointer: str, raw: dict[str, Any]) -> Incident | None:
        base: Callable[[str], Span]
        if "incident" in raw and "incidentFile" in raw:
            self.problems.append(
                error(
                    "TS110",
                    "give either incident or incidentFile, not both",
                    self.doc.key_span(f"{pointer}/incidentFile"),
                )
            )
            return None
        if "incident" in raw:
            data = copy.deepcopy(raw["incident"])
            base = _within(self.doc, f"{pointer}/incident")
        else:
            source = self.incident_file(f"{pointer}/incidentFile", raw["incidentFile"])
            if source is None:
                return None
            data, base = copy.deepcopy(source.data), source.span
        overridden = self.apply_set(data, pointer, raw.get("set", {}))
        if overridden is None:
            return None

        def span_of(field: str) -> Span:
            # A problem with a value given by `set` is the `set` entry's, not the incident's.
            for target, where in overridden.items():
                if field == target or field.startswith(target + "/"):
                    return where
            return base(field)

        try:
            return build_incident(data, span_of)
        except InputError as exc:
            self.problems += exc.diagnostics
            return None

    def incident_file(self, pointer: str, relative: str) -> SourceDoc | None:
        where = self.doc.span(pointer)
        path = self.values.path(relative, where, False, "../incidents/outage.yaml")
        if path is None:
            return None
        if not path.is_file():
            reason = "is not a file" if path.exists() else "not found"
            self.problems.append(
                error(
                    "TS103",
                    f"incidentFile {relative!r} {reason} (looked for {display_path(path)})",
                    where,
                    hint="incidentFile is relative to the folder of the suite file",
                )
            )
            return None
        source, found = self.suites.incident_doc(path)
        self.problems += found
        if source is not None and not isinstance(source.data, dict):
            self.problems.append(
                error("IN102", "an incident must be a mapping of fields", source.span(""))
            )
            return None
        return source

    def apply_set(
        self, data: dict[str, Any], pointer: str, assignments: dict[str, Any]
    ) -> dict[str, Span] | None:
        """Apply `set` like `playbook run --set`; the incident pointers set, with their spans."""
        overridden: dict[str, Span] = {}
        for key, value in assignments.items():
            where = self.doc.span(f"{pointer}/set/{escape_pointer_token(key)}")
            parts = key.split(".")
            target = data
            for part in parts[:-1]:
                target = target.setdefault(part, {})
                if not isinstance(target, dict):
                    self.problems.append(
                        error("TS112", f"set {key}: '{part}' is not a mapping", where)
                    )
                    return None
            target[parts[-1]] = copy.deepcopy(value)
            overridden["/" + "/".join(escape_pointer_token(p) for p in parts)] = where
        return overridden


def _within(doc: SourceDoc, prefix: str) -> Callable[[str], Span]:
    """Spans of an inline incident: its pointers are below `prefix` in the suite document."""
    return lambda pointer: doc.span(prefix + pointer)


def _not_checked(count: int, unsure: tuple[str, ...], doc: SourceDoc) -> Diagnostic:
    names = ", ".join(unsure[:3]) + (f" and {len(unsure) - 3} more" if len(unsure) > 3 else "")
    return info(
        "TS115",
        f"{count} id{'s' if count != 1 else ''} in this suite not checked (unknown playbooks, "
        f"rules, steps...): they may be defined in {names}, which did not load",
        doc.span("/metadata/id"),
        hint="fix that file first; validate again to check them",
    )
