"""`fastschema` answers exactly as jsonschema's `is_valid` does, with our schemas and others.

- every document the repository holds (bundled library, test data, golden plans, payload
  mappings), and mutations of them (a key dropped or added, a value of another type, bool and
  int swapped, 1 and 1.0, emptied lists, duplicated items, strings the schema names);
- small random schemas of the supported keywords against random values;
- the corners of Draft 2020-12 that Python's types blur (bool is an int, 1.0 is an integer,
  NaN against a minimum, dict/list subclasses, jsonschema's own `uniq`);
- what the generated source is made of: a schema's strings never become code.
"""

from __future__ import annotations

import collections
import copy
import functools
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from test_fast_paths import _paths  # every path into a document: the older mutation test's

from playbook_engine.load import fastschema, schema
from playbook_engine.load.documents import load_file

ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schema.load_schema(name))


@functools.cache
def checker(name: str) -> fastschema.Check:
    check = fastschema.compile_schema(schema.load_schema(name))
    assert check is not None, f"{name} uses a keyword fastschema does not implement"
    return check


def _schema_name(path: Path, data: Any) -> str | None:
    if path.name.endswith(".mapping.json"):
        return "mapping"
    if path.parent == ROOT / "tests" / "golden":
        return "plan"
    if isinstance(data, dict) and data.get("kind") in schema.KINDS:
        return schema.KINDS[data["kind"]]
    if "incidents" in path.parts or "hostile-incidents" in path.parts:
        return "incident"
    return None


@functools.cache
def corpus() -> tuple[tuple[str, Any], ...]:
    """(schema name, data) of every document file of the repository that loads."""
    paths = [
        *(ROOT / "playbooks").rglob("*.yaml"),
        *(ROOT / "tests" / "data").rglob("*.yaml"),
        *(ROOT / "tests" / "data").rglob("*.json"),
        *(ROOT / "tests" / "golden").glob("*.json"),
    ]
    found = []
    for path in sorted(paths):
        doc, _ = load_file(path)
        name = _schema_name(path, doc.data) if doc is not None else None
        if doc is not None and name is not None:
            found.append((name, doc.data))
    return tuple(found)


def agree(name: str, data: Any) -> bool:
    """The common answer of both checkers; fails the test when they differ."""
    expected = validator(name).is_valid(data)
    assert checker(name)(data) is expected, f"{name}: {json.dumps(data, default=repr)[:400]}"
    return expected


def test_every_schema_compiles_and_the_corpus_covers_it() -> None:
    names = collections.Counter(name for name, _ in corpus())
    assert set(names) == set(schema.SCHEMA_NAMES), names
    answers = {agree(name, data) for name, data in corpus()}
    assert answers == {True, False}, "the corpus has valid and invalid documents"


