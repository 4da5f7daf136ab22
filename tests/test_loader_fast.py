"""The loader's single event loop against an independent oracle: PyYAML's own composer.

`loader.load_text` builds data and its source map in one hand-written pass over libyaml's
events. These tests check that pass against what PyYAML's pure-Python `SafeLoader` makes of the
same text: the data must equal `yaml.load` (for inputs where YAML 1.1 and our rules agree, or
`json.loads` for JSON), and every position must be the `start_mark` of the matching node of
`yaml.compose`, found by walking the node tree and building JSON pointers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playbook_engine.load.documents import SourceDoc, escape_pointer_token, load_text

ROOT = Path(__file__).resolve().parent.parent
LIBYAML = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Positions = dict[str, tuple[int, int]]


# --- the oracle -------------------------------------------------------------------------


def composed_positions(text: str, parser: Any = yaml.SafeLoader) -> tuple[Positions, Positions]:
    """Value and key positions from `yaml.compose`, with pointers built walking its nodes.

    The composer gives an alias the very node it names, so an alias is a node met a second
    time; its own position is its alias event's (the n-th alias of the text is the n-th node
    met again, walking in the order of the text), and what is under it is where the anchored
    node's content was written.
    """
    aliases = iter(
        [
            event.start_mark
            for event in yaml.parse(text, Loader=parser)
            if isinstance(event, yaml.AliasEvent)
        ]
    )
    values: Positions = {}
    keys: Positions = {}
    first: dict[int, str] = {}  # node id: the pointer where the node was met first
    root = yaml.compose(text, Loader=parser)
    assert root is not None
    work: list[tuple[yaml.Node, str, bool]] = [(root, "", False)]  # node, pointer, is a key
    while work:
        node, pointer, is_key = work.pop()
        positions = keys if is_key else values
        if id(node) in first:
            positions[pointer] = _position(next(aliases))
            if not isinstance(node, yaml.ScalarNode):
                _copy_under(first[id(node)], pointer, values)
                _copy_under(first[id(node)], pointer, keys)
            continue
        first[id(node)] = pointer
        positions[pointer] = _position(node.start_mark)
        # Children go on the stack last first, so nodes are met in the order of the text.
        if isinstance(node, yaml.MappingNode):
            for key, value in reversed(node.value):
                assert isinstance(key, yaml.ScalarNode)
                child = f"{pointer}/{escape_pointer_token(joined_pairs(key.value))}"
                work += [(value, child, False), (key, child, True)]
        elif isinstance(node, yaml.SequenceNode):
            for index, item in reversed(list(enumerate(node.value))):
                work.append((item, f"{pointer}/{index}", False))
    return values, keys


def _position(mark: Any) -> tuple[int, int]:
    return mark.line + 1, mark.column + 1


def _copy_under(source: str, target: str, positions: Positions) -> None:
    for pointer, position in list(positions.items()):
        if pointer.startswith(source + "/"):
            positions[target + pointer[len(source) :]] = position


def assert_positions(doc: SourceDoc, text: str, parser: Any = yaml.SafeLoader) -> None:
    """Every pointer of `doc`'s source map is a node of the composed text, at its start mark."""
    values, keys = composed_positions(text, parser)
    assert dict(doc.value_positions) == values
    assert dict(doc.key_positions) == keys


def assert_same(actual: Any, expected: Any) -> None:
    """Equal and of the same types all the way down (`==` alone says True == 1 == 1.0)."""
    assert type(actual) is type(expected), (actual, expected)
    if isinstance(expected, dict):
        assert list(actual) == list(expected)
        for key, value in expected.items():
            assert_same(actual[key], value)
    elif isinstance(expected, list):
        assert len(actual) == len(expected)
        for item, value in zip(actual, expected, strict=True):
            assert_same(item, value)
    else:
        assert actual == expected


def joined_pairs(value: Any) -> Any:
    """`value` with each surrogate pair in a string made one character, as JSON reads it.

    PyYAML's pure-Python reader keeps an escaped pair as two lone surrogates; the loader, like
    a JSON parser, makes it the character it encodes.
    """
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16")
    if isinstance(value, dict):
        return {joined_pairs(key): joined_pairs(item) for key, item in value.items()}
    if isinstance(value, list):
        return [joined_pairs(item) for item in value]
    return value


def loaded(text: str, name: str = "doc.yaml") -> SourceDoc:
    doc, problems = load_text(text, name)
    assert problems == []
    assert doc is not None
    return doc


# --- generated documents ----------------------------------------------------------------

# Text that YAML 1.1 (which `yaml.dump` quotes for) and our rules read alike as plain: ours
# reads `1e5`, `0o17` and `+.5e3` as numbers where YAML 1.1 sees text, so those are left out.
_NUMBER_LIKE = re.compile(r"[-+]?[0-9.][0-9a-zA-Z_.+-]*")
_CHARACTERS = st.characters(
    blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\ufeff"
) | st.sampled_from(["/", "~", "é", "😀", "\t", "\n", " ", ":", "#", "-", "'", '"'])
texts = st.text(_CHARACTERS, max_size=12).filter(lambda text: not _NUMBER_LIKE.fullmatch(text))
words = st.sampled_from(["yes", "no", "on", "off", "true", "null", "~", "<<", "a/b", "x~y", ""])
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
    | words
)
keys = texts | words
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=30,
)


def with_shared_part(data: Any, part: Any) -> dict[str, Any]:
    """A mapping holding `part` twice: `yaml.dump` writes it once with an anchor, then an alias."""
    return {"first": part, "body": data, "again": {"copy": part, "list": [part]}}


