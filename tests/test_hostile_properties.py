"""Property tests: whatever bytes, YAML or JSON reach `playbook validate` and `playbook run`,
the command answers with exit 0, 1 or 2, within a time budget, without a traceback or an
"internal error", and incident text never comes out as terminal controls.

Most examples run in-process through `playbook_engine.cli.main.main` (see `invoke` in
test_hostile_cli.py); a few run the installed command as a subprocess.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_hostile_cli import ECHO, UNSAFE, Outcome, invoke

ROOT = Path(__file__).resolve().parent.parent
CLOCK = ["--at", "2026-02-01T00:30:00Z"]
BUDGET_SECONDS = 5.0
FAST = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SLOW = settings(FAST, max_examples=12)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory)


@pytest.fixture(autouse=True, scope="module")
def _private_cache(scratch: Path) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PLAYBOOK_CACHE_DIR", str(scratch / "cache"))
        yield


def within_budget(args: list[str], stdin: str | None = None) -> Outcome:
    began = time.perf_counter()
    outcome = invoke(args, stdin)
    assert time.perf_counter() - began < BUDGET_SECONDS, args
    assert "Traceback" not in outcome.output
    assert "internal error" not in outcome.output
    assert outcome.code in (0, 1, 2), outcome.output
    return outcome


def subprocess_within_budget(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "playbook_engine", *args],
        capture_output=True,
        text=True,
        timeout=20,
        cwd=ROOT,
        check=False,
    )
    assert "Traceback" not in result.stderr + result.stdout
    assert "internal error" not in result.stderr
    assert result.returncode in (0, 1, 2), result.stderr
    return result


# --- strategies -----------------------------------------------------------------------------

YAML_PIECES = st.sampled_from(
    [
        "id: INC-1\n",
        "title: t\n",
        "startedAt: 2026-01-31T23:30:00Z\n",
        "labels:\n",
        "  a: b\n",
        "- ",
        "? ",
        ": ",
        "&a ",
        "*a ",
        "!!python/object ",
        "!!binary ",
        "<<: ",
        "---\n",
        "...\n",
        "{",
        "}",
        "[",
        "]",
        ",",
        '"',
        "'",
        "\\u",
        "\t",
        "\n",
        "  ",
        "#",
        "%YAML 1.1\n",
        "|\n",
        ">-\n",
        "~",
        "null",
        ".nan",
        ".inf",
        "1e999",
        "0x1F",
        "9" * 30,
        "yes",
        "\x00",
        "\ufeff",
    ]  # fmt: skip
)
YAML_TEXT = st.lists(YAML_PIECES, max_size=40).map("".join)
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
HOSTILE_TEXT = st.lists(
    st.characters(codec="utf-8")
    | st.sampled_from(["\n", "\r", "\x1b[2J", "\u202e", "\u2028", "<!here>", "@here", "- [ ] "]),
    max_size=30,
).map("".join)
TEMPLATE_PIECES = st.sampled_from(
    [
        "{{ ",
        " }}",
        "{% ",
        " %}",
        "incident",
        ".title",
        ".labels",
        "['team']",
        "priority.id",
        " | ",
        "upper",
        "default('x')",
        "tojson",
        "join(',')",
        "range(",
        "10**9",
        ")",
        "(",
        "for x in ",
        "endfor",
        "if ",
        "endif",
        "else",
        "macro f()",
        "endmacro",
        "f()",
        " * ",
        " ~ ",
        "__class__",
        ".format(1)",
        "'%s' % 1",
        "dict.mro()",
        "loop.index",
        "set y = ",
        "text ",
        "\n",
        "#",
        "- [ ] ",
    ]  # fmt: skip
)
TEMPLATES = st.lists(TEMPLATE_PIECES, max_size=12).map("".join)
ECHO_PLAYBOOK: dict[str, Any] = yaml.safe_load((ECHO / "echo.yaml").read_text())


def _pointers(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _pointers(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _pointers(item, (*prefix, index))


POINTERS = [p for p in _pointers(ECHO_PLAYBOOK) if p]


@st.composite
def mutated_playbooks(draw: st.DrawFn) -> str:
    """The echo playbook with a few values replaced by arbitrary data or template text."""
    document = copy.deepcopy(ECHO_PLAYBOOK)
    for pointer in draw(st.lists(st.sampled_from(POINTERS), min_size=1, max_size=3)):
        parent: Any = document
        try:
            for key in pointer[:-1]:
                parent = parent[key]
            parent[pointer[-1]] = draw(JSON_VALUES | TEMPLATES)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement removed this path
    return yaml.safe_dump(document, allow_unicode=True)


@st.composite
def hostile_incidents(draw: st.DrawFn) -> dict[str, Any]:
    """Valid incidents whose text fields, labels and extra fields are arbitrary."""
    incident: dict[str, Any] = {
        "id": "I" + draw(HOSTILE_TEXT),
        "title": "T" + draw(HOSTILE_TEXT),
        "startedAt": "2026-01-31T23:30:00Z",
        "severity": draw(st.sampled_from(["critical", "low"])),
    }
    if draw(st.booleans()):
        incident["description"] = draw(HOSTILE_TEXT)
    if draw(st.booleans()):
        incident["reporter"] = draw(HOSTILE_TEXT)
    incident["labels"] = draw(st.dictionaries(HOSTILE_TEXT, HOSTILE_TEXT, max_size=3))
    incident["extra"] = draw(JSON_VALUES.filter(lambda v: "NaN" not in json.dumps(v)))
    return incident


def write(directory: Path, name: str, content: str | bytes) -> Path:
    path = directory / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


# --- in-process: many examples -----------------------------------------------------------------


@FAST
@given(
    content=st.binary(max_size=3000) | YAML_TEXT.map(str.encode),
    suffix=st.sampled_from([".yaml", ".json"]),
)
def test_validate_answers_any_file(scratch: Path, content: bytes, suffix: str) -> None:
    path = write(scratch, f"document{suffix}", content)
    within_budget(["validate", str(path)])
    within_budget(["validate", "--format", "github", str(path)])


@FAST
@given(
    content=st.binary(max_size=3000) | YAML_TEXT.map(str.encode),
    suffix=st.sampled_from([".yaml", ".json"]),
)
def test_run_answers_any_incident_file(scratch: Path, content: bytes, suffix: str) -> None:
    path = write(scratch, f"incident{suffix}", content)
    within_budget(["run", str(path), "--library", str(ECHO), *CLOCK, "--format", "json"])


@FAST
@given(value=JSON_VALUES)
def test_run_answers_any_json_on_stdin(value: Any) -> None:
    text = json.dumps(value)  # NaN and Infinity included: Python writes them
    within_budget(["run", "-", "--library", str(ECHO), *CLOCK], text)
    within_budget(["run", "-", "--jsonl", "--library", str(ECHO), *CLOCK], text)


@FAST
@given(incident=hostile_incidents(), fmt=st.sampled_from(["markdown", "text"]))
def test_hostile_text_is_always_rendered_inertly(incident: dict[str, Any], fmt: str) -> None:
    outcome = within_budget(
        ["run", "-", "--library", str(ECHO), *CLOCK, "--format", fmt, "--explain"],
        json.dumps(incident),
    )
    # 1 only when the hostile reporter is refused as an e-mail recipient (a plan error).
    assert outcome.code in (0, 1), outcome.stderr
    assert outcome.stderr == ""
    assert not UNSAFE.search(outcome.stdout)


@FAST
@given(incident=hostile_incidents())
def test_hostile_text_round_trips_through_json(incident: dict[str, Any]) -> None:
    outcome = within_budget(
        ["run", "-", "--library", str(ECHO), *CLOCK, "--format", "json"], json.dumps(incident)
    )
    assert outcome.code in (0, 1), outcome.stderr
    plan = json.loads(outcome.stdout)
    # The only plan error hostile text can cause: its reporter refused as a recipient.
    assert all(" refused: " in e["message"] for e in plan["errors"])
    assert (outcome.code == 1) == bool(plan["errors"])
    assert plan["incident"] == {"id": incident["id"], "title": incident["title"]}
    for note in plan["notifications"]:
        assert not re.search("[\r\n]", (note["subject"] or "") + "".join(note["to"]))


@settings(FAST, max_examples=40)
@given(document=mutated_playbooks())
def test_validate_and_run_answer_any_mutated_playbook(scratch: Path, document: str) -> None:
    library = scratch / "library"
    library.mkdir(exist_ok=True)
    write(library, "policy.yaml", (ECHO / "policy.yaml").read_text())
    write(library, "echo.yaml", document)
    within_budget(["validate", str(library)])
    outcome = within_budget(
        ["run", "-", "--library", str(library), *CLOCK, "--format", "json"],
        json.dumps({"id": "INC-1", "title": "a\n{{ 7*7 }}", "startedAt": "2026-01-31T23:30:00Z"}),
    )
    if outcome.code == 0:
        assert not UNSAFE.search(outcome.stdout)


# --- subprocess: the installed command, fewer examples ------------------------------------------


@SLOW
@given(content=st.binary(max_size=2000) | YAML_TEXT.map(str.encode))
def test_installed_validate_answers_any_bytes(scratch: Path, content: bytes) -> None:
    path = write(scratch, "any.yaml", content)
    subprocess_within_budget("validate", str(path))


@SLOW
@given(value=JSON_VALUES | hostile_incidents())
def test_installed_run_answers_any_json(scratch: Path, value: Any) -> None:
    path = write(scratch, "any.json", json.dumps(value))
    subprocess_within_budget("run", str(path), "--library", str(ECHO), *CLOCK, "--explain")
