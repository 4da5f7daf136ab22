"""Hostile input through the real command: incidents, playbooks and text that tries to escape.

- `tests/data/hostile-incidents/`: one incident per case, `expected.json` giving the errors
  (code, line, and the field path the message starts with) of `playbook run`; each is exit 2.
- `tests/data/hostile-playbooks/cases/`: playbooks with known template escapes, refused
  regexes and oversized or malformed templates, validated as one library; `../expected.json`
  gives each file's errors (code, line). `caps/` compiles but reaches resource caps when run.
- `tests/data/hostile-yaml/` (the loader's corpus) is validated again here, through the CLI.
- `echo/` puts incident text into every output; hostile text must come out literal and inert.

Most cases run in-process through `playbook_engine.cli.main.main` (`invoke`), a few as
subprocesses, so the whole corpus takes about a second.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from playbook_engine.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
INCIDENTS = DATA / "hostile-incidents"
PLAYBOOKS = DATA / "hostile-playbooks"
ECHO = PLAYBOOKS / "echo"
CLOCK = ["--at", "2026-02-01T00:30:00Z"]
DIAGNOSTIC = re.compile(
    r"^(?P<path>.+?)(?::(?P<line>\d+):(?P<col>\d+))?: error (?P<code>[A-Z]+\d{3}) (?P<message>.*)$"
)


@dataclass(frozen=True, slots=True)
class Outcome:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@contextmanager
def _stdin(stream: io.StringIO | None) -> Iterator[None]:
    saved = sys.stdin
    sys.stdin = stream  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdin = saved


def invoke(args: list[str], stdin: str | None = None) -> Outcome:
    """`playbook ARGS` in this process: the real CLI, its exit code and what it wrote."""
    out, err = io.StringIO(), io.StringIO()
    code: Any = None
    with redirect_stdout(out), redirect_stderr(err), _stdin(io.StringIO(stdin or "")):
        try:
            main(args)
        except SystemExit as exc:
            code = exc.code
    assert isinstance(code, int), f"main() returned without an exit code: {code!r}"
    return Outcome(code, out.getvalue(), err.getvalue())


def assert_no_crash(outcome: Outcome) -> None:
    assert "Traceback" not in outcome.output
    assert "internal error" not in outcome.output
    assert outcome.code in (0, 1, 2), outcome.output


@pytest.fixture(autouse=True, scope="module")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PLAYBOOK_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


def playbook(*args: str | Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The installed command as a subprocess, answering within 20 seconds."""
    return subprocess.run(
        [sys.executable, "-m", "playbook_engine", *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=20,
        cwd=ROOT,
        check=False,
    )


def errors_of(stderr: str) -> list[tuple[str, int, str]]:
    """(code, line, field) of each error line; field is the `name:` the message starts with."""
    found = []
    for line in stderr.splitlines():
        match = DIAGNOSTIC.match(line)
        if match:
            field = re.match(r"([A-Za-z][\w.\[\]]*): ", match["message"])
            found.append((match["code"], int(match["line"] or 0), field[1] if field else ""))
    return found


# --- hostile incidents ----------------------------------------------------------------------

EXPECTED_INCIDENTS: dict[str, list[list[Any]]] = json.loads(
    (INCIDENTS / "expected.json").read_text()
)
_NOT_A_FIELD = {"PB101", "PB102", "PB103", "PB104", "PB105", "PB107", "PB108", "PB109", "PB110"}


def test_every_hostile_incident_has_an_expectation() -> None:
    files = {p.name for p in INCIDENTS.iterdir() if p.name != "expected.json"}
    assert files == set(EXPECTED_INCIDENTS)


@pytest.mark.parametrize("name", sorted(EXPECTED_INCIDENTS))
def test_hostile_incident_is_a_clear_input_error(name: str) -> None:
    outcome = invoke(["run", str(INCIDENTS / name), "--library", str(ECHO), *CLOCK])
    assert_no_crash(outcome)
    assert (outcome.code, outcome.stdout) == (2, "")
    found = [
        (code, line, "" if code in _NOT_A_FIELD else field)
        for code, line, field in errors_of(outcome.stderr)
    ]
    assert found == [tuple(row) for row in EXPECTED_INCIDENTS[name]], outcome.stderr
    for line in outcome.stderr.splitlines():
        if not line.startswith("  hint: "):
            assert line.startswith(str(INCIDENTS / name)), line


def test_enormous_incidents_are_refused_by_size(tmp_path: Path) -> None:
    text = tmp_path / "text.json"
    text.write_text(json.dumps({"id": "a", "title": "x" * 2_000_000, "startedAt": "2026-01-01"}))
    array = tmp_path / "array.json"
    array.write_text(json.dumps({"id": "a", "title": "t", "startedAt": "x", "l": [0] * 60_000}))
    began = time.perf_counter()
    for path, code in ((text, "PB106"), (array, "PB104")):
        outcome = invoke(["run", str(path), "--library", str(ECHO), *CLOCK])
        assert outcome.code == 2
        assert [found[0] for found in errors_of(outcome.stderr)] == [code]
    assert time.perf_counter() - began < 10


def test_hostile_incidents_through_the_installed_command() -> None:
    for name in ("deadline-overflow.yaml", "lone-surrogate-bytes.json", "python-tag.yaml"):
        result = playbook("run", INCIDENTS / name, "--library", ECHO, *CLOCK)
        assert (result.returncode, result.stdout) == (2, "")
        assert "Traceback" not in result.stderr
        expected = [tuple(row[:2]) for row in EXPECTED_INCIDENTS[name]]
        assert [found[:2] for found in errors_of(result.stderr)] == expected


def test_a_jsonl_batch_reports_bad_lines_and_goes_on() -> None:
    good = {"id": "INC-1", "title": "ok a", "startedAt": "2026-01-31T23:30:00Z"}
    lines = [
        json.dumps(good),
        json.dumps(good)[:-1] + ', "customersAffected": 1e999}',
        "[1, 2]",
        json.dumps({**good, "startedAt": "1900-01-01T00:00:00Z"}),
        json.dumps({**good, "title": "x\n- [ ] forged\u202e"}),
        json.dumps({**good, "startedAt": "9999-12-31T23:00:00Z"}),
    ]
    outcome = invoke(["run", "-", "--jsonl", "--library", str(ECHO), *CLOCK], "\n".join(lines))
    assert_no_crash(outcome)
    assert outcome.code == 1
    documents = [json.loads(line) for line in outcome.stdout.splitlines()]
    assert [d.get("line") for d in documents] == [None, 2, 3, 4, None, 6]
    codes = [d["errors"][0]["code"] for d in documents if "errors" in d and "line" in d]
    assert codes == ["PB109", "IN102", "IN103", "IN106"]
    assert documents[4]["incident"]["title"] == "x\n- [ ] forged\u202e"


# --- hostile playbooks ------------------------------------------------------------------------


def test_hostile_playbooks_are_diagnostics_with_file_and_line() -> None:
    expected = json.loads((PLAYBOOKS / "expected.json").read_text())
    cases = PLAYBOOKS / "cases"
    assert {p.name for p in cases.iterdir()} == {*expected, "policy.yaml"}
    began = time.perf_counter()
    result = playbook("validate", "--format", "json", cases)
    assert time.perf_counter() - began < 10
    assert result.returncode == 1, result.stderr
    assert result.stderr == ""
    found: dict[str, list[list[Any]]] = {name: [] for name in expected}
    for d in json.loads(result.stdout)["diagnostics"]:
        if d["severity"] == "error":
            found[Path(d["path"]).name].append([d["code"], d["line"]])
    assert {name: sorted(rows) for name, rows in found.items()} == expected


def test_resource_caps_answer_quickly_naming_the_template() -> None:
    incident = ROOT / "playbooks" / "incidents" / "01-gitlab-db-deletion.yaml"
    began = time.perf_counter()
    outcome = invoke(["run", str(incident), "--library", str(PLAYBOOKS / "caps"), *CLOCK])
    assert time.perf_counter() - began < 10
    assert_no_crash(outcome)
    assert outcome.code == 1
    outcome = invoke(
        [
            "run",
            str(incident),
            "--library",
            str(PLAYBOOKS / "caps"),
            *CLOCK,
            "--format",
            "json",
            "--explain",
        ]
    )
    plan = json.loads(outcome.stdout)
    where = [e["where"].rsplit(":", 2) for e in plan["errors"]]
    assert [(Path(path).name, int(line)) for path, line, _ in where] == [
        ("caps.yaml", line) for line in (13, 16, 19, 22, 25, 34, 30)
    ]
    assert [e["message"] for e in plan["errors"]] == [
        "a value in the template is larger than 100,000 characters",
        "the template runs more than 10,000 loop iterations and calls",
        "the template calls itself too deeply",
        "a number in the template is larger than 4,096 bits",
        "range() may produce at most 1,000 numbers",
        "the rendered text is longer than 100,000 characters",
        "expression failed, counted as false: a value in the template is larger than 100,000 "
        "characters",
    ]
    # A failing `expr` condition is false, listed among the plan's errors; --explain says why.
    assert "a value in the template is larger than 100,000 characters" in json.dumps(
        plan["explain"]["items"]
    )


def test_the_loader_corpus_through_validate() -> None:
    corpus = DATA / "hostile-yaml"
    expected = json.loads((corpus / "expected.json").read_text())
    files = sorted(corpus / name for name in expected)
    result = playbook("validate", "--format", "json", *files)
    assert result.returncode == 1, result.stderr
    found: dict[str, list[list[Any]]] = {name: [] for name in expected}
    for d in json.loads(result.stdout)["diagnostics"]:
        found[Path(d["path"]).name].append([d["code"], d["line"]])
    assert found == expected


# --- hostile text in every output --------------------------------------------------------------

HOSTILE_TITLE = (
    "x a\n- [ ] forged step\n[click](https://evil.example) <https://evil.example|click> "
    "<!channel> <@U123> @here <script>alert(1)</script> {{ 7*7 }} {% raw %} "
    "\x1b]8;;https://evil\x07link\x1b]8;;\x07 \x1b[2J \u202eevil\u202c\r\nBcc: victim@example.com"
)
HOSTILE = {
    "id": "INC-\x1b[31m1\n- [ ] forged",
    "title": HOSTILE_TITLE,
    "startedAt": "2026-01-31T23:30:00Z",
    "severity": "critical",
    "description": "# heading\n|table|\n<!here> @channel `code` ${{ secrets.X }} ::error::x %0A",
    "reporter": "evil@example.com\r\nBcc: all@example.com",
    "labels": {"k\nx": "v\x1b[2J"},
}
# Raw terminal controls, bidi overrides and line separators: never in any output.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


@pytest.fixture(scope="module")
def hostile_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "incident.json"
    path.write_text(json.dumps(HOSTILE))
    return path


def _outside_code(markdown: str) -> list[str]:
    lines, fenced = [], False
    for line in markdown.splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def test_markdown_shows_hostile_text_inertly(hostile_file: Path) -> None:
    result = playbook(
        "run", hostile_file, "--library", ECHO, *CLOCK, "--format", "markdown", "--explain"
    )
    # Exit 1: the plan reports the refused recipient (see the JSON test).
    assert (result.returncode, result.stderr) == (1, "")
    text = result.stdout
    assert not UNSAFE.search(text)
    prose = _outside_code(text)
    # One step, so one checklist line: a newline in the title forges none.
    assert [line for line in prose if line.lstrip().startswith("- [ ]")] == [
        line for line in prose if line.startswith("- [ ] **Handle x a")
    ]
    assert len([line for line in prose if line.lstrip().startswith("- [ ]")]) == 1
    for line in prose:
        code_free = re.sub(r"(`+).*?\1", "", line)  # inline code is inert
        assert not re.search(r"(?<!\\)\]\(https://evil", code_free), line  # no live link
        assert not re.search(r"(?<!\\)<(script|!channel|https)", code_free), line
        assert not line.startswith("# heading")
    assert "{{ 7\\*7 }}" in text  # shown, never evaluated
    assert "49" not in text


def test_text_shows_hostile_text_inertly(hostile_file: Path) -> None:
    result = playbook(
        "run", hostile_file, "--library", ECHO, *CLOCK, "--format", "text", "--explain", "--color"
    )
    assert (result.returncode, result.stderr) == (1, "")
    # Colour adds SGR sequences of our own; anything else escaping is the incident's.
    own_colours = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    assert not UNSAFE.search(own_colours)
    assert "\\x1b]8;;https://evil\\x07link" in own_colours
    assert "\\u202eevil\\u202c" in own_colours
    assert "{{ 7*7 }}" in own_colours


def test_json_round_trips_hostile_text_and_escapes_it_per_channel(hostile_file: Path) -> None:
    result = playbook(
        "run", hostile_file, "--library", ECHO, *CLOCK, "--format", "json", "--explain"
    )
    assert (result.returncode, result.stderr) == (1, "")
    assert not UNSAFE.search(result.stdout)  # JSON escapes controls
    plan = json.loads(result.stdout)
    assert plan["incident"] == {"id": HOSTILE["id"], "title": HOSTILE_TITLE}
    notes = {n["id"]: n for n in plan["notifications"]}
    for note in notes.values():
        for header in [note["subject"] or "", *note["to"]]:
            assert "\r" not in header and "\n" not in header
            assert not UNSAFE.search(header)
    chat = notes["chat"]["body"]
    assert "<!channel>" not in chat and "<@U123>" not in chat and "<https://evil" not in chat
    assert "&lt;!channel&gt;" in chat and "@\u200dhere" in chat and "@\u200dchannel" in chat
    email = notes["email"]["body"]
    assert "<script>" not in email and "&lt;script&gt;" in email
    # A rendered recipient with header text is refused, never shown as an address.
    assert notes["email"]["to"] == []
    [refused] = [e for e in plan["errors"] if "recipient" in e["message"]]
    assert refused["message"] == (
        "recipient 'evil@example.com Bcc: all@example.com' refused: it is not one e-mail "
        "address (write one address per entry, no names or headers)"
    )
    assert json.loads(notes["hook"]["body"])["title"] == HOSTILE_TITLE
    step = plan["steps"][0]
    assert "\n" not in step["title"] and "{{ 7\\*7 }}" in step["title"]
    assert "\\[click\\](https://evil.example)" in step["title"]


def test_github_annotations_escape_hostile_text(tmp_path: Path) -> None:
    document = tmp_path / "a,b:c%d.yaml"
    document.write_text(
        "apiVersion: playbook-engine/v1\nkind: Playbook\n"
        'metadata: {id: x, "evil\\r\\nkey%0A,::": 1}\nspec: {}\n'
    )
    result = playbook("validate", "--format", "github", document)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines and all(line.startswith("::error file=") for line in lines)
    assert len(lines) == result.stdout.count("\n")  # CR/LF in a message forge no lines
    assert "\r" not in result.stdout
    first = lines[0]
    props, message = first[len("::error ") :].split("::", 1)
    assert "a%2Cb%3Ac%25d.yaml" in props
    assert "%0D%0A" in message and "%250A" in message
