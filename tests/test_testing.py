"""`playbook test`: suites run by the installed command, every expectation kind met and broken,
goldens and --update, bad suites with their exact diagnostics, and the text, JSON and JUnit
reports.

The data lives in tests/data/testsuites/: `library/` is a small library whose own suite
(`library/tests/passing.yaml`) meets every kind of expectation; `failing/expectations.yaml`
breaks each kind (run with --library, it lies outside the library) and `failing/expected.txt` is
its exact text report; `invalid/*.yaml` are unusable suites and `invalid/expected.txt` the exact
diagnostics of running them all at once.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import PLAYBOOK
from hypothesis import given, settings
from hypothesis import strategies as st

from playbook_engine.authoring.testing.report import as_json, as_junit, as_text
from playbook_engine.authoring.testing.run import CaseResult, Mismatch, run_case
from playbook_engine.authoring.testing.suites import SuiteLoader
from playbook_engine.cli.main import main
from playbook_engine.diagnostics import Span
from playbook_engine.pipeline import load_library

DATA = Path(__file__).parent / "data" / "testsuites"
LIBRARY = DATA / "library"
PASSING = LIBRARY / "tests" / "passing.yaml"


def playbook(*args: str, cwd: Path = DATA) -> subprocess.CompletedProcess[str]:
    """`playbook test ARGS` run by the installed command in a subprocess."""
    env = {k: v for k, v in os.environ.items() if k != "PLAYBOOK_LIBRARY"}
    return subprocess.run(
        [*PLAYBOOK, "test", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=60
    )


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """`playbook test ARGS` through the same entry point, in this process (faster)."""
    monkeypatch.delenv("PLAYBOOK_LIBRARY", raising=False)

    def run_test(*args: str, cwd: Path = DATA) -> subprocess.CompletedProcess[str]:
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            main(["test", *args])
        out = capsys.readouterr()
        code = exited.value.code
        assert isinstance(code, int)
        return subprocess.CompletedProcess(["playbook", "test", *args], code, out.out, out.err)

    return run_test


def line_of(path: Path, needle: str) -> int:
    """The 1-based line of the one line of `path` that contains `needle`."""
    found = [n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line]
    assert len(found) == 1, (needle, found)
    return found[0]


@pytest.fixture
def library_copy(tmp_path: Path) -> Path:
    """A copy of the small library that a test may change."""
    copy = tmp_path / "library"
    shutil.copytree(LIBRARY, copy)
    return copy


# --- passing --------------------------------------------------------------------------------


def test_a_library_whose_cases_all_pass_exits_0() -> None:
    result = playbook("library", "-v")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    names = [
        "global outage at night is P1",
        "staging falls back to triage at P4 on the office clock",
        "set overrides fields of the incident file",
        "template errors can be allowed",
    ]
    shown = "library/tests/passing.yaml"
    assert result.stdout.splitlines() == [
        *(f"PASS {shown}:{line_of(PASSING, f'name: {n}')}: {n}" for n in names),
        "4 passed, 0 failed",
    ]


def test_without_paths_the_library_is_found_from_the_working_directory(run: Run) -> None:
    result = run(cwd=LIBRARY / "tests")
    assert (result.returncode, result.stdout) == (0, "4 passed, 0 failed\n")


def test_the_bundled_library_passes_its_own_suites(run: Run) -> None:
    result = run("playbooks", cwd=Path(__file__).parent.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.fullmatch(r"[0-9]+ passed, 0 failed\n", result.stdout)


# --- failing --------------------------------------------------------------------------------

FAILING = DATA / "failing" / "expectations.yaml"


def test_failures_are_reported_with_the_line_of_each_expectation() -> None:
    result = playbook("failing/expectations.yaml", "--library", "library")
    assert result.returncode == 1
    assert result.stderr == ""
    assert result.stdout == (DATA / "failing" / "expected.txt").read_text()
    assert result.stdout.endswith("\n0 passed, 8 failed\n")


def test_every_expectation_kind_can_fail(run: Run) -> None:
    result = run("failing/expectations.yaml", "--library", "library", "--format", "json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    failures = {
        (case["name"], f["expectation"], f["line"], f["message"])
        for case in report["cases"]
        for f in case["failures"]
    }

    def at(needle: str) -> int:
        return line_of(FAILING, needle)

    expected = {
        ("playbooks", "playbooks", at("playbooks: [triage]"), "expected [triage], got [outage]"),
        (
            "playbooks",
            "playbooksInclude",
            at("playbooksInclude:"),
            "'triage' is not selected (fallback, and other playbooks apply)",
        ),
        (
            "playbooks",
            "playbooksExclude",
            at("playbooksExclude:"),
            "'outage' is selected (appliesWhen holds)",
        ),
        (
            "classification",
            "priority",
            at("priority: P2"),
            "expected P2, got P1 (decided by matrix[extensive][critical])",
        ),
        (
            "classification",
            "impact",
            at("impact: minor"),
            "expected minor, got extensive (decided by rule outage/global)",
        ),
        (
            "classification",
            "urgency",
            at("urgency: low"),
            "expected low, got critical (decided by rule outage/global)",
        ),
        (
            "classification",
            "decidedBy.priority",
            at("decidedBy:"),
            "expected 'override by rule policy/staging-is-low', got 'matrix[extensive][critical]'",
        ),
        (
            "steps",
            "steps.include",
            at("include: [page-sre, look]"),
            "step 'page-sre' is not in the plan (condition does not hold)",
        ),
        (
            "steps",
            "steps.include",
            at("include: [page-sre, look]"),
            "step 'look' is not in the plan (its playbook triage is not selected)",
        ),
        (
            "steps",
            "steps.exclude",
            at("exclude: [declare]"),
            "step 'declare' is in the plan (from playbook outage)",
        ),
        (
            "steps",
            "steps.order",
            at("order: [review, declare]"),
            "expected the order [review, declare], got [declare, review]",
        ),
        (
            "steps",
            "steps.due.declare",
            at("due: {declare"),
            "expected 2026-03-14T02:06:00Z, got 2026-03-16T09:05:00Z",
        ),
        ("steps", "steps.due.review", at("due: {declare"), "step 'review' has no due time"),
        (
            "escalation",
            "escalationSource",
            at("escalationSource: policy"),
            "expected policy, got outage",
        ),
        (
            "escalation",
            "escalation",
            at("status: pending}"),
            "entry 1: expected 0m -> sre-primary (pending), got 0m -> sre-primary (due)",
        ),
        (
            "escalation",
            "escalationInclude",
            at("after: 5m"),
            "no entry 5m -> sre-primary",
        ),
        (
            "escalation entries",
            "escalation",
            at("after: 15m"),
            "entry 2: expected 15m -> sre-secondary, got 10m -> sre-secondary (due)",
        ),
        (
            "deadlines",
            "deadlines.respondBy",
            at("respondBy:"),
            "expected 2026-03-14T03:30:00+01:00, got 2026-03-14T03:15:00+01:00",
        ),
        ("deadlines", "deadlines.clock", at("clock: office"), "expected office, got 24x7"),
        (
            "notifications",
            "notifications[ticket]",
            at("- id: ticket"),
            "not sent (its playbook triage is not selected)",
        ),
        (
            "notifications",
            "notifications[announce].to",
            at('to: ["#ops"]'),
            "expected [#ops], got [#incidents]",
        ),
        (
            "notifications",
            "notifications[announce].subject",
            at('subject: "[P1] Checkout"'),
            "expected '[P1] Checkout', got '[P1] Checkout down'",
        ),
        (
            "notifications",
            "notifications[announce].contains",
            at('contains: ["P2"]'),
            "does not contain 'P2'",
        ),
        (
            "notifications",
            "notifications[announce].notContains",
            at("notContains:"),
            "contains 'Checkout'",
        ),
        (
            "notifications",
            "notifications[announce].golden",
            at("golden:"),
            "the rendered body differs from failing/goldens/announce.txt "
            "(playbook test --update rewrites it)",
        ),
        (
            "notifications",
            "notificationsExclude",
            at("notificationsExclude:"),
            "'announce' is sent (from playbook outage)",
        ),
        (
            "template errors",
            "noErrors",
            at("name: template errors"),
            "template error at library/outage.yaml:45:13: "
            "'incident.labels' has no attribute 'team'",
        ),
    }
    assert failures == expected
    assert report["summary"] == {"passed": 0, "failed": 8, "total": 8, "updated": 0, "errors": 0}


def test_a_case_that_meets_its_expectations_is_not_failed_by_others(run: Run) -> None:
    """The same incidents pass when the expectations are right: failures come from them only."""
    result = run("failing/expectations.yaml", "--library", "library", "-k", "escalation e")
    assert result.returncode == 1
    assert result.stdout.endswith("\n0 passed, 1 failed\n")
    assert result.stdout.startswith("FAIL failing/expectations.yaml:44: escalation entries\n")


# --- reports --------------------------------------------------------------------------------


def test_json_report_shape() -> None:
    result = playbook("library", "--format", "json")
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report["apiVersion"] == "playbook-engine/v1"
    assert report["kind"] == "TestReport"
    assert report["summary"] == {"passed": 4, "failed": 0, "total": 4, "updated": 0, "errors": 0}
    assert report["diagnostics"] == []
    first = report["cases"][0]
    assert first == {
        "suite": "passing",
        "name": "global outage at night is P1",
        "path": "library/tests/passing.yaml",
        "line": line_of(PASSING, "name: global outage"),
        "status": "passed",
        "failures": [],
        "updated": [],
    }


def test_junit_report_is_well_formed_and_deterministic() -> None:
    args = ("failing/expectations.yaml", "library", "--library", "library", "--format", "junit")
    first, second = playbook(*args), playbook(*args)
    assert first.returncode == 1
    assert first.stdout == second.stdout
    root = ET.fromstring(first.stdout)
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("12", "8", "0")
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"failing", "passing"}
    assert suites["failing"].get("file") == "failing/expectations.yaml"
    case = suites["failing"].find("testcase[@name='classification']")
    assert case is not None
    assert case.get("classname") == "failing"
    assert case.get("file") == "failing/expectations.yaml"
    assert case.get("line") == str(line_of(FAILING, "name: classification"))
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == (
        "priority: expected P2, got P1 (decided by matrix[extensive][critical])"
    )
    assert failure.text is not None
    assert failure.text.count("\n") == 3  # one line per mismatch
    assert all(c.find("failure") is None for c in suites["passing"].iter("testcase"))


# --- golden files ---------------------------------------------------------------------------


def test_update_writes_missing_and_differing_goldens(library_copy: Path, run: Run) -> None:
    golden = library_copy / "tests" / "goldens" / "announce.txt"
    body = golden.read_text()
    assert body == "Critical outage: Checkout down\nRespond by 2026-03-14T02:15:00Z.\n"
    golden.unlink()
    result = run("library", cwd=library_copy.parent)
    assert result.returncode == 1
    assert (
        f"library/tests/passing.yaml:{line_of(PASSING, 'golden:')}:21: "
        "notifications[announce].golden: golden file library/tests/goldens/announce.txt does not "
        "exist (playbook test --update writes it)"
    ) in result.stdout

    result = run("library", "--update", cwd=library_copy.parent)
    assert result.returncode == 0
    assert result.stdout == "updated library/tests/goldens/announce.txt\n4 passed, 0 failed\n"
    assert golden.read_text() == body

    golden.write_text(body.replace("Checkout down", "Checkout is down"))
    result = run("library", cwd=library_copy.parent)
    assert result.returncode == 1
    assert (
        "\n      -Critical outage: Checkout is down\n      +Critical outage: Checkout down\n"
        in (result.stdout)
    )
    result = run("library", "--update", "--format", "json", cwd=library_copy.parent)
    assert result.returncode == 0
    assert json.loads(result.stdout)["cases"][0]["updated"] == [
        "library/tests/goldens/announce.txt"
    ]
    assert golden.read_text() == body


def test_goldens_may_end_in_any_number_of_newlines(library_copy: Path, run: Run) -> None:
    golden = library_copy / "tests" / "goldens" / "announce.txt"
    golden.write_text(golden.read_text().rstrip("\n"))
    assert run("library", cwd=library_copy.parent).returncode == 0
    golden.write_text(golden.read_text() + "\n\n")
    result = run("library", "--update", cwd=library_copy.parent)
    assert result.stdout == "4 passed, 0 failed\n"  # nothing to rewrite


# --- selecting cases --------------------------------------------------------------------------


def test_k_selects_cases_by_name_ignoring_case(run: Run) -> None:
    result = run("library", "-k", "STAGING", "-k", "set overrides", "-v")
    assert result.returncode == 0
    staging = line_of(PASSING, "name: staging")
    overrides = line_of(PASSING, "name: set overrides")
    assert result.stdout.splitlines() == [
        f"PASS library/tests/passing.yaml:{staging}: staging falls back to triage at P4 on the "
        "office clock",
        f"PASS library/tests/passing.yaml:{overrides}: set overrides fields of the incident file",
        "2 passed, 0 failed",
    ]


def test_k_that_selects_nothing_is_a_usage_error(run: Run) -> None:
    result = run("library", "-k", "no such case")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "-k: error TS113 -k 'no such case' selects no test case\n"


# --- unusable suites and libraries -----------------------------------------------------------


def test_invalid_suites_are_input_errors_with_exact_diagnostics() -> None:
    files = sorted(p.name for p in (DATA / "invalid").glob("*.yaml"))
    result = playbook(*(f"invalid/{name}" for name in files), "--library", "library")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (DATA / "invalid" / "expected.txt").read_text()
    for name in files:  # every bad suite is caught (the first of two duplicate ids is valid)
        assert f"invalid/{name}:" in result.stderr or name == "duplicate-id-a.yaml"


def test_input_errors_are_in_the_json_and_junit_reports_too(run: Run) -> None:
    result = run("invalid/not-a-suite.yaml", "--library", "library", "--format", "json")
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report["cases"] == []
    assert [(d["code"], d["path"], d["line"]) for d in report["diagnostics"]] == [
        ("TS109", "invalid/not-a-suite.yaml", 2)
    ]
    assert report["summary"]["errors"] == 1
    assert "error TS109 expected a TestSuite, got a Playbook" in result.stderr

    result = run("invalid/syntax.yaml", "--library", "library", "--format", "junit")
    assert result.returncode == 2
    root = ET.fromstring(result.stdout)
    assert (root.get("tests"), root.get("errors")) == ("1", "1")
    error = root.find("testsuite[@name='invalid/syntax.yaml']/testcase/error")
    assert error is not None
    assert error.get("type") == "PB101"


def test_no_suites_and_suites_outside_a_library(
    tmp_path: Path, library_copy: Path, run: Run
) -> None:
    shutil.rmtree(library_copy / "tests")
    result = run("library", cwd=library_copy.parent)
    assert result.returncode == 2
    assert result.stderr.startswith("library/tests: error TS101 no test suites in library/tests\n")

    stray = tmp_path / "stray.yaml"
    shutil.copy(DATA / "invalid" / "duplicate-id-a.yaml", stray)
    result = run("stray.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "stray.yaml: error TS102 not inside a library: no policy file here or in a folder above\n"
        "  hint: pass --library DIR to say which library the suites test\n"
    )


def test_a_library_that_does_not_validate_runs_nothing(library_copy: Path, run: Run) -> None:
    outage = library_copy / "outage.yaml"
    outage.write_text(outage.read_text().replace("  order: 10\n", "  order: 10\n  ordr: 1\n"))
    result = run("library", cwd=library_copy.parent)
    assert (result.returncode, result.stdout) == (2, "")
    assert "library/outage.yaml:9:3: error PB202 unknown key 'ordr' in spec" in result.stderr


# --- hostile text ----------------------------------------------------------------------------

HOSTILE_SUITE = """\
apiVersion: playbook-engine/v1
kind: TestSuite
metadata: {id: hostile}
spec:
  at: "2026-03-14T02:12:00Z"
  cases:
    - name: "\\e[31mred <b>&amp; ]]> \\u202e \\x85"
      incident:
        id: INC-H
        title: "\\e]0;owned\\a <script> ]]> \\x0c"
        startedAt: "2026-03-14T02:00:00Z"
        severity: critical
      expect:
        notifications: [{id: announce, contains: [nothing like this]}]
