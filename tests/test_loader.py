"""Tests of the safe YAML/JSON loader: data, positions, refusals, limits, hostile input."""

from __future__ import annotations

import inspect
import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from playbook_engine.diagnostics import Diagnostic, Severity, Span, sorted_diagnostics
from playbook_engine.limits import DEFAULT_LIMITS, Limits
from playbook_engine.load.documents import (
    SourceDoc,
    escape_pointer_token,
    load_file,
    load_json_text,
    load_text,
)
from playbook_engine.load.incident import INCIDENT_LIMITS

HOSTILE = Path(__file__).parent / "data" / "hostile-yaml"


def load(text: str | bytes, display: str = "doc.yaml", **kwargs: Any) -> SourceDoc:
    doc, problems = load_text(text, display, **kwargs)
    assert problems == []
    assert doc is not None
    return doc


def refuse(text: str | bytes, display: str = "doc.yaml", **kwargs: Any) -> list[Diagnostic]:
    doc, problems = load_text(text, display, **kwargs)
    assert doc is None
    assert problems
    assert all(d.severity is Severity.ERROR for d in problems)
    return sorted_diagnostics(problems)


def codes_and_lines(problems: list[Diagnostic]) -> list[tuple[str, int]]:
    return [(d.code, d.span.line) for d in problems]


# --- data and positions -----------------------------------------------------------------

PLAYBOOK = """\
apiVersion: playbook-engine/v1
kind: Playbook
metadata:
  id: database-failure
  tags: [database, data]
spec:
  steps:
    - id: page-dba
      title: Page the DBA
      details: |
        Open the dashboard.
        Confirm replication lag.
      when: {field: priority, oneOf: [P1, P2]}
    - id: failover
      title: >-
        Decide on
        failover
      note: "two
        lines"
"""


def test_nested_positions_of_values() -> None:
    doc = load(PLAYBOOK)
    steps = doc.data["spec"]["steps"]
    assert steps[0]["details"] == "Open the dashboard.\nConfirm replication lag.\n"
    assert steps[1]["title"] == "Decide on failover"
    assert steps[1]["note"] == "two lines"
    assert doc.value_positions == {
        "": (1, 1),
        "/apiVersion": (1, 13),
        "/kind": (2, 7),
        "/metadata": (4, 3),
        "/metadata/id": (4, 7),
        "/metadata/tags": (5, 9),
        "/metadata/tags/0": (5, 10),
        "/metadata/tags/1": (5, 20),
        "/spec": (7, 3),
        "/spec/steps": (8, 5),
        "/spec/steps/0": (8, 7),
        "/spec/steps/0/id": (8, 11),
        "/spec/steps/0/title": (9, 14),
        "/spec/steps/0/details": (10, 16),  # the `|` indicator
        "/spec/steps/0/when": (13, 13),
        "/spec/steps/0/when/field": (13, 21),
        "/spec/steps/0/when/oneOf": (13, 38),
        "/spec/steps/0/when/oneOf/0": (13, 39),
        "/spec/steps/0/when/oneOf/1": (13, 43),
        "/spec/steps/1": (14, 7),
        "/spec/steps/1/id": (14, 11),
        "/spec/steps/1/title": (15, 14),
        "/spec/steps/1/note": (18, 13),
    }


def test_positions_of_keys() -> None:
    doc = load(PLAYBOOK)
    assert doc.key_positions["/metadata"] == (3, 1)
    assert doc.key_positions["/metadata/tags"] == (5, 3)
    assert doc.key_positions["/spec/steps/0/when"] == (13, 7)
    assert doc.key_positions["/spec/steps/0/when/oneOf"] == (13, 31)
    assert doc.key_positions["/spec/steps/1/note"] == (18, 7)
    assert "/spec/steps/0" not in doc.key_positions  # list items have no key
    assert doc.key_span("/spec/steps/0/when/oneOf") == Span("doc.yaml", 13, 31)
    assert doc.key_span("/spec/steps/0") == Span("doc.yaml", 8, 7)


