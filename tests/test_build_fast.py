"""The shortcuts that make build, checks and lint fast (issue #6) give the results of the
plain way: spans read straight from a document's positions, a leaf's operator found among
its keys, remembered durations, field paths found fine once, and warnings worked out once
for a condition that several playbooks share."""

from __future__ import annotations

import pickle
import random
import shutil
from dataclasses import fields
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playbook_engine import timeparse
from playbook_engine.check import lint
from playbook_engine.diagnostics import Diagnostic, Span, sorted_diagnostics
from playbook_engine.load.build import _Builder, _leaf, _template
from playbook_engine.load.documents import SourceDoc, load_file, load_text
from playbook_engine.model import OPERATORS, Leaf, Template
from playbook_engine.pipeline import load_library

DATA = Path(__file__).parent / "data"
BASIC = DATA / "libraries" / "basic"
PLAYBOOK_FILES = sorted(
    [*(DATA / "libraries").rglob("*.yaml"), *(DATA.parent.parent / "playbooks").glob("*.yaml")]
)


def _doc(path: Path) -> SourceDoc:
    doc, problems = load_file(path)
    assert doc is not None, problems
    return doc


DOCS = [_doc(path) for path in PLAYBOOK_FILES]


@pytest.fixture()
def library(tmp_path: Path) -> Path:
    root = tmp_path / "lib"
    shutil.copytree(BASIC, root)
    return root


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _found(root: Path, code: str) -> list[Diagnostic]:
    return [d for d in load_library(root).diagnostics if d.code == code]


# --- build: spans and leaves --------------------------------------------------------------


@pytest.mark.parametrize(
    ("made", "names"),
    [
        (Span, ("path", "line", "col")),
        (Template, ("source", "span", "body")),
        (Leaf, ("field", "operator", "value", "span", "name", "ignore_case")),
    ],
)
def test_the_classes_build_makes_by_their_slots_keep_their_fields(
    made: type, names: tuple[str, ...]
) -> None:
    # `_Builder.span`, `_template` and `_leaf` set exactly these slots: a new field, or a
    # __post_init__ that checks or derives something, would be skipped by them.
    assert tuple(f.name for f in fields(made)) == names
    assert not hasattr(made, "__post_init__")
    assert vars(made)["__slots__"] == names


_SPANS = st.builds(Span, st.text(max_size=5), st.integers(0, 9), st.integers(0, 9))


@given(st.text(max_size=5), _SPANS, st.none() | _SPANS)
def test_a_template_made_by_its_slots_is_the_constructors(
    source: str, span: Span, body: Span | None
) -> None:
    made, expected = _template(source, span, body), Template(source, span, body)
    assert (made, hash(made), repr(made)) == (expected, hash(expected), repr(expected))
    assert pickle.loads(pickle.dumps(made)) == expected


@given(
    st.sampled_from(["incident.service", "priority"]),
    st.sampled_from(OPERATORS),
    st.one_of(st.text(max_size=3), st.integers(), st.lists(st.text(max_size=2), max_size=2)),
    _SPANS,
    st.text(max_size=3),
    st.booleans(),
)
def test_a_leaf_made_by_its_slots_is_the_constructors(
    path: str, operator: str, value: object, span: Span, name: str, ignore_case: bool
) -> None:
    made = _leaf(path, operator, value, span, name, ignore_case)
    expected = Leaf(path, operator, value, span, name, ignore_case)
    assert (made, repr(made)) == (expected, repr(expected))
    assert pickle.loads(pickle.dumps(made)) == expected


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_builder_span_is_the_documents_span(data: st.DataObject) -> None:
    doc = data.draw(st.sampled_from(DOCS))
    pointer = data.draw(st.sampled_from(sorted(doc.value_positions)))
    # Pointers without a position of their own fall back to the nearest ancestor's.
    suffix = data.draw(st.sampled_from(["", "/owner", "/0", "/when/all/3", "/x~1y"]))
    made, expected = _Builder(doc).span(pointer + suffix), doc.span(pointer + suffix)
    # Made by its slots (where the pointer has a position): the same value in every way.
    assert (made, hash(made), repr(made), str(made)) == (
        expected,
        hash(expected),
        repr(expected),
        str(expected),
    )
    assert pickle.loads(pickle.dumps(made)) == expected
    assert not made < expected and not expected < made


_EXTRA_KEYS = st.fixed_dictionaries(
    {}, optional={"name": st.sampled_from(["a", "b"]), "ignoreCase": st.booleans()}
)


@settings(max_examples=100, deadline=None)
@given(
    operator=st.sampled_from(OPERATORS),
    extra=_EXTRA_KEYS,
    order=st.randoms(use_true_random=False),
)
def test_a_leaf_gets_its_operator_whatever_the_order_of_its_keys(
    operator: str, extra: dict[str, object], order: random.Random
) -> None:
    keys = ["field: incident.service", f"{operator}: x"]
    keys += [f"{key}: {str(value).lower()}" for key, value in extra.items()]
    order.shuffle(keys)
    doc, problems = load_text("when: {" + ", ".join(keys) + "}\n", "leaf.yaml")
    assert doc is not None, problems
    leaf = _Builder(doc).condition(doc.data["when"], "/when")
    assert leaf == Leaf(
        "incident.service",
        operator,
        "x",
        doc.span("/when"),
        str(extra.get("name", "")),
        bool(extra.get("ignoreCase", False)),
    )