def _strings(node: Any) -> set[str]:
    """Property names and string constants of a schema: values that hit its edges."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("properties", "dependentSchemas"):
                found.update(value)
            if key in ("enum", "const", "required"):
                items = value if isinstance(value, list) else [value]
                found.update(item for item in items if isinstance(item, str))
            found |= _strings(value)
    elif isinstance(node, list):
        for value in node:
            found |= _strings(value)
    return found


@functools.cache
def schema_strings(name: str) -> list[str]:
    return sorted(_strings(schema.load_schema(name)))


VALUES: list[Any] = [None, True, False, 0, 1, 1.0, 1.5, -1, 101, math.nan, "", "x", "P1", "15m"]
VALUES += ["Bad Id", "incident.service", "2026-03-14T02:17:00Z", "09:30", [], [1], {}, {"a": 1}]
MUTATIONS = ("replace", "drop", "add", "flip", "empty", "duplicate", "schema string")


def mutate(draw: st.DrawFn, name: str, data: Any) -> Any:
    """`data` with one value changed, dropped or added, somewhere."""
    path = draw(st.sampled_from(_paths(data)))
    value = data
    for step in path:
        value = value[step]
    kind = draw(st.sampled_from(MUTATIONS))
    if kind == "drop" and path:
        replacement: Any = _DROP
    elif kind == "add" and isinstance(value, dict):
        key = draw(st.sampled_from(["zz-unknown", *schema_strings(name)]))
        replacement = {**value, key: draw(st.sampled_from(VALUES))}
    elif kind == "flip" and type(value) in (bool, int, float):
        # bool <-> int, int <-> float: the pairs Python calls equal and JSON Schema does not
        flips = {bool: int, int: draw(st.sampled_from([bool, float])), float: int}
        try:
            replacement = flips[type(value)](value)
        except (ValueError, OverflowError):
            replacement = value
    elif kind == "empty" and isinstance(value, list | dict):
        replacement = type(value)()
    elif kind == "duplicate" and isinstance(value, list) and value:
        replacement = [*value, copy.deepcopy(value[draw(st.integers(0, len(value) - 1))])]
    elif kind == "schema string":
        replacement = draw(st.sampled_from(schema_strings(name)))
    else:
        replacement = draw(st.sampled_from(VALUES))
    return _replaced(data, path, replacement)


_DROP = object()


def _replaced(data: Any, path: tuple[Any, ...], replacement: Any) -> Any:
    if not path:
        return replacement
    head, rest = path[0], path[1:]
    inner = _replaced(data[head], rest, replacement)
    if isinstance(data, dict):
        out = dict(data)
        if inner is _DROP:
            del out[head]
        else:
            out[head] = inner
        return out
    items = list(data)
    if inner is _DROP:
        del items[head]
    else:
        items[head] = inner
    return items


@functools.cache
def by_schema() -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = collections.defaultdict(list)
    for name, data in corpus():
        found[name].append(data)
    return dict(sorted(found.items()))


@st.composite
def mutated_documents(draw: st.DrawFn) -> tuple[str, Any]:
    # A schema first: the corpus holds 83 playbooks and one shared document.
    name = draw(st.sampled_from(list(by_schema())))
    data = draw(st.sampled_from(by_schema()[name]))
    for _ in range(draw(st.integers(1, 3))):
        data = mutate(draw, name, data)
    return name, data


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=mutated_documents())
def test_mutated_documents_get_jsonschemas_answer(document: tuple[str, Any]) -> None:
    agree(*document)


# Random schemas of the keywords fastschema implements, and values to test against them.
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.0, 1.0, 2.5, -1.5, math.nan, math.inf]),
    st.sampled_from(["", "a", "b", "ab", "A1", "a\n"]),
)
NAMES = st.sampled_from(["a", "b", "c"])


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=4) | st.dictionaries(NAMES, inner, max_size=3)


VALUES_STRATEGY = st.recursive(SCALARS, _containers, max_leaves=10)
TYPES = st.sampled_from(["object", "array", "string", "boolean", "null", "number", "integer"])


def _schemas(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keyword = st.one_of(
        st.tuples(st.just("type"), TYPES | st.lists(TYPES, min_size=1, max_size=3, unique=True)),
        st.tuples(st.just("enum"), st.lists(SCALARS, min_size=1, max_size=3)),
        st.tuples(st.just("const"), VALUES_STRATEGY),
        st.tuples(st.just("required"), st.lists(NAMES, min_size=1, max_size=3)),
        st.tuples(st.just("properties"), st.dictionaries(NAMES, inner, max_size=3)),
        st.tuples(st.just("additionalProperties"), inner),
        st.tuples(st.just("propertyNames"), inner),
        st.tuples(st.just("dependentSchemas"), st.dictionaries(NAMES, inner, max_size=2)),
        st.tuples(st.sampled_from(["minProperties", "maxProperties"]), st.integers(0, 3)),
        st.tuples(st.just("items"), inner),
        st.tuples(
            st.sampled_from(["minItems", "maxItems", "minLength", "maxLength"]), st.integers(0, 3)
        ),
        st.tuples(st.just("uniqueItems"), st.booleans()),
        st.tuples(
            st.sampled_from(["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]),
            st.sampled_from([0, 1, 1.5]),
        ),
        st.tuples(st.just("pattern"), st.sampled_from(["^a", "b$", "^[a-z]+$", "\\d"])),
        st.tuples(st.sampled_from(["anyOf", "oneOf", "allOf"]), st.lists(inner, max_size=3)),
        st.tuples(st.just("not"), inner),
        st.tuples(st.just("if"), inner),
        st.tuples(st.sampled_from(["then", "else"]), inner),
        # Not "#": a schema that refers to itself before any test never ends (see below).
        st.tuples(st.just("$ref"), st.sampled_from(["#/$defs/a", "#/$defs/b"])),
    )
    return st.booleans() | st.lists(keyword, max_size=4).map(dict)


SCHEMAS: st.SearchStrategy[Any] = st.recursive(st.just({}), _schemas, max_leaves=8)
DEFS = {"a": {"required": ["a"], "minProperties": 2}, "b": {"items": {"$ref": "#/$defs/a"}}}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=SCHEMAS, values=st.lists(VALUES_STRATEGY, min_size=1, max_size=5))
def test_random_schemas_get_jsonschemas_answer(body: Any, values: list[Any]) -> None:
    root = {"$defs": DEFS, "allOf": [body]}
    check = fastschema.compile_schema(root)
    assert check is not None
    for value in values:
        assert check(value) is Draft202012Validator(root).is_valid(value), (root, value)


class Record(dict[str, Any]):
    """A mapping of another class: still a JSON object to jsonschema."""


class Items(list[Any]):
    """A list of another class: still a JSON array to jsonschema."""


CORNERS: list[tuple[dict[str, Any], list[Any]]] = [
    ({"type": "integer"}, [1, 1.0, 1.5, True, False, math.nan, math.inf, 10**30, "1"]),
    ({"type": "number"}, [1, 1.0, True, None, math.nan, "1"]),
    ({"type": "boolean"}, [True, False, 0, 1, None]),
    ({"type": "object"}, [{}, Record(a=1), [], None]),
    ({"type": "array"}, [[], Items([1]), (), {}]),
    ({"minimum": 1}, [math.nan, 0, 1, True, False, "0"]),
    ({"exclusiveMaximum": 1}, [math.nan, 1, 0.5, True]),
    ({"enum": [1, "a", None]}, [True, 1.0, "a", None, False, [1]]),
    ({"enum": ["a", "b"]}, ["a", "c", 1, ["a"], {"a": 1}]),
    ({"const": [1, {"a": True}]}, [[1.0, {"a": True}], [True, {"a": 1}], [1, {"a": True}, 2]]),
    ({"const": False}, [0, False, None]),
    ({"uniqueItems": True}, [[1, True], [1, 1.0], [[1], [True], [1]], [{"a": 1}, {"a": 1}]]),
    ({"uniqueItems": True}, [[0, False], [None, None], ["a", "a"], [[1, "a"], [1, 2]], [[]]]),
    ({"uniqueItems": True}, [[{"a": [1]}, {"a": [True]}], Items(["x", "x"]), [math.nan, 1]]),
    ({"required": ["a", "b"]}, ["ab", "b", ["a"], {"a": 1}, {"a": 1, "b": 2}, Record(a=1, b=2)]),
    ({"oneOf": [{"required": ["a"]}, {"required": ["b"]}]}, [5, {}, {"a": 1}, {"a": 1, "b": 2}]),
    ({"anyOf": [{"required": ["a"]}, {"required": ["b"]}]}, [5, {}, {"b": 1}, Record(c=1)]),
    ({"oneOf": [{"required": ["a"]}]}, [5, {}, {"a": 1}]),
    ({"pattern": "^a$"}, ["a", "a\n", "ba", 1, None]),
    ({"minLength": 2}, ["ab", "a", "\U0001f600", "\U0001f600\U0001f600", 5]),
    ({"additionalProperties": False}, [{}, {"a": 1}, 1, Record()]),
    (
        {"properties": {"a": False}, "additionalProperties": {"type": "string"}},
        [{"b": "x"}, {"a": 1}, {"b": 1}],
    ),
    ({"propertyNames": {"pattern": "^[a-z]+$"}}, [{"ab": 1}, {"Ab": 1}, {1: 1}, "Ab"]),
    ({"dependentSchemas": {"a": {"required": ["b"]}}}, [{"a": 1}, {"a": 1, "b": 1}, {"b": 1}, 1]),
    (
        {"if": {"type": "string"}, "then": {"minLength": 2}, "else": {"type": "integer"}},
        ["a", "ab", 1, 1.5],
    ),
    (
        {"properties": {"a": {"type": "integer"}}, "additionalProperties": {"type": "string"}},
        [{"a": 1}, {"a": "x"}, {"b": "x"}, {"b": 1}],
    ),
    ({"type": "string", "allOf": [{"type": "integer"}]}, ["a", 1]),
    ({"type": "integer", "anyOf": [{"type": "number", "minimum": 2}, {"type": "string"}]}, [1, 2]),
    ({"then": False}, [1, "a"]),
    ({"not": {"type": "null"}}, [None, 0]),
    ({"anyOf": []}, [1]),
    ({"oneOf": []}, [1]),
    ({"type": []}, [1, None]),
    ({"items": False}, [[], [1], "x"]),
]


@pytest.mark.parametrize(("rule", "values"), CORNERS)
def test_corners_get_jsonschemas_answer(rule: dict[str, Any], values: list[Any]) -> None:
    check = fastschema.compile_schema(rule)
    assert check is not None
    for value in values:
        assert check(value) is Draft202012Validator(rule).is_valid(value), (rule, value)


def test_recursive_references_and_deep_schemas() -> None:
    tree = {"type": "object", "properties": {"child": {"$ref": "#"}}, "additionalProperties": False}
    deep: Any = {"type": "string"}
    branches: Any = {"type": "integer"}
    for level in range(40):  # deeper than a function's indentation or an expression may nest
        deep = {"type": "object", "properties": {f"p{level}": deep}, "required": [f"p{level}"]}
        branches = {"anyOf": [branches, {"const": level}], "not": {"const": -level - 1}}
    cases = [
        (tree, [{}, {"child": {"child": {}}}, {"child": {"child": {"x": 1}}}, {"child": 1}]),
        (deep, [_nest(40, "x"), _nest(40, 1), _nest(39, "x")]),
        (branches, [1, -1, 1.5, "a", -40]),
    ]
    for rule, values in cases:
        check = fastschema.compile_schema(rule)
        assert check is not None
        for value in values:
            assert check(value) is Draft202012Validator(rule).is_valid(value)


def _nest(levels: int, leaf: Any) -> Any:
    for level in range(levels):
        leaf = {f"p{level}": leaf}
    return leaf


def test_a_schemas_strings_never_become_code() -> None:
    hostile = "'); import os; os.system('false'); ('\x00\n\\"
    rule = {
        "type": "object",
        "properties": {hostile: {"const": hostile}, "\x00": {"enum": [hostile, "\x00"]}},
        "required": [hostile],
        "additionalProperties": False,
    }
    check = fastschema.compile_schema(rule)
    assert check is not None
    for value in ({hostile: hostile}, {hostile: hostile, "\x00": "\x00"}, {hostile: 1}, {}):
        assert check(value) is Draft202012Validator(rule).is_valid(value)


@pytest.mark.parametrize(
    "rule",
    [
        {"type": "object", "patternProperties": {}},
        {"prefixItems": [{"type": "string"}]},
        {"$ref": "other.json#/x"},
        {"$ref": "#/$defs/missing"},
        {"$dynamicRef": "#meta"},
        {"properties": {"a": {"$id": "https://example.com/a", "type": "string"}}},
        {"type": "float"},
        {"minLength": 1.5},
        {"pattern": "("},
        {"contains": {"type": "string"}},
    ],
)
def test_an_unsupported_schema_leaves_the_answer_to_jsonschema(rule: dict[str, Any]) -> None:
    assert fastschema.compile_schema(rule) is None


def test_remembered_pattern_answers_stay_bounded() -> None:
    # A private class: what it remembers is invisible to callers, except as memory.
    matches = fastschema._Matches("^[a-z]+$")
    words = [f"w{i}" for i in range(fastschema._MEMO_SIZE + 100)] + ["x" * 1000]
    assert [matches[word] for word in words] == [False] * (len(words) - 1) + [True]
    assert len(matches) == fastschema._MEMO_SIZE and "x" * 1000 not in matches
    assert matches["abc"] and matches["abc"] and not matches["ab1"]
    check = fastschema.compile_schema({"items": {"pattern": "^[a-z]+$"}})
    assert check is not None
    assert check(["abc", "abc", "x" * 1000]) and not check(["abc", "ABC"])


def test_the_compiled_check_is_kept_in_a_code_store_and_a_bad_entry_is_not_used() -> None:
    from playbook_engine.speed.stores import MemoryStore

    store = MemoryStore({}, None)
    made = fastschema.compile_schema(schema.load_schema("playbook"), store)
    (key,) = store.entries
    assert key.startswith("fastschema\0")
    again = fastschema.compile_schema(schema.load_schema("playbook"), store)
    broken = MemoryStore({key: b"not marshal data"}, None)
    mended = fastschema.compile_schema(schema.load_schema("playbook"), broken)
    assert made is not None and again is not None and mended is not None
    assert broken.entries[key] == store.entries[key]  # rewritten with the real code
    bundled = load_file(ROOT / "playbooks" / "database-failure.yaml")[0]
    assert bundled is not None
    for check in (made, again, mended):
        assert check(bundled.data) is True
        assert check({**bundled.data, "kind": "Nope"}) is False