def test_span_falls_back_to_the_nearest_known_ancestor() -> None:
    doc = load(PLAYBOOK)
    assert doc.span("/spec/steps/1/dependsOn/0") == Span("doc.yaml", 14, 7)
    assert doc.span("/nothing") == Span("doc.yaml", 1, 1)


def test_pointer_tokens_escape_tilde_and_slash() -> None:
    doc = load('"a/b": {"c~d": 1, "~1": 2}\n')
    assert doc.data == {"a/b": {"c~d": 1, "~1": 2}}
    assert doc.value_positions["/a~1b/c~0d"] == (1, 16)
    assert doc.value_positions["/a~1b/~01"] == (1, 25)
    assert doc.key_positions["/a~1b"] == (1, 1)
    assert escape_pointer_token("~/x") == "~0~1x"


def test_flow_style_json_positions() -> None:
    text = '{"id": "INC-1",\n "labels": {"team": "payments"},\n "list": [1, 2.5, null, true]}'
    doc = load(text, "incident.json")
    assert doc.data == {
        "id": "INC-1",
        "labels": {"team": "payments"},
        "list": [1, 2.5, None, True],
    }
    assert doc.value_positions["/labels/team"] == (2, 21)
    assert doc.value_positions["/list/3"] == (3, 25)
    assert doc.key_positions["/labels"] == (2, 2)


def test_columns_count_characters_not_bytes() -> None:
    doc = load("é€😀: x\nb: [😀, y]\n")
    assert doc.key_positions["/é€😀"] == (1, 1)
    assert doc.value_positions["/é€😀"] == (1, 6)
    assert doc.value_positions["/b/1"] == (2, 8)


def test_bom_and_crlf_do_not_move_positions() -> None:
    doc = load(b"\xef\xbb\xbfa: 1\r\nb:\r\n  - x\r\n")
    assert doc.data == {"a": 1, "b": ["x"]}
    assert doc.value_positions["/a"] == (1, 4)
    assert doc.value_positions["/b/0"] == (3, 5)
    assert load("\ufeffa: 1").value_positions["/a"] == (1, 4)


def test_alias_points_at_itself_and_its_content_at_the_anchor() -> None:
    doc = load("base: &b {owner: dba, links: [x]}\ncopy: *b\n")
    assert doc.data["copy"] == {"owner": "dba", "links": ["x"]}
    assert doc.data["copy"] is not doc.data["base"]  # changing one must not change the other
    check_source_map(doc)
    assert doc.value_positions["/copy"] == (2, 7)
    assert doc.value_positions["/copy/owner"] == (1, 18)
    assert doc.value_positions["/copy/links/0"] == (1, 31)
    assert doc.key_positions["/copy/links"] == (1, 23)


def test_empty_values_point_after_their_key() -> None:
    doc = load("a:\nb:\n  -\n  - x\n")
    assert doc.data == {"a": None, "b": [None, "x"]}
    assert doc.value_positions["/a"] == (1, 3)
    assert doc.value_positions["/b/0"] == (3, 4)


def test_surrogate_pair_escapes_load_as_in_json() -> None:
    # json.dumps writes characters above U+FFFF as two escapes; libyaml alone refuses them.
    text = json.dumps({"title": "fire 🔥 in 🏭", "n": 1})
    doc = load(text)
    assert doc.data == {"title": "fire 🔥 in 🏭", "n": 1}
    assert doc.value_positions["/n"] == (1, text.index("1}") + 1)
    assert doc.key_positions["/n"] == (1, text.index('"n"') + 1)


def test_surrogate_pair_escape_outside_double_quotes_stays_text() -> None:
    doc = load("a: '\\ud83d\\ude00'\nb: \\ud83d\\ude00 x\nc: \"\\\\ud83d\\\\ude00\"\n")
    assert doc.data == {"a": "\\ud83d\\ude00", "b": "\\ud83d\\ude00 x", "c": "\\ud83d\\ude00"}


