"""Conditions compiled to plain Python predicates, each able to explain itself.

A compiled condition has two ways to run that share the same leaf tests, so they cannot
disagree: `test(context)` for speed, and `trace(context)` for `--explain`.
The context is a mapping with the roots `incident` and, after classification, `priority`,
`impact` and `urgency`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from playbook_engine import calendars as calendar_math
from playbook_engine import sandbox
from playbook_engine.check.regexes import compile_linear
from playbook_engine.diagnostics import Diagnostic, error
from playbook_engine.limits import DEFAULT_LIMITS
from playbook_engine.model import AllOf, AnyOf, Calendar, Condition, Expr, Leaf, Not, leaves
from playbook_engine.sandbox import TemplateError, not_a_condition, private_lookups
from playbook_engine.timeparse import parse_duration, parse_timestamp

if TYPE_CHECKING:  # validation never explains: the plan's classes load on the first trace
    from playbook_engine.plan import ConditionTrace

MISSING: Any = object()
_FAILURES: ContextVar[dict[str, str] | None] = ContextVar("expression_failures", default=None)


@contextmanager
def expression_failures() -> Iterator[dict[str, str]]:
    """Collect, while inside, the `expr` conditions that failed to evaluate: location → error.

    A failing expression counts as false (the incident lacks what it reads, say); the engine
    reports it in the plan rather than letting it pass unseen.
    """
    failures: dict[str, str] = {}
    token = _FAILURES.set(failures)
    try:
        yield failures
    finally:
        _FAILURES.reset(token)


Context = Mapping[str, Any]


def _trace(*args: Any, **kwargs: Any) -> ConditionTrace:
    """A `plan.ConditionTrace`, its module imported on first use (creating the plan's
    dataclasses is slow at import, and `playbook validate` never explains)."""
    from playbook_engine.plan import ConditionTrace

    return ConditionTrace(*args, **kwargs)


def resolve(context: Context, path: str) -> Any:
    """The value at a dotted path (digits index lists), or MISSING."""
    return _resolver(path)(context)


@lru_cache(maxsize=4096)
def _resolver(path: str) -> Callable[[Context], Any]:
    """A function from a context to the value at `path` (split once, here; libraries test
    the same few fields in many conditions, and the function holds no state)."""
    parts = tuple(path.split("."))

    def get(context: Context) -> Any:
        value: Any = context
        for part in parts:
            if isinstance(value, dict | Mapping):
                value = value.get(part, MISSING)
                if value is MISSING:
                    return MISSING
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                return MISSING
        return value

    return get


def _minutes(text: str) -> float | None:
    """A duration (`1h30m`) in minutes, or None."""
    try:
        return parse_duration(text).total_seconds() / 60
    except ValueError:
        return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


# A leaf test returns (result, note); the note explains a false result that is not obvious.
LeafTest = Callable[[Any], tuple[bool, str]]


@dataclass(frozen=True, slots=True)
class CompiledCondition:
    """A condition ready to evaluate: `test` is fast, `trace` explains."""

    test: Callable[[Context], bool]
    trace: Callable[[Context], ConditionTrace]


class ConditionCompiler:
    """Compiles conditions of one library, collecting diagnostics."""

    def __init__(self, calendars: Mapping[str, Calendar]) -> None:
        self.calendars = calendars
        self.diagnostics: list[Diagnostic] = []

    def compile(self, condition: Condition) -> CompiledCondition:
        """Compile one condition tree."""
        if isinstance(condition, AllOf | AnyOf):
            return self._group(condition)
        if isinstance(condition, Not):
            inner = self.compile(condition.condition)

            def trace_not(ctx: Context) -> ConditionTrace:
                child = inner.trace(ctx)
                return _trace("not", not child.result, children=(child,))

            return CompiledCondition(lambda ctx: not inner.test(ctx), trace_not)
        if isinstance(condition, Expr):
            return self._expr(condition)
        return self._leaf(condition)

    def check(self, condition: Condition) -> None:
        """Collect the diagnostics `compile` would, without making the predicates (validation
        needs only those; a run compiles what its incident reaches)."""
        for leaf in leaves(condition):
            if isinstance(leaf, Expr):
                self._expr(leaf)
            else:
                self._leaf_test(leaf)

    def _group(self, condition: AllOf | AnyOf) -> CompiledCondition:
        parts = tuple(self.compile(c) for c in condition.conditions)
        tests = tuple(p.test for p in parts)
        combine = all if isinstance(condition, AllOf) else any
        kind = "all" if isinstance(condition, AllOf) else "any"

        def test(ctx: Context) -> bool:
            return combine(t(ctx) for t in tests)

        def trace(ctx: Context) -> ConditionTrace:
            children = tuple(p.trace(ctx) for p in parts)
            return _trace(kind, combine(c.result for c in children), children=children)

        return CompiledCondition(test, trace)

    def _expr(self, condition: Expr) -> CompiledCondition:
        location = str(condition.span)
        try:
            compiled = sandbox.compile_expression(condition.source)
        except TemplateError as exc:
            self.diagnostics.append(
                error("PB402", f"expression does not compile: {exc}", condition.span)
            )
            return CompiledCondition(
                lambda ctx: False,
                lambda ctx: _trace("expr", False, condition.name, note="does not compile"),
            )
        gives = not_a_condition(condition.source)
        if gives is not None:
            self.diagnostics.append(
                error(
                    "PB410",
                    f"expression is not a condition: it gives {gives}, not true or false",
                    condition.span,
                    hint="compare it: `incident.title != ''`, `incident.title is defined`, "
                    "`(incident.labels | length) > 0`",
                )
            )
        for name in sorted(private_lookups(condition.source, expression=True)):
            self.diagnostics.append(
                error(
                    "PB405",
                    f"expression looks up '{name}': names starting with '_' are refused",
                    condition.span,
                )
            )

        def run(ctx: Context) -> tuple[bool, str]:
            try:
                return bool(sandbox.evaluate_expression(compiled, dict(ctx))), ""
            except TemplateError as exc:
                return False, f"error: {exc}"

        def test(ctx: Context) -> bool:
            # Only this path reports a failure: --explain's trace evaluates branches that
            # `all`/`any` would skip, and must not change the plan's errors or exit code.
            result, note = run(ctx)
            failures = _FAILURES.get()
            if note and failures is not None:
                failures[location] = note.removeprefix("error: ")
            return result

        def trace(ctx: Context) -> ConditionTrace:
            result, note = run(ctx)
            return _trace(
                "expr",
                result,
                condition.name,
                expected=condition.source,
                note=note,
                location=location,
            )

        return CompiledCondition(test, trace)

    def _leaf(self, leaf: Leaf) -> CompiledCondition:
        check = self._leaf_test(leaf)
        path = leaf.field
        get = _resolver(path)

        def test(ctx: Context) -> bool:
            return check(get(ctx))[0]

        def trace(ctx: Context) -> ConditionTrace:
            actual = get(ctx)
            result, note = check(actual)
            return _trace(
                "leaf",
                result,
                leaf.name,
                field=path,
                operator=leaf.operator,
                expected=leaf.value,
                actual=None if actual is MISSING else actual,
                note="field is missing" if actual is MISSING and not note else note,
                location=str(leaf.span),  # only explaining needs it: not made per leaf
            )

        return CompiledCondition(test, trace)

    def _leaf_test(self, leaf: Leaf) -> LeafTest:
        op, expected = leaf.operator, leaf.value
        if op == "exists":
            want = bool(expected)
            return lambda actual: ((actual is not MISSING and actual is not None) == want, "")
        if op in ("equals", "oneOf", "contains"):
            return _equality_test(op, expected, leaf.ignore_case)
        if op == "matches":
            return self._regex_test(leaf)
        if op in ("greaterThan", "greaterOrEqual", "lessThan", "lessOrEqual", "between"):
            return self._ordering_test(leaf)
        return self._calendar_test(leaf)

    def _regex_test(self, leaf: Leaf) -> LeafTest:
        limit = DEFAULT_LIMITS.regex_subject_chars
        search, reason, hint = compile_linear(leaf.value)
        if search is None:
            self.diagnostics.append(
                error(
                    "PB401",
                    f"regular expression does not compile: {reason}",
                    leaf.span,
                    hint=hint,
                )
            )
            return lambda actual: (False, "invalid regular expression")

        def test(actual: Any) -> tuple[bool, str]:
            if not isinstance(actual, str):
                return False, "" if actual is MISSING else f"not a string ({_kind(actual)})"
            return search(actual[:limit]) is not None, ""

        return test

    def _ordering_test(self, leaf: Leaf) -> LeafTest:
        op = leaf.operator
        bounds = leaf.value if op == "between" else [leaf.value]
        if leaf.field.startswith("elapsed.") and all(isinstance(b, str) for b in bounds):
            # `elapsed` is in minutes; a duration such as 1h or 90m is the same number.
            minutes = [_minutes(b) for b in bounds]
            if all(m is not None for m in minutes):
                bounds = minutes
        as_time = [_timestamp(b) for b in bounds]
        if all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds):
            convert: Callable[[Any], Any] = _number
            limits: list[Any] = list(bounds)
        elif all(t is not None for t in as_time):
            convert = _timestamp
            limits = list(as_time)
        else:
            self.diagnostics.append(
                error(
                    "PB408",
                    f"'{op}' needs numbers or timestamps with an offset, got {leaf.value!r}",
                    leaf.span,
                    hint="write a number such as 100, or a timestamp such as 2026-01-01T00:00:00Z",
                )
            )
            return lambda actual: (False, "invalid comparison value")
        if op == "between" and limits[0] > limits[1]:
            self.diagnostics.append(
                error(
                    "PB408",
                    f"'between' bounds are reversed: {leaf.value!r}",
                    leaf.span,
                    hint="write [low, high]",
                )
            )
        compare: Callable[[Any], bool] = {
            "greaterThan": lambda v: v > limits[0],
            "greaterOrEqual": lambda v: v >= limits[0],
            "lessThan": lambda v: v < limits[0],
            "lessOrEqual": lambda v: v <= limits[0],
            "between": lambda v: limits[0] <= v <= limits[1],
        }[op]
        wanted = "timestamp" if convert is _timestamp else "number"

        def test(actual: Any) -> tuple[bool, str]:
            value = convert(actual)
            if value is None:
                return False, "" if actual is MISSING else f"not a {wanted} ({_kind(actual)})"
            return compare(value), ""

        return test

    def _calendar_test(self, leaf: Leaf) -> LeafTest:
        calendar = self.calendars.get(leaf.value)
        if calendar is None:
            # Reported by the reference checks (PB303); here the leaf simply never holds.
            return lambda actual: (False, f"unknown calendar {leaf.value!r}")

        def test(actual: Any) -> tuple[bool, str]:
            moment = _timestamp(actual)
            if moment is None:
                return False, "" if actual is MISSING else "not a timestamp with an offset"
            return calendar_math.is_within(calendar, moment), ""

        return test


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


_HOLDS, _FAILS = (True, ""), (False, "")


def _equality_test(op: str, expected: Any, ignore_case: bool) -> LeafTest:
    # The common cases, case-sensitive text, need no kind or case work: a value of another
    # type is never equal (as `same` below decides too).
    if not ignore_case and op == "equals" and isinstance(expected, str):
        return lambda actual: _HOLDS if isinstance(actual, str) and actual == expected else _FAILS
    if not ignore_case and op == "oneOf" and all(isinstance(v, str) for v in expected):
        texts = frozenset(expected)
        return lambda actual: _HOLDS if isinstance(actual, str) and actual in texts else _FAILS

    def norm(value: Any) -> Any:
        if ignore_case and isinstance(value, str):
            return value.casefold()
        return value

    def same(a: Any, b: Any) -> bool:
        return _kind(a) == _kind(b) and norm(a) == norm(b)

    if op == "equals":
        return lambda actual: (same(actual, expected), "")
    if op == "oneOf":
        options = list(expected)
        return lambda actual: (any(same(actual, o) for o in options), "")

    def contains(actual: Any) -> tuple[bool, str]:
        if isinstance(actual, str) and isinstance(expected, str):
            return norm(expected) in norm(actual), ""
        if isinstance(actual, list):
            return any(same(item, expected) for item in actual), ""
        return False, "" if actual is MISSING else f"cannot contain ({_kind(actual)})"

    return contains
