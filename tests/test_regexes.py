"""`matches` patterns run by RE2: linear time whatever the pattern, what RE2 cannot do refused
when the library is validated, and the same answers as Python's `re` where both can run."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import PLAYBOOK
from hypothesis import given, settings
from hypothesis import strategies as st

from playbook_engine.check.regexes import compile_linear
from playbook_engine.compile.conditions import ConditionCompiler
from playbook_engine.diagnostics import Span
from playbook_engine.model import Leaf

# Shapes that made Python's `re` run for seconds to minutes on a 25-61 character subject,
# the static check of before missing the first five (issue #15), and the classic ones it
# refused.
REDOS = [
    (r"(a|a?)+$", "a" * 40 + "b"),
    (r"(a|aa)+$", "a" * 61 + "b"),
    (r"(.*a){12}$", "a" * 40 + "b"),
    (r"(?:a{1,30}){1,30}$", "a" * 61 + "b"),
    (r"(a?){25}a{25}", "a" * 25),
    (r"(a+)+$", "a" * 61 + "b"),
    (r"^(\w+\s?)*$", "word " * 12 + "!"),
    (r".*.*=", "x" * 5000),
    (r"(x+x+)+y", "x" * 61),
]


@pytest.mark.parametrize(("pattern", "subject"), REDOS)
def test_catastrophic_shapes_run_in_linear_time(pattern: str, subject: str) -> None:
    search, reason, _ = compile_linear(pattern)
    assert search is not None, reason
    started = time.perf_counter()
    for _ in range(10):
        search(subject)
        search(subject * 100)
    assert time.perf_counter() - started < 1.0  # Python's re: seconds to minutes for one


@pytest.mark.parametrize(
    ("pattern", "hint"),
    [
        (r"(a)\1", "backreferences need backtracking"),
        (r"(?=a)b", "look-ahead (?=…) needs backtracking"),
        (r"(?!a)b", "look-ahead (?!…) needs backtracking"),
        (r"(?<=a)b", "look-behind (?<=…) needs backtracking"),
        (r"a\Z", "RE2 writes the end of the text as \\z (or $)"),
        ("a{1001}", "RE2 repeats at most 1,000 times"),
        ("(unclosed", "RE2 syntax (linear time)"),
    ],
)
def test_what_re2_cannot_do_is_pb401_with_a_hint(pattern: str, hint: str) -> None:
    compiler = ConditionCompiler({})
    compiler.check(Leaf("incident.title", "matches", pattern, Span("p.yaml", 3, 5), "", False))
    [found] = compiler.diagnostics
    assert found.code == "PB401" and found.message.startswith("regular expression does not")
    assert found.hint is not None and found.hint.startswith(hint)


def test_a_posix_class_is_a_class() -> None:
    """RE2 reads `[[:alpha:]]` as Alertmanager and grep do (Python's `re` read it literally)."""
    search, _, _ = compile_linear("^[[:alpha:]]+$")
    assert search is not None
    assert search("Checkout") is not None and search("502") is None


def test_compiling_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    compile_linear(r"(b)\1 never seen before")
    assert capfd.readouterr().err == ""


_ATOMS = st.sampled_from(["a", "b", "ab", ".", "[ab]", "[^a]", r"\d", "x", "(a|b)", "(ab|a)"])
_QUANTIFIERS = st.sampled_from(["", "*", "+", "?", "{2}", "{1,3}", "*?", "+?"])
_PATTERNS = st.lists(st.tuples(_ATOMS, _QUANTIFIERS), min_size=1, max_size=5).map(
    lambda parts: "".join(atom + q for atom, q in parts)
)


@settings(max_examples=300, deadline=None)
@given(
    pattern=_PATTERNS,
    anchored=st.booleans(),
    subject=st.text(alphabet="abx19", max_size=20),
)
def test_re2_agrees_with_python_where_both_run(pattern: str, anchored: bool, subject: str) -> None:
    pattern = f"^{pattern}$" if anchored else pattern
    search, reason, _ = compile_linear(pattern)
    assert search is not None, reason
    assert (search(subject) is not None) == (re.search(pattern, subject) is not None)


BASIC = Path(__file__).parent / "data" / "libraries" / "basic"


def test_a_library_of_hostile_patterns_validates_and_runs_quickly(tmp_path: Path) -> None:
    """End to end: every shape above in `appliesWhen`, validated and run on a subject made to
    hurt a backtracking engine; `run` finishes well within the bound."""
    library = tmp_path / "lib"
    shutil.copytree(BASIC, library)
    for index, (pattern, _) in enumerate(REDOS):
        quoted = pattern.replace("\\", "\\\\").replace('"', '\\"')
        (library / f"p{index}.yaml").write_text(
            "apiVersion: playbook-engine/v1\nkind: Playbook\n"
            f"metadata: {{id: p{index}, title: P{index}, owner: sre}}\n"
            "spec:\n"
            f'  appliesWhen: {{field: incident.title, matches: "{quoted}"}}\n'
            "  steps:\n    - {id: s, title: Step, owner: responder}\n",
            encoding="utf-8",
        )
    incident = tmp_path / "incident.yaml"
    incident.write_text(
        f"id: INC-1\ntitle: {'a' * 61}b\nstartedAt: 2026-01-01T00:00:00Z\n", encoding="utf-8"
    )
    validated = subprocess.run(
        [*PLAYBOOK, "validate", str(library)], capture_output=True, text=True, timeout=60
    )
    assert validated.returncode == 0, validated.stdout + validated.stderr
    started = time.perf_counter()
    ran = subprocess.run(
        [*PLAYBOOK, "run", str(incident), "--library", str(library), "--no-cache"]
        + ["--at", "2026-01-01T00:05:00Z", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    assert time.perf_counter() - started < 20