# --- scalars: our rules, not YAML 1.1 ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("yes", "yes"),
        ("No", "No"),
        ("ON", "ON"),
        ("off", "off"),
        ("y", "y"),
        ("n", "n"),
        ("true", True),
        ("True", True),
        ("FALSE", False),
        ("null", None),
        ("~", None),
        ("", None),
        ("NULL", None),
        ("0", 0),
        ("-17", -17),
        ("+3", 3),
        ("012", 12),
        ("0o17", 15),
        ("0x1F", 31),
        ("1_000", "1_000"),
        ("9:30", "9:30"),
        ("190:20:30", "190:20:30"),
        ("2026-03-14", "2026-03-14"),
        ("2026-03-14T02:17:00Z", "2026-03-14T02:17:00Z"),
        ("1.5", 1.5),
        ("-.5", -0.5),
        ("1e3", 1000.0),
        ("1.", 1.0),
        ("15m", "15m"),
        ("0b101", "0b101"),
        ("-0o7", "-0o7"),
        ("NaN", "NaN"),
        ("=", "="),
        ("'yes'", "yes"),
        ('"1"', "1"),
        ("!!str 12", "12"),
        ("! 12", "12"),
        ("!!int '7'", 7),
        ("!!float 1", 1.0),
        ("!!bool true", True),
        ("!!null ''", None),
        ("|\n  text\n", "text\n"),
    ],
)
def test_scalar_resolution(text: str, value: Any) -> None:
    data = load(f"v: {text}\n").data["v"]
    assert data == value
    assert type(data) is type(value)


def test_yaml_1_1_surprises_keep_their_text() -> None:
    text = "country: NO\nenabled: on\nstart: 9:30\nday: 2026-03-14\nversion: 1_0\n"
    assert load(text).data == {
        "country": "NO",
        "enabled": "on",
        "start": "9:30",
        "day": "2026-03-14",
        "version": "1_0",
    }


# --- refusals, each with its code and line ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "code", "line"),
    [
        ("a: 1\nb: [\n", "PB101", 3),
        ("a: *nowhere\n", "PB101", 1),
        ("a: 1\nb: 2\na: 3\n", "PB102", 3),
        ("a: !!python/object:os.system x\n", "PB103", 1),
        ("a:\n  b: !custom x\n", "PB103", 2),
        ("a: !!binary aGk=\n", "PB103", 1),
        ("a: !!set {x}\n", "PB103", 1),
        ("a: !!omap [{x: 1}]\n", "PB103", 1),
        ("a: !!timestamp 2026-03-14\n", "PB103", 1),
        ("a: !!str {x: 1}\n", "PB103", 1),
        ("a: !!map x\n", "PB103", 1),
        ("a: !!bool yes\n", "PB103", 1),
        ("b: &b {x: 1}\nc:\n  <<: *b\n", "PB103", 3),
        ("a: &a [*a]\n", "PB104", 1),
        ("a: 1\n---\nb: 2\n", "PB108", 2),
        ("a: .nan\n", "PB109", 1),
        ("a:\n  - .inf\n", "PB109", 2),
        ("a: 1e999\n", "PB109", 1),
        ("a: " + "1" * 5000 + "\n", "PB109", 1),
        ("a: 0x" + "f" * 4000 + "\n", "PB109", 1),
        ("a: !!float 1" + "0" * 400 + "\n", "PB109", 1),
        ("a:\n  1: x\n", "PB109", 2),
        ("a:\n  1.0: x\n", "PB109", 2),
        ("false: x\n", "PB109", 1),
        ("null: x\n", "PB109", 1),
        ("? [a]\n: x\n", "PB109", 1),
        ("", "PB110", 1),
        ("# only a comment\n", "PB110", 1),
        ("---\n", "PB110", 1),
    ],
)
def test_refusal_code_and_line(text: str, code: str, line: int) -> None:
    assert codes_and_lines(refuse(text)) == [(code, line)]


def test_duplicate_key_message_names_the_first_line() -> None:
    (problem,) = refuse("labels:\n  team: a\n  other: b\n  'team': c\n")
    assert problem == Diagnostic(
        "PB102",
        Severity.ERROR,
        "duplicate key 'team' (first written on line 2)",
        Span("doc.yaml", 4, 3),
        "remove one of them; YAML would silently keep only the last",
    )