def test_an_expression_condition_keeps_the_span_of_its_text() -> None:
    doc, problems = load_text("when:\n  name: big\n  expr: incident.x > 1\n", "expr.yaml")
    assert doc is not None, problems
    built = _Builder(doc).condition(doc.data["when"], "/when")
    assert (built.span.line, built.span.col) == (3, 9)


# --- timeparse: remembered durations --------------------------------------------------------


@given(st.from_regex(r"[0-9]{1,4}[wdhms]([0-9]{1,3}[dhms]){0,2}", fullmatch=True))
def test_a_remembered_duration_is_the_parsed_one(text: str) -> None:
    try:
        expected: timedelta | str = timeparse._parse_duration(text)
    except ValueError as exc:
        expected = str(exc)
    for _ in range(2):  # the second time from the memo, if it was kept
        try:
            found: timedelta | str = timeparse.parse_duration(text)
        except ValueError as exc:
            found = str(exc)
        assert found == expected


def test_refused_durations_are_refused_every_time() -> None:
    for _ in range(2):
        with pytest.raises(ValueError, match="from largest to smallest"):
            timeparse.parse_duration("5m1h")


def test_the_duration_memo_is_bounded() -> None:
    for seconds in range(1, timeparse._DURATIONS_KEPT + 500):
        assert timeparse.parse_duration(f"{seconds}s") == timedelta(seconds=seconds)
    assert len(timeparse._DURATIONS) <= timeparse._DURATIONS_KEPT


# --- checks: field paths found fine once ----------------------------------------------------


def test_a_field_fine_in_a_step_is_still_refused_in_a_rule(library: Path) -> None:
    # `priority` is known in major.yaml's steps (checked first) but not yet in the next
    # playbook's classification rules.
    _edit(
        library / "payments.yaml",
        "        when: {field: incident.metrics.declineRate, between: [0.2, 1]}",
        "        when: {field: priority, equals: P1}",
    )
    found = [(Path(d.span.path).name, d.span.line, d.message) for d in _found(library, "PB309")]
    assert found == [
        (
            "payments.yaml",
            16,
            "'priority' is not known yet in a classification rule: it is computed after "
            "selection and classification",
        )
    ]


def test_an_undeclared_field_is_reported_wherever_it_is_used(library: Path) -> None:
    _edit(library / "major.yaml", "incident.severity, oneOf", "incident.sevrity, oneOf")
    _edit(library / "major.yaml", "incident.severity, equals", "incident.sevrity, equals")
    found = [(Path(d.span.path).name, d.span.line) for d in _found(library, "PB310")]
    assert found == [("major.yaml", 9), ("major.yaml", 16)]


# --- lint: warnings worked out once ---------------------------------------------------------


def test_a_mistyped_policy_tier_is_one_warning_however_many_playbooks(library: Path) -> None:
    # The policy's tiers are judged once and their warnings repeated for each playbook (three).
    _edit(
        library / "policy.yaml",
        "      - {after: 0m, targets: [sre-primary]}",
        "      - {after: 0m, targets: [sre-primary], when: {field: incident.title, equals: 5}}",
    )
    found = _found(library, "PB503")
    assert [(Path(d.span.path).name, d.span.line) for d in found] == [("policy.yaml", 55)]
    assert found == sorted_diagnostics(found)


def test_a_rule_with_the_same_condition_as_an_earlier_one_is_unreachable(
    library: Path,
) -> None:
    _edit(
        library / "major.yaml",
        "        set: {urgency: critical}\n",
        "        set: {urgency: critical}\n"
        "      - id: again\n"
        "        when: {field: incident.severity, equals: critical, name: other}\n"
        "        set: {urgency: critical}\n"
        "      - id: wrapped\n"
        "        when: {any: [{field: incident.severity, equals: critical}]}\n"
        "        set: {urgency: critical}\n",
    )
    messages = [d.message for d in _found(library, "PB501")]
    # The same leaf (names do not count) is covered; the same leaf inside `any` is another
    # shape, which the shape comparison does not see through.
    assert messages == [
        "rule 'again' can never decide anything: the earlier rule 'critical-urgency' matches "
        "whenever it does and sets the same values"
    ]


_SCALARS = st.one_of(st.text(max_size=3), st.integers(), st.booleans(), st.floats(), st.none())


@given(st.sampled_from(["equals", "oneOf"]), st.lists(_SCALARS, min_size=1, max_size=4))
def test_a_text_field_compared_with_anything_but_text_is_mistyped(
    operator: str, values: list[object]
) -> None:
    value = values if operator == "oneOf" else values[0]
    leaf = Leaf("incident.service", operator, value, Span("p.yaml", 1, 1))
    shown = values if operator == "oneOf" else values[:1]
    problem = lint._mistyped(leaf, "string")
    if all(isinstance(v, str) for v in shown):
        assert problem is None
    else:
        assert problem == (
            f"the field is a string, but '{operator}' compares with "
            + ", ".join(repr(v) for v in shown)
        )