@PROPERTY
@given(
    data=documents,
    shared=st.none() | st.lists(scalars, min_size=1, max_size=3) | st.dictionaries(keys, scalars),
    flow=st.sampled_from([None, True, False]),
    style=st.sampled_from([None, '"', "'"]),
    indent=st.integers(2, 5),
    width=st.sampled_from([20, 80, 1000]),
    unicode=st.booleans(),
)
def test_yaml_loads_as_pyyaml_composes_it(
    data: Any,
    shared: Any,
    flow: bool | None,
    style: str | None,
    indent: int,
    width: int,
    unicode: bool,
) -> None:
    if shared is not None:
        data = with_shared_part(data, shared)
    text = yaml.safe_dump(
        data,
        default_flow_style=flow,
        default_style=style,
        indent=indent,
        width=width,
        allow_unicode=unicode,
        sort_keys=False,
    )
    doc = loaded(text)
    assert_same(doc.data, yaml.load(text, Loader=yaml.SafeLoader))
    assert_positions(doc, text)


@PROPERTY
@given(
    data=documents,
    indent=st.sampled_from([None, 0, 2]),
    ascii_only=st.booleans(),
    name=st.sampled_from(["doc.json", "doc.yaml"]),
)
def test_json_loads_as_json_reads_it(
    data: Any, indent: int | None, ascii_only: bool, name: str
) -> None:
    # ensure_ascii writes characters above U+FFFF as surrogate pair escapes, which the
    # loader rewrites before libyaml sees them: positions must still be the original ones.
    text = json.dumps(data, indent=indent, ensure_ascii=ascii_only)
    doc = loaded(text, name)
    assert_same(doc.data, json.loads(text))
    assert_same(joined_pairs(yaml.load(text, Loader=yaml.SafeLoader)), _yaml_1_1(doc.data))
    assert_positions(doc, text)


def _yaml_1_1(value: Any) -> Any:
    """What YAML 1.1 reads from `json.dumps` of `value`: a float without a dot (`1e+16`) is
    text to it."""
    if isinstance(value, float):
        written = json.dumps(value)
        return value if "." in written or "e" not in written else written
    if isinstance(value, dict):
        return {key: _yaml_1_1(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_yaml_1_1(item) for item in value]
    return value


# --- arbitrary text -----------------------------------------------------------------------

_PIECES = [
    "a",
    "b",
    "key",
    "x y",
    "1",
    "-2.5",
    "0x1F",
    "true",
    "yes",
    "~",
    "null",
    "é😀",
    ": ",
    ":",
    "- ",
    "-",
    "? ",
    ", ",
    "[",
    "]",
    "{",
    "}",
    "'q'",
    '"q"',
    '"\\ud83d\\ude00"',
    "\\ud83d\\ude00",
    '"\\\\ud83d\\\\ude00"',
    "&a ",
    "*a",
    "!!str ",
    "# c",
    "\n",
    "\n  ",
    "\n    ",
    "  ",
    "|\n  t\n",
    ">-\n  t\n",
    "a/b",
    "~1",
]


@PROPERTY
@given(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=30).map("".join))
def test_any_accepted_text_has_the_composed_positions(text: str) -> None:
    """Whatever the text, loading answers with a document or problems, never raises; and a
    document's source map is the composer's (positions do not depend on how scalars resolve).

    libyaml's composer here: it places an empty value (`? a`) elsewhere than PyYAML's own
    parser does, and the loader reports libyaml's positions.
    """
    doc, problems = load_text(text, "doc.yaml")
    assert (doc is None) == bool(problems)
    if doc is None:
        return
    try:
        composed_positions(text, LIBYAML)
    except yaml.YAMLError:
        return  # libyaml refuses a surrogate pair escape, which the loader rewrites first
    assert_positions(doc, text, LIBYAML)


# --- real files ---------------------------------------------------------------------------

REAL = sorted(
    path
    for folder in ("playbooks", "tests/data")
    for path in (ROOT / folder).rglob("*")
    if path.suffix in (".yaml", ".json") and path.is_file()
)


def test_real_documents_have_the_composed_positions() -> None:
    checked = 0
    for path in REAL:
        text = path.read_text(encoding="utf-8", errors="replace")
        doc, _ = load_text(text, path.name)
        if doc is not None:
            assert_positions(doc, text.removeprefix("\ufeff"), LIBYAML)
            checked += 1
    assert checked >= 50


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a: 1\na: 2\n", "PB102 duplicate key 'a' (first written on line 1)"),
        ("{? [x]: 1}", "PB109 mapping key is a sequence; JSON keys are strings"),
        ("<<: {a: 1}\n", "PB103 merge keys ('<<') are not supported (YAML 1.1 only)"),
        ("&k a: 1\n*k : 2\n", "PB102 duplicate key 'a' (first written on line 1)"),
        ("1: x\n", "PB109 mapping key is a number; JSON keys are strings"),
        (
            "a: &x [1]\nb: *x\nc: *y\n",
            "PB101 YAML syntax error: alias *y has no anchor &y before it",
        ),
        ("a: &x [*x]\n", "PB104 alias *x refers to a node that contains it (endless expansion)"),
    ],
)
def test_refusals_in_the_event_loop(text: str, problem: str) -> None:
    doc, problems = load_text(text, "doc.yaml")
    assert doc is None
    assert [f"{d.code} {d.message}" for d in problems][:1] == [problem]