def test_duplicate_keys_compare_resolved_strings() -> None:
    assert codes_and_lines(refuse('yes: 1\n"yes": 2\n')) == [("PB102", 2)]
    assert codes_and_lines(refuse("a: {x: 1, 'x': 2}\n")) == [("PB102", 1)]
    assert load("a: {x: 1}\nb: {x: 2}\n").data == {"a": {"x": 1}, "b": {"x": 2}}


def test_non_string_key_hint_says_to_quote() -> None:
    (problem,) = refuse("matrix:\n  1: P1\n")
    assert problem.message == "mapping key is a number; JSON keys are strings"
    assert problem.hint == 'quote it if you mean the text: "1"'


def test_nan_hint_says_to_quote() -> None:
    (problem,) = refuse("a: .NaN\n")
    assert problem.message == ".NaN is not a JSON number"
    assert problem.hint == 'quote it if you mean the text: ".NaN"'


def test_several_problems_are_collected() -> None:
    text = "a: 1\na: 2\nb: !foo x\nc: .inf\n1: x\n"
    assert codes_and_lines(refuse(text)) == [
        ("PB102", 2),
        ("PB103", 3),
        ("PB109", 4),
        ("PB109", 5),
    ]


def test_problems_before_a_fatal_one_are_kept() -> None:
    assert codes_and_lines(refuse("a: 1\na: 2\nb: [\n")) == [("PB102", 2), ("PB101", 4)]


def test_syntax_error_reports_parser_position_and_problem() -> None:
    (problem,) = refuse('kind: Playbook\nmetadata:\n  title: "unclosed\n  id: db\n')
    assert problem.code == "PB101"
    assert problem.span == Span("doc.yaml", 5, 1)
    assert problem.message == (
        "YAML syntax error: found unexpected end of stream"
        " (while scanning a quoted scalar on line 3)"
    )


def test_control_character_is_a_syntax_error_at_its_position() -> None:
    (problem,) = refuse("a: é\nb: x\x00y\n".encode())
    assert (problem.code, problem.span) == ("PB101", Span("doc.yaml", 2, 5))


def test_not_utf8_reports_offset_and_line() -> None:
    (problem,) = refuse(b"a: 1\nb: caf\xe9\n")
    assert problem.code == "PB107"
    assert problem.span == Span("doc.yaml", 2, 7)
    assert problem.message == "not valid UTF-8: byte 0xe9 at offset 11"


def test_utf16_is_refused() -> None:
    assert codes_and_lines(refuse("a: 1\n".encode("utf-16"))) == [("PB107", 1)]


def test_lone_surrogate_in_text_is_refused() -> None:
    assert codes_and_lines(refuse("a: 1\nb: \udc80\n")) == [("PB107", 2)]


# --- JSON -------------------------------------------------------------------------------


def test_json_content_loads_under_any_name() -> None:
    text = '{"id": "INC-1", "n": 1e3, "yes": "no", "nested": [{"a": null}]}'
    expected = {"id": "INC-1", "n": 1000.0, "yes": "no", "nested": [{"a": None}]}
    assert load(text, "incident.yaml").data == expected
    assert load(text, "incident.json").data == expected
    assert load(text, "<stdin>").data == json.loads(text)


@pytest.mark.parametrize(
    ("text", "code", "line"),
    [
        ('{\n  "a": NaN\n}', "PB109", 2),
        ('{"a": Infinity}', "PB109", 1),
        ("[-Infinity]", "PB109", 1),
        ('{"a": 1,\n "a": 2}', "PB102", 2),
        ("{'a': 1}", "PB101", 1),
        ('{"a": yes}', "PB101", 1),
        ('{"a": 0x1F}', "PB101", 1),
        ("a: 1\n", "PB101", 1),
        ('{"a": &x 1, "b": *x}', "PB101", 1),
        ('{"a": !!str 1}', "PB101", 1),
        ('{"a": 1}\n{"b": 2}', "PB101", 2),
        ('{"a": 1, # a comment\n "b": 2}', "PB101", 1),
        ('{"a": 1,\n "b": [1, 2,]}', "PB101", 2),
        ('{"a": 1,}', "PB101", 1),
        ('{"a": 1,, "b": 2}', "PB101", 1),
    ],
)
def test_strict_json_refusals(text: str, code: str, line: int) -> None:
    assert codes_and_lines(refuse(text, "x.json")) == [(code, line)]


