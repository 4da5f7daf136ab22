"""Test results for people and machines: text, JSON, and JUnit XML for CI test reporters.

Text lists each failed case with its `file:line` and every mismatch with the line of the
expectation that failed; it ends with exactly `N passed, M failed`, the line CI parsers read.
JUnit XML (one `testsuite` per suite, `file` and `line` on each `testcase`) is what Jenkins,
GitLab and GitHub test reporters read. Every output is deterministic (no times, no host names)
and shows incident-derived text inertly: control and bidi characters become visible escapes, and
the XML holds only characters XML 1.0 allows.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from playbook_engine.authoring.testing.run import CaseResult, Mismatch
from playbook_engine.diagnostics import Diagnostic
from playbook_engine.jsonio import dumps
from playbook_engine.render.diagnostics import diagnostic_dict, text_lines
from playbook_engine.render.json_plan import API_VERSION
from playbook_engine.textsafe import one_line, visible

FORMATS = ("text", "json", "junit")

# Characters XML 1.0 does not allow at all (`visible` has already escaped the C0 controls).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def summary(results: Sequence[CaseResult]) -> str:
    """`N passed, M failed`."""
    failed = sum(1 for r in results if not r.passed)
    return f"{len(results) - failed} passed, {failed} failed"


def report(
    results: Sequence[CaseResult],
    fmt: str,
    diagnostics: Sequence[Diagnostic] = (),
    verbose: bool = False,
) -> str:
    """Results (and input problems, if any stopped the run) in `fmt`: text, json or junit."""
    if fmt == "json":
        return as_json(results, diagnostics)
    if fmt == "junit":
        return as_junit(results, diagnostics)
    return as_text(results, diagnostics, verbose)


def _where(result: CaseResult) -> str:
    span = result.case.span()
    return visible(f"{span.path}:{span.line}", keep_newlines=False)


def mismatch_lines(m: Mismatch) -> list[str]:
    """A mismatch as `file:line:col: what: message`, then its detail indented."""
    lines = [f"{one_line(str(m.span))}: {m.what}: {one_line(m.message)}"]
    lines += ["    " + visible(line) for line in m.detail.splitlines()]
    return lines


def as_text(
    results: Sequence[CaseResult], diagnostics: Sequence[Diagnostic] = (), verbose: bool = False
) -> str:
    """Failed cases in detail (passed ones too with `verbose`), updates, then the summary."""
    lines = text_lines(list(diagnostics))
    for result in results:
        name = visible(result.case.name, keep_newlines=False)
        if result.passed:
            if verbose:
                lines.append(f"PASS {_where(result)}: {name}")
            continue
        lines.append(f"FAIL {_where(result)}: {name}")
        lines += ["  " + line for m in result.mismatches for line in mismatch_lines(m)]
    lines += [f"updated {one_line(path)}" for r in results for path in r.updated]
    lines.append(summary(results))
    return "\n".join(lines) + "\n"


def _mismatch_dict(m: Mismatch) -> dict[str, Any]:
    return {
        "expectation": m.what,
        "path": m.span.path,
        "line": m.span.line,
        "column": m.span.col,
        "message": m.message,
        "expected": m.expected,
        "actual": m.actual,
        "detail": m.detail,
    }


def as_json(results: Sequence[CaseResult], diagnostics: Sequence[Diagnostic] = ()) -> str:
    """A `TestReport` JSON document: every case with its failures, updates, input problems."""
    failed = sum(1 for r in results if not r.passed)
    document = {
        "apiVersion": API_VERSION,
        "kind": "TestReport",
        "cases": [
            {
                "suite": r.suite.id,
                "name": r.case.name,
                "path": r.case.span().path,
                "line": r.case.span().line,
                "status": "passed" if r.passed else "failed",
                "failures": [_mismatch_dict(m) for m in r.mismatches],
                "updated": list(r.updated),
            }
            for r in results
        ],
        "diagnostics": [diagnostic_dict(d) for d in diagnostics],
        "summary": {
            "passed": len(results) - failed,
            "failed": failed,
            "total": len(results),
            "updated": sum(len(r.updated) for r in results),
            "errors": sum(1 for d in diagnostics if d.is_error),
        },
    }
    return dumps(document)


def _xml(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", visible(text))


def _element(parent: ET.Element, tag: str, **attributes: str | int) -> ET.Element:
    return ET.SubElement(parent, tag, {k: _xml(str(v)) for k, v in attributes.items()})


def as_junit(results: Sequence[CaseResult], diagnostics: Sequence[Diagnostic] = ()) -> str:
    """JUnit XML: `testsuites` > `testsuite` per suite > `testcase` per case, `failure` inside;
    input problems are `error`s of a `testsuite` named after the file they are in."""
    errors = [d for d in diagnostics if d.is_error]
    failed = sum(1 for r in results if not r.passed)
    root = ET.Element(
        "testsuites",
        {
            "name": "playbook test",
            "tests": str(len(results) + len(errors)),
            "failures": str(failed),
            "errors": str(len(errors)),
        },
    )
    groups: dict[str, list[CaseResult]] = {}
    for result in results:
        groups.setdefault(result.suite.id, []).append(result)
    for suite_id, group in groups.items():
        suite = group[0].suite
        element = _element(
            root,
            "testsuite",
            name=suite_id,
            tests=len(group),
            failures=sum(1 for r in group if not r.passed),
            errors=0,
            skipped=0,
            file=suite.path,
        )
        for result in group:
            span = result.case.span()
            case = _element(
                element,
                "testcase",
                classname=suite_id,
                name=result.case.name,
                file=span.path,
                line=span.line,
            )
            if result.mismatches:
                first = result.mismatches[0]
                failure = _element(
                    case, "failure", message=f"{first.what}: {first.message}", type="expectation"
                )
                lines = [line for m in result.mismatches for line in mismatch_lines(m)]
                failure.text = _xml("\n".join(lines))
    by_file: dict[str, list[Diagnostic]] = {}
    for d in errors:
        by_file.setdefault(d.span.path, []).append(d)
    for path, found in by_file.items():
        element = _element(
            root, "testsuite", name=path, tests=len(found), failures=0, errors=len(found)
        )
        for d in found:
            case = _element(element, "testcase", classname=path, name=f"{d.code} {d.span}")
            problem = _element(case, "error", message=d.message, type=d.code)
            problem.text = _xml("\n".join(text_lines([d])))
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
