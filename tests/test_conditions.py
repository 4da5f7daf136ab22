"""Condition leaves as compiled predicates: every operator, types, missing fields, and the
fast paths agreeing with the general rule."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from playbook_engine.compile.conditions import MISSING, ConditionCompiler, resolve
from playbook_engine.diagnostics import Span
from playbook_engine.model import AllOf, AnyOf, Leaf, Not

SPAN = Span("t.yaml", 1, 1)


def holds(op: str, expected: Any, incident: dict[str, Any], ignore_case: bool = False) -> bool:
    leaf = Leaf("incident.x", op, expected, SPAN, ignore_case=ignore_case)
    compiled = ConditionCompiler({}).compile(leaf)
    result = compiled.test({"incident": incident})
    assert compiled.trace({"incident": incident}).result is result  # the two paths agree
    return result


@pytest.mark.parametrize(
    ("op", "expected", "value", "result"),
    [
        ("equals", "a", "a", True),
        ("equals", "a", "A", False),
        ("equals", 1, 1.0, True),
        ("equals", 1, True, False),  # a boolean is not a number here
        ("equals", "1", 1, False),
        ("equals", None, None, True),
        ("oneOf", ["a", "b"], "b", True),
        ("oneOf", ["a", 2], 2, True),
        ("oneOf", ["a", "b"], ["a"], False),
        ("contains", "db", "orders-db", True),
        ("contains", "x", ["x", "y"], True),
        ("contains", "x", 5, False),
        ("matches", "^5\\d\\d$", "502", True),
        ("matches", "err", 500, False),
        ("greaterThan", 100, 101, True),
        ("greaterThan", 100, "101", False),
        ("lessOrEqual", "2026-03-14T02:00:00Z", "2026-03-14T03:00:00+01:00", True),
        ("between", [0.2, 1], 0.2, True),
        ("between", [0.2, 1], 1.5, False),
        ("exists", True, "", True),
        ("exists", True, None, False),
    ],
)
def test_operators(op: str, expected: Any, value: Any, result: bool) -> None:
    assert holds(op, expected, {"x": value}) is result


def test_missing_field_is_false_except_exists_false() -> None:
    for op, expected in [("equals", "a"), ("oneOf", ["a"]), ("greaterThan", 1), ("exists", True)]:
        assert holds(op, expected, {}) is False
    assert holds("exists", False, {}) is True


def test_ignore_case() -> None:
    assert holds("equals", "Payments", {"x": "PAYMENTS"}, ignore_case=True)
    assert holds("oneOf", ["Prod"], {"x": "prod"}, ignore_case=True)
    assert holds("contains", "DB", {"x": "orders-db"}, ignore_case=True)


def test_groups_and_paths() -> None:
    a = Leaf("incident.labels.team", "equals", "db", SPAN)
    b = Leaf("incident.alerts.1.status", "equals", "firing", SPAN)
    incident = {"labels": {"team": "db"}, "alerts": [{}, {"status": "firing"}]}
    compile_ = ConditionCompiler({}).compile
    assert compile_(AllOf((a, b), SPAN)).test({"incident": incident})
    assert not compile_(Not(AnyOf((a, b), SPAN), SPAN)).test({"incident": incident})
    assert compile_(AllOf((), SPAN)).test({}) and not compile_(AnyOf((), SPAN)).test({})
    assert resolve({"incident": incident}, "incident.alerts.7.status") is MISSING


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5)
)


def reference_same(a: Any, b: Any) -> bool:
    def kind(v: Any) -> str:
        return (
            "bool"
            if isinstance(v, bool)
            else "num"
            if isinstance(v, int | float)
            else type(v).__name__
        )

    return kind(a) == kind(b) and a == b


@given(
    expected=st.text(max_size=5),
    options=st.lists(st.text(max_size=5), max_size=4),
    value=json_scalars,
)
def test_fast_text_paths_agree_with_the_general_rule(
    expected: str, options: list[str], value: Any
) -> None:
    assert holds("equals", expected, {"x": value}) is reference_same(value, expected)
    assert holds("oneOf", options, {"x": value}) is any(reference_same(value, o) for o in options)


def test_a_posix_class_is_read_as_a_class(recwarn: pytest.WarningsRecorder) -> None:
    """`[[:alpha:]]` (RE2, grep, Alertmanager) is a class for RE2, which runs `matches`: no
    diagnostic, and no Python warning escapes to the terminal (Python's `re`, which read it
    literally, warned and needed PB409)."""
    from playbook_engine.compile.conditions import ConditionCompiler
    from playbook_engine.diagnostics import Span
    from playbook_engine.model import Leaf

    leaf = Leaf("incident.title", "matches", "^[[:alpha:]]+$", Span("p.yaml", 3, 5), "", False)
    compiler = ConditionCompiler({})
    compiler.check(leaf)
    assert compiler.diagnostics == []
    assert holds("matches", "^[[:alpha:]]+$", {"x": "Checkout"})
    assert not holds("matches", "^[[:alpha:]]+$", {"x": "502"})
    assert not [w for w in recwarn if issubclass(w.category, FutureWarning)]


@pytest.mark.parametrize(
    ("source", "gives"),
    [
        ("'yes'", "the literal 'yes'"),
        ("1 + 1", "a number or text computed by arithmetic"),
        ("incident.title ~ 'x'", "text joined with ~"),
        ("[incident.title]", "a list or mapping"),
        ("incident.title | lower", "the result of the 'lower' filter"),
    ],
)
def test_an_expression_that_is_not_a_condition_is_pb410(source: str, gives: str) -> None:
    from playbook_engine.compile.conditions import ConditionCompiler
    from playbook_engine.diagnostics import Span
    from playbook_engine.model import Expr

    compiler = ConditionCompiler({})
    compiler.check(Expr(source, Span("p.yaml", 3, 5), ""))
    assert [(d.code, d.message) for d in compiler.diagnostics] == [
        ("PB410", f"expression is not a condition: it gives {gives}, not true or false")
    ]


@pytest.mark.parametrize(
    "source", ["incident.customerFacing", "incident.title != ''", "(x | length) > 0", "true"]
)
def test_conditions_and_fields_are_accepted(source: str) -> None:
    from playbook_engine.compile.conditions import ConditionCompiler
    from playbook_engine.diagnostics import Span
    from playbook_engine.model import Expr

    compiler = ConditionCompiler({})
    compiler.check(Expr(source, Span("p.yaml", 3, 5), ""))
    assert compiler.diagnostics == []