@pytest.mark.parametrize("display", ["x.json", "x.yaml"])
def test_keys_longer_than_1024_characters_are_refused(display: str) -> None:
    # A YAML rule (libyaml enforces it, also for JSON); the message must say so.
    longest = "k" * 1022
    assert load(f'{{"{longest}": 1}}', display).data == {longest: 1}
    (problem,) = refuse(f'{{"{longest}k": 1}}', display)
    assert problem.code == "PB101"
    assert "a key may be at most 1024 characters long" in problem.message + problem.hint


def test_what_only_a_json_parser_sees_is_reported_where_it_is() -> None:
    (problem,) = refuse('{"a": 1,\n "b": 2,\n}', "x.json")
    assert (problem.span.line, problem.span.col) == (3, 1)
    assert problem.message == "not JSON: Expecting property name enclosed in double quotes"
    assert problem.hint.startswith("JSON has no comments and no trailing commas")
    assert load('{"a": 1, # fine in YAML\n "b": 2,}', "x.yaml").data == {"a": 1, "b": 2}


def test_json_only_can_be_asked_for_by_the_caller() -> None:
    assert codes_and_lines(refuse("{a: 1}", "<stdin>", json_only=True)) == [("PB101", 1)]
    assert load('{"a": 1}', "x.json", json_only=False).data == {"a": 1}


# --- files ------------------------------------------------------------------------------


def test_load_file_reads_and_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "playbook.yaml"
    path.write_text(PLAYBOOK, encoding="utf-8")
    doc, problems = load_file(path, "lib/playbook.yaml")
    assert problems == []
    assert doc is not None
    assert doc.path == "lib/playbook.yaml"
    assert doc.span("/kind") == Span("lib/playbook.yaml", 2, 7)
    doc, _ = load_file(path)
    assert doc is not None and doc.path == str(path)


def test_load_file_json_suffix_is_strict(tmp_path: Path) -> None:
    path = tmp_path / "incident.JSON"
    path.write_text("{'a': 1}", encoding="utf-8")
    _, problems = load_file(path)
    assert codes_and_lines(problems) == [("PB101", 1)]


def test_missing_file_and_directory_are_diagnostics(tmp_path: Path) -> None:
    doc, problems = load_file(tmp_path / "nope.yaml", "nope.yaml")
    assert doc is None
    assert [(d.code, d.span, d.message) for d in problems] == [
        ("PB111", Span("nope.yaml"), "cannot read file: No such file or directory")
    ]
    doc, problems = load_file(tmp_path, "lib")
    assert doc is None
    assert [(d.code, d.message) for d in problems] == [("PB111", "is a directory, not a document")]