"""


@pytest.mark.parametrize("fmt", ["text", "junit", "json"])
def test_hostile_names_and_incident_text_stay_inert(library_copy: Path, fmt: str, run: Run) -> None:
    (library_copy / "tests" / "hostile.yaml").write_text(HOSTILE_SUITE)
    result = run("library", "--format", fmt, cwd=library_copy.parent)
    assert result.returncode == 1
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]", result.stdout)
    if fmt == "junit":
        case = ET.fromstring(result.stdout).find("testsuite[@name='hostile']/testcase")
        assert case is not None
        assert case.get("name") == "\\x1b[31mred <b>&amp; ]]> \\u202e \\x85"
    if fmt == "json":
        names = [c["name"] for c in json.loads(result.stdout)["cases"]]
        assert "\x1b[31mred <b>&amp; ]]> \u202e \x85" in names  # JSON escapes, keeps the value


@settings(max_examples=60, deadline=None)
@given(name=st.text(), message=st.text(), detail=st.text())
def test_reports_never_break_on_any_text(name: str, message: str, detail: str) -> None:
    result = _passing_result()
    mismatch = Mismatch(Span("s.yaml", 3, 5), "priority", message, None, None, detail)
    broken = replace(result, case=replace(result.case, name=name), mismatches=(mismatch,))
    root = ET.fromstring(as_junit([broken]))
    assert root.get("failures") == "1"
    text = as_text([broken])
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", text)
    assert text.endswith("\n0 passed, 1 failed\n")
    assert json.loads(as_json([broken]))["cases"][0]["name"] == name


_CACHE: list[CaseResult] = []


def _passing_result() -> CaseResult:
    """A real result of the first passing case, loaded once."""
    if not _CACHE:
        loaded = load_library(LIBRARY)
        assert loaded.compiled is not None
        suite, problems = SuiteLoader(loaded.compiled).load(LIBRARY / "tests" / "passing.yaml")
        assert suite is not None, problems
        _CACHE.append(run_case(suite, suite.cases[0]))
    assert _CACHE[0].passed
    return _CACHE[0]