def test_file_too_large(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a: " + b"x" * (DEFAULT_LIMITS.max_file_bytes - 2))
    assert codes_and_lines(load_file(path)[1]) == [("PB106", 0)]
    path.write_bytes(b"a: 1\n" + b"#" * (DEFAULT_LIMITS.max_file_bytes - 5))
    assert load_file(path)[1] == []


def test_text_too_large_counts_bytes() -> None:
    small = Limits(max_file_bytes=11)
    assert load("a: éééé", limits=small).data == {"a": "éééé"}  # 7 characters, 11 bytes
    assert codes_and_lines(refuse("a: ééééé", limits=small)) == [("PB106", 0)]
    assert codes_and_lines(refuse("a: éééé".encode(), limits=Limits(max_file_bytes=10))) == [
        ("PB106", 0)
    ]
    assert codes_and_lines(refuse("a: 123456789", limits=small)) == [("PB106", 0)]


def test_scalar_too_long() -> None:
    limits = Limits(max_scalar_chars=5)
    assert load("abcde: fghij", limits=limits).data == {"abcde": "fghij"}
    assert codes_and_lines(refuse("a:\n  b: abcdef\n", limits=limits)) == [("PB112", 2)]
    assert codes_and_lines(refuse("abcdef: x\n", limits=limits)) == [("PB112", 1)]
    text = "a: " + "x" * (DEFAULT_LIMITS.max_scalar_chars + 1)
    assert codes_and_lines(refuse(text)) == [("PB112", 1)]


# --- limits against hostile input -------------------------------------------------------


def elapsed(text: str | bytes, **kwargs: Any) -> tuple[float, list[Diagnostic]]:
    start = time.perf_counter()
    _, problems = load_text(text, "doc.yaml", **kwargs)
    return time.perf_counter() - start, problems


def billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 9):
        name, previous = chr(97 + level), chr(96 + level)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_answers_quickly() -> None:
    seconds, problems = elapsed(billion_laughs())
    assert codes_and_lines(problems) == [("PB104", 5)]
    assert seconds < 0.5


def test_100k_nested_flow_sequences_answer_quickly() -> None:
    # Parsing all of this takes libyaml ~16 s and composing it kills the interpreter.
    seconds, problems = elapsed("[" * 100_000 + "]" * 100_000)
    # Our check stops at level 65; libyaml >= 0.2.6 may refuse on its own first, at 1,001.
    assert [(d.code, d.span.line) for d in problems] == [("PB105", 1)]
    assert problems[0].span.col in (65, 1001)
    assert seconds < 0.5


def test_100k_nested_flow_mappings_answer_quickly() -> None:
    seconds, problems = elapsed("{a: " * 100_000)
    assert codes_and_lines(problems) == [("PB105", 1)]
    assert seconds < 0.5


def test_depth_limit_is_exact() -> None:
    limits = Limits(max_depth=3)
    assert load("[[[1]]]", limits=limits).data == [[[1]]]
    assert codes_and_lines(refuse("[[[[1]]]]", limits=limits)) == [("PB105", 1)]
    assert codes_and_lines(refuse("a: &a [[1]]\nb: [*a]\n", limits=limits)) == [("PB105", 2)]


def test_deep_nesting_within_raised_limits_does_not_recurse() -> None:
    depth = 900  # libyaml >= 0.2.6 refuses 1,000 levels by itself
    nested = "[" * depth + "]" * depth
    recursion_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 200)  # far below what recursion would need
    try:
        doc = load(f"a: &a {nested}\nb: *a\n", limits=Limits(max_depth=depth + 1))
    finally:
        sys.setrecursionlimit(recursion_limit)
    a, b = doc.data["a"], doc.data["b"]
    for _ in range(depth - 1):  # `==` would recurse
        assert a is not b and len(a) == len(b) == 1
        a, b = a[0], b[0]
    assert a == b == []
    assert doc.value_positions["/b" + "/0" * (depth - 1)] == (1, 7 + depth - 1)


def test_node_limit_counts_alias_expansion() -> None:
    limits = Limits(max_nodes=11)  # a mapping, 2 keys, a sequence, 3 items, and 4 again
    assert load("a: &a [1, 2, 3]\nb: *a\n", limits=limits).data["b"] == [1, 2, 3]
    assert codes_and_lines(refuse("a: &a [1, 2, 3]\nb: *a\nc: *a\n", limits=limits)) == [
        ("PB104", 3)
    ]


def test_alias_count_limit() -> None:
    limits = Limits(max_aliases=2)
    assert load("a: &a 1\nb: [*a, *a]\n", limits=limits).data == {"a": 1, "b": [1, 1]}
    assert codes_and_lines(refuse("a: &a 1\nb: [*a, *a,\n *a]\n", limits=limits)) == [("PB104", 3)]


EXPECTED = json.loads((HOSTILE / "expected.json").read_text(encoding="utf-8"))


def test_hostile_corpus_is_complete() -> None:
    files = {p.name for p in HOSTILE.iterdir() if p.name != "expected.json"}
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_corpus(name: str) -> None:
    doc, problems = load_file(HOSTILE / name, name)
    assert doc is None
    assert [[d.code, d.span.line] for d in sorted_diagnostics(problems)] == EXPECTED[name]
    assert all(d.span.path == name and d.hint for d in problems if d.code != "PB101")


# --- properties -------------------------------------------------------------------------

YAML_ALPHABET = "[]{}:,-?&*!|>'\"#%@`~.\\ \t\r\n\x00\x85\ufeffabcxyz019eE+_/é😀"


def pointers(data: Any, base: str = "") -> tuple[set[str], set[str]]:
    """Every value pointer and every mapping-member pointer in `data`."""
    values, keys = {base}, set[str]()
    if isinstance(data, dict):
        items: Any = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return values, keys
    for name, item in items:
        pointer = f"{base}/{escape_pointer_token(str(name))}"
        if isinstance(data, dict):
            keys.add(pointer)
        more_values, more_keys = pointers(item, pointer)
        values |= more_values
        keys |= more_keys
    return values, keys


def check_source_map(doc: SourceDoc) -> None:
    values, keys = pointers(doc.data)
    assert set(doc.value_positions) == values
    assert set(doc.key_positions) == keys
    assert all(line >= 1 and col >= 1 for line, col in doc.value_positions.values())


def check_outcome(doc: SourceDoc | None, problems: list[Diagnostic]) -> None:
    if doc is None:
        assert problems and all(d.is_error and d.code.startswith("PB1") for d in problems)
    else:
        assert problems == []
        json.dumps(doc.data, allow_nan=False)  # plain JSON data, always
        check_source_map(doc)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=YAML_ALPHABET, max_size=80) | st.text(max_size=80))
def test_arbitrary_text_never_raises(text: str) -> None:
    check_outcome(*load_text(text, "doc.yaml"))
    check_outcome(*load_text(text, "doc.json"))


@settings(max_examples=200)
@given(st.binary(max_size=80))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    check_outcome(*load_text(data, "doc.yaml"))


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
JSON_DATA = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


def strings_in(data: Any) -> list[str]:
    if isinstance(data, dict):
        return [*data, *(s for value in data.values() for s in strings_in(value))]
    if isinstance(data, list):
        return [s for value in data for s in strings_in(value)]
    return [data] if isinstance(data, str) else []


def keys_in(data: Any) -> list[str]:
    if isinstance(data, dict):
        return [*data, *(key for value in data.values() for key in keys_in(value))]
    if isinstance(data, list):
        return [key for value in data for key in keys_in(value)]
    return []


def read_differently(text: str) -> bool:
    """True for text YAML 1.1 (the dumper) reads as text but YAML 1.2 as a number."""
    doc, _ = load_text(f"v: {text}", "probe.yaml")
    if doc is None or not isinstance(doc.data.get("v"), float | int):
        return False
    try:
        return isinstance(yaml.safe_load(f"v: {text}")["v"], str)
    except yaml.YAMLError:  # "0\t" bare is refused by PyYAML, so its dumper quotes it
        return False


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(JSON_DATA)
def test_safe_dump_round_trips(data: Any) -> None:
    text = yaml.safe_dump(data)
    assume(not any(read_differently(s) for s in strings_in(data)))
    doc = load(text)
    assert doc.data == data
    assert json.dumps(doc.data, sort_keys=True) == json.dumps(data, sort_keys=True)
    check_source_map(doc)


@settings(max_examples=100)
@given(JSON_DATA)
def test_json_dumps_round_trips(data: Any) -> None:
    text = json.dumps(data)
    assume(all(len(json.dumps(key)) <= 1024 for key in keys_in(data)))
    assert load(text, "doc.json").data == data
    assert load(text, "doc.yaml").data == data


@pytest.mark.parametrize(("text", "number"), [("1e5", 100000.0), ("0o17", 15), ("-.5", -0.5)])
def test_safe_dump_leaves_yaml_1_2_numbers_unquoted(text: str, number: float) -> None:
    # Known: PyYAML writes YAML 1.1, where these are text, so it does not quote them; we read
    # YAML 1.2 (and JSON), where they are numbers. Writers must quote such strings.
    dumped = yaml.safe_dump({"v": text})
    assert dumped == f"v: {text}\n"
    assert load(dumped).data == {"v": number}
    assert read_differently(text)


@pytest.mark.parametrize(
    ("raw", "name", "line", "col"),
    [(b'a: "x\x00y"\n', "U+0000 (NUL)", 1, 6), (b"b: 1\nc: x\x1by\n", "U+001B (ESC)", 2, 5)],
)
def test_a_control_character_is_named_with_its_column(
    raw: bytes, name: str, line: int, col: int
) -> None:
    doc, problems = load_text(raw, "c.yaml")
    assert doc is None
    [problem] = problems
    assert problem.message == f"YAML syntax error: control character {name} is not allowed"
    assert (problem.span.line, problem.span.col) == (line, col)


# --- load_json_text: Python's JSON parser first, the full reading when asked ---------------


def _shape(value: Any) -> Any:
    """`value` with each scalar's type beside it (1 and 1.0 and True differ)."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return (type(value).__name__, value)


def _same_as_full_reading(text: str | bytes) -> None:
    fast, fast_problems = load_json_text(text, "in.jsonl:3", INCIDENT_LIMITS)
    full, full_problems = load_text(text, "in.jsonl:3", INCIDENT_LIMITS, json_only=True)
    assert fast_problems == full_problems
    assert (fast is None) == (full is None)
    if fast is not None and full is not None:
        assert _shape(fast.data) == _shape(full.data)
        assert dict(fast.value_positions) == dict(full.value_positions)
        assert dict(fast.key_positions) == dict(full.key_positions)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    JSON_DATA,
    st.sampled_from([None, 0, 2]),
    st.booleans(),
    st.sampled_from([(", ", ": "), (",", ":"), (" ,\t", "\t:  ")]),
)
def test_json_records_read_fast_are_read_as_the_full_reading_reads_them(
    data: Any, indent: int | None, ascii_only: bool, separators: tuple[str, str]
) -> None:
    text = json.dumps(data, indent=indent, ensure_ascii=ascii_only, separators=separators)
    _same_as_full_reading(text)
    _same_as_full_reading(text.encode())


@pytest.mark.parametrize(
    "text",
    [
        '{"a": NaN}',
        '{"a": Infinity}',
        '{"a": -Infinity}',
        '{"a": 1e400}',
        '{"a": -1e400}',
        '{"a": 1e-400}',
        '{"a": -0, "b": -0.0, "c": 1E5, "d": 0.5e+3}',
        '{"a": 1, "a": 2}',
        '{"a": "\\ud800"}',
        '{"a": "\\uD83D\\uDE00"}',
        '{"a": "\\ud83d"}',
        '{"a": ' + "9" * 5000 + "}",
        '{"a": ' + "1" * 4300 + "}",
        '{"a": 1,}',
        '{"a": 1} // note',
        '{"a": 1}\n{"b": 2}',
        '"just text"',
        "17",
        "null",
        "[]",
        "",
        "   ",
        '\ufeff{"a": 1}',
        '{"a": "' + "x" * 100_001 + '"}',
        '{"' + "k" * 1025 + '": 1}',
        '{"' + "k" * 1000 + '": 1}',
        "[" * 70 + "]" * 70,
        "[" * 62 + "]" * 62,
        '{"a": [' + ",".join(["1"] * 30_000) + "]}",
        '{"a": "tab\there"}',
        '{"a":\t1}',
        "{'a': 1}",
        '{"a": true, "b": false, "c": null, "d": "\\u00e9\\n"}',
        '{"a": "\x85 \u2028 \u202e"}',
    ],
)
def test_edge_records_are_read_as_the_full_reading_reads_them(text: str) -> None:
    _same_as_full_reading(text)
