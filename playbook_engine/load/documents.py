"""Safe loading of YAML and JSON documents into data plus a source map.

One pass over the parser's events (libyaml's `CParser` when present) checks every limit *as
the events arrive*, before anything is built from them, and builds plain JSON-compatible data
with its positions at the same time. `yaml.compose` is not used: its recursive C composer
crashes the interpreter on deeply nested input, and a second walk over its node graph would
cost a second pass. Building from events is iterative, so no input can exhaust the stack.

Scalars are resolved by our own rules, the YAML 1.2 core schema without YAML 1.1 surprises:

- `true`/`false` (also `True`, `TRUE`, ...) are booleans; `yes`, `no`, `on`, `off`, `y`, `n`
  stay strings;
- `null`, `Null`, `NULL`, `~` and an empty value are null;
- integers are `[-+]?[0-9]+`, `0o17`, `0x1F`; floats `[-+]?(.5|1|1.|1.5)(e[-+]?5)?`;
  `1_000`, `9:30` (sexagesimal) and `2026-03-14` (timestamp) stay strings;
- `.nan` and `.inf` are refused: JSON cannot hold them.

Keys may be at most 1024 characters of source (a YAML rule that libyaml enforces, for JSON
too). Mapping keys must be strings (JSON has no other keys); duplicates are found by comparing the
resolved strings, so `yes` and `"yes"` collide. A non-string key such as `1` or `1.0` is an
error of its own (PB109), which is why numeric keys are never compared.

A file named `*.json` must be strict JSON (flow collections, double-quoted strings, JSON
literals: `NaN` and `Infinity` are refused). Other text is read as YAML, of which JSON is a
subset, so JSON arriving under another name loads the same way.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from playbook_engine.diagnostics import Diagnostic, Span, error
from playbook_engine.limits import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    import yaml


@dataclass(frozen=True, slots=True)
class SourceDoc:
    """One loaded document: JSON-compatible data and where each value was written.

    Pointers are RFC 6901 JSON pointers ("" is the root, "/spec/steps/0/id").
    Positions are 1-based (line, column).
    """

    path: str
    data: Any
    value_positions: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    key_positions: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    # Literal blocks (`|`): where the text's first line is written, at the block's indentation.
    # Line k of the text is the file's line `line + k - 1` (templates name their wrong line).
    block_positions: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    def span(self, pointer: str) -> Span:
        """The position of the value at `pointer`, or of its nearest known ancestor."""
        while True:
            if pointer in self.value_positions:
                line, col = self.value_positions[pointer]
                return Span(self.path, line, col)
            if not pointer:
                return Span(self.path, 1, 1)
            pointer = pointer.rsplit("/", 1)[0]

    def key_span(self, pointer: str) -> Span:
        """The position of the key naming `pointer` (for unknown-key errors), else its value."""
        if pointer in self.key_positions:
            line, col = self.key_positions[pointer]
            return Span(self.path, line, col)
        return self.span(pointer)


def escape_pointer_token(token: str) -> str:
    """One RFC 6901 reference token: `~` becomes `~0`, `/` becomes `~1`."""
    if "~" in token or "/" in token:
        return token.replace("~", "~0").replace("/", "~1")
    return token


def load_file(
    path: Path, display: str | None = None, limits: Limits = DEFAULT_LIMITS
) -> tuple[SourceDoc | None, list[Diagnostic]]:
    """Load one document file; `display` is the name diagnostics show (default: `path`).

    Returns the document and no diagnostics, or None and at least one error diagnostic.
    Reads at most `limits.max_file_bytes + 1` bytes, so a huge or endless file costs nothing.
    """
    shown = str(path) if display is None else display
    content, problems = read_file(path, shown, limits)
    if content is None:
        return None, problems
    return load_text(content, shown, limits, json_only=path.suffix.lower() == ".json")


def read_file(
    path: Path, display: str, limits: Limits = DEFAULT_LIMITS
) -> tuple[bytes | None, list[Diagnostic]]:
    """The bytes `load_file` loads (at most `limits.max_file_bytes + 1`), or None and the
    PB111 error saying why the file cannot be read."""
    try:
        if path.is_dir():
            return None, [_fail("PB111", "is a directory, not a document", Span(display))]
        if path.exists() and not path.is_file():
            # Opening a FIFO blocks until someone writes to it; a device may never end.
            return None, [_fail("PB111", "is not a regular file", Span(display))]
        with path.open("rb") as handle:
            return handle.read(limits.max_file_bytes + 1), []
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return None, [_fail("PB111", f"cannot read file: {reason}", Span(display))]


def load_text(
    text: str | bytes,
    display: str,
    limits: Limits = DEFAULT_LIMITS,
    *,
    json_only: bool | None = None,
) -> tuple[SourceDoc | None, list[Diagnostic]]:
    """Load one document from text or UTF-8 bytes; `display` names it in diagnostics.

    `json_only` demands strict JSON; by default it is on when `display` ends in `.json`.
    Returns the document and no diagnostics, or None and at least one error diagnostic.
    """
    if json_only is None:
        json_only = display.lower().endswith(".json")
    try:
        decoded = _decode(text, display, limits)
    except _Stop as stop:
        return None, [stop.diagnostic]
    doc, problems = _Builder(decoded, display, limits, json_only).run()
    yaml_syntax = [d.message.startswith("YAML syntax error") for d in problems] == [True]
    if json_only and (doc is not None or yaml_syntax):
        # YAML's flow style reads comments and trailing commas that JSON does not have;
        # only a JSON parser sees them, and it says what is wrong in JSON's terms. (It
        # accepts NaN, which the builder refused already.)
        try:
            json.loads(decoded)
        except json.JSONDecodeError as exc:
            where = Span(display, exc.lineno, exc.colno)
            hint = "JSON has no comments and no trailing commas: write strict JSON, or give "
            hint += "the file a .yaml name"
            return None, [_fail("PB101", f"not JSON: {exc.msg}", where, hint)]
        except RecursionError:
            pass  # nested deeper than a document may be: the builder's diagnostics stand
    return doc, problems


def load_json_text(
    text: str | bytes, display: str, limits: Limits = DEFAULT_LIMITS
) -> tuple[SourceDoc | None, list[Diagnostic]]:
    """`load_text(..., json_only=True)`, faster for the common case of one valid JSON record
    (a `--jsonl` line): Python's JSON parser reads it, and where each value was written is
    found only if a diagnostic asks (the full reading, done then). Anything the full reading
    could refuse or read differently takes the full reading at once."""
    try:
        decoded = _decode(text, display, limits)
    except _Stop as stop:
        return None, [stop.diagnostic]
    data = _plain_json(decoded, limits)
    if data is _NOT_PLAIN:
        return load_text(decoded, display, limits, json_only=True)
    located = _Located(decoded, display, limits)
    return SourceDoc(display, data, _Positions(located, True), _Positions(located, False)), []


_NOT_PLAIN: Any = object()
_ESCAPED_SURROGATE = re.compile(r"\\[uU][dD][89a-fA-F]")
# Characters YAML's reader refuses, and the line breaks it folds inside a quoted string.
_YAML_SPECIAL = re.compile(
    "[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\u2028\u2029]"
)


class _NotPlain(Exception):
    pass


def _plain_json(text: str, limits: Limits) -> Any:
    """The data of `text` if it is JSON the full reading surely accepts as the same data,
    else `_NOT_PLAIN` (when in doubt: the full reading decides and says why)."""
    if _ESCAPED_SURROGATE.search(text):
        return _NOT_PLAIN  # the full reading pairs or refuses them
    if "\x7f" in text if text.isascii() else _YAML_SPECIAL.search(text):
        return _NOT_PLAIN
    try:
        text.encode("utf-8")  # a lone surrogate given as text
        data = json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_int=_small_int,
            parse_float=_finite_float,
            parse_constant=_not_plain,
        )
    except (ValueError, RecursionError, _NotPlain):  # JSONDecodeError, UnicodeError too
        return _NOT_PLAIN
    # Well inside every limit: the builder counts a little differently at the edges.
    nodes, max_chars = 0, limits.max_scalar_chars
    pending: list[tuple[Any, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        nodes += 1
        if isinstance(value, dict):
            if depth >= limits.max_depth - 1:
                return _NOT_PLAIN
            for key, item in value.items():
                if len(key) > 1000:
                    return _NOT_PLAIN
                nodes += 1
                pending.append((item, depth + 1))
        elif isinstance(value, list):
            if depth >= limits.max_depth - 1:
                return _NOT_PLAIN
            pending += [(item, depth + 1) for item in value]
        elif isinstance(value, str) and len(value) > max_chars:
            return _NOT_PLAIN
    if nodes >= limits.max_nodes // 2 or not isinstance(data, dict | list):
        return _NOT_PLAIN
    return data


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping = dict(pairs)
    if len(mapping) != len(pairs):
        raise _NotPlain
    return mapping


def _small_int(text: str) -> int:
    number = int(text)
    if number.bit_length() > _MAX_INT_BITS:
        raise _NotPlain
    return number


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise _NotPlain
    return number


def _not_plain(text: str) -> Any:
    raise _NotPlain


class _Located:
    """The full reading of a text, done when first asked for."""

    def __init__(self, text: str, display: str, limits: Limits) -> None:
        self.text, self.display, self.limits = text, display, limits
        self.doc: SourceDoc | None = None

    def positions(self, values: bool) -> Mapping[str, tuple[int, int]]:
        if self.doc is None:
            doc, _ = _Builder(self.text, self.display, self.limits, True).run()
            self.doc = doc or SourceDoc(self.display, None)
        return self.doc.value_positions if values else self.doc.key_positions


class _Positions(Mapping[str, tuple[int, int]]):
    """Value (or key) positions of a document read by Python's JSON parser: the full
    reading's, made when first looked up."""

    def __init__(self, located: _Located, of_values: bool) -> None:
        self.located, self.of_values = located, of_values

    def __getitem__(self, pointer: str) -> tuple[int, int]:
        return self.located.positions(self.of_values)[pointer]

    def __iter__(self) -> Iterator[str]:
        return iter(self.located.positions(self.of_values))

    def __len__(self) -> int:
        return len(self.located.positions(self.of_values))


# --- decoding ---------------------------------------------------------------------------

_UTF16_32_BOMS = (
    codecs.BOM_UTF32_LE,
    codecs.BOM_UTF32_BE,
    codecs.BOM_UTF16_LE,
    codecs.BOM_UTF16_BE,
)


def _decode(text: str | bytes, display: str, limits: Limits) -> str:
    """Text with any BOM removed, after the size and encoding checks."""
    if isinstance(text, str):
        # A character is at least one byte: only short text needs encoding to be measured.
        if len(text) <= limits.max_file_bytes:
            try:
                size = len(text.encode("utf-8"))
            except UnicodeEncodeError as exc:
                line, col = _line_col(text, exc.start)
                raise _Stop(
                    _fail(
                        "PB107",
                        f"text holds a lone surrogate U+{ord(text[exc.start]):04X}, not Unicode",
                        Span(display, line, col),
                        "the text was decoded wrongly; re-read it as UTF-8",
                    )
                ) from None
        else:
            size = len(text)
        _check_size(size, display, limits)
        return text.removeprefix("\ufeff")
    _check_size(len(text), display, limits)
    if text.startswith(_UTF16_32_BOMS):
        raise _Stop(
            _fail(
                "PB107",
                "file is UTF-16 or UTF-32 (it starts with that byte order mark), not UTF-8",
                Span(display, 1, 1),
                "save the file as UTF-8",
            )
        )
    body = text.removeprefix(codecs.BOM_UTF8)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        bom = len(text) - len(body)
        line = body.count(b"\n", 0, exc.start) + 1
        line_start = body.rfind(b"\n", 0, exc.start) + 1
        col = len(body[line_start : exc.start].decode("utf-8", "replace")) + 1
        raise _Stop(
            _fail(
                "PB107",
                f"not valid UTF-8: byte 0x{body[exc.start]:02x} at offset {exc.start + bom}",
                Span(display, line, col),
                "save the file as UTF-8",
            )
        ) from None


def _check_size(size: int, display: str, limits: Limits) -> None:
    if size > limits.max_file_bytes:
        raise _Stop(
            _fail(
                "PB106",
                f"document is larger than {limits.max_file_bytes} bytes",
                Span(display),
                "split it into several files",
            )
        )


_CONTROL_NAMES = (
    "NUL SOH STX ETX EOT ENQ ACK BEL BS HT LF VT FF CR SO SI DLE DC1 DC2 DC3 DC4 NAK SYN ETB "
    "CAN EM SUB ESC FS GS RS US"
).split()


def _reader_reason(exc: yaml.reader.ReaderError) -> str:
    """The reader's reason, naming the character it refused (`control character U+0000 (NUL)
    is not allowed`)."""
    code = exc.character if isinstance(exc.character, int) else None
    if isinstance(exc.character, str) and len(exc.character) == 1:
        code = ord(exc.character)
    if code is None or not exc.reason.startswith(("control characters", "special characters")):
        return str(exc.reason)
    name = _CONTROL_NAMES[code] if code < 32 else "DEL" if code == 127 else ""
    return f"control character U+{code:04X}{f' ({name})' if name else ''} is not allowed"


def _line_col(text: str, index: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


# --- scalar resolution ------------------------------------------------------------------

_CORE = "tag:yaml.org,2002:"
# The plain words that are not strings: one dict lookup tells them from all other text.
_PLAIN_WORDS: dict[str, bool | None] = {
    **dict.fromkeys(("", "~", "null", "Null", "NULL")),
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
}
_NUMBER_START = frozenset("0123456789+-.")
_INT = re.compile(r"[-+]?[0-9]+")
_OCT = re.compile(r"0o[0-7]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_NOT_A_NUMBER = re.compile(r"[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")
_JSON_LITERAL = re.compile(r"true|false|null|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_JSON_NOT_A_NUMBER = frozenset({"NaN", "Infinity", "-Infinity", "+Infinity"})
# str() of a larger int raises (Python's 4300-digit limit), so such a number could not be shown.
_MAX_INT_BITS = 14_000
_REFUSED_TAG_HINTS = {
    "binary": "write the data as a base64 string",
    "set": "write a sequence (a list)",
    "omap": "write a mapping, or a sequence of one-key mappings",
    "pairs": "write a sequence of one-key mappings",
    "timestamp": 'write the timestamp as a quoted string: "2026-03-14T02:17:00Z"',
    "merge": "write the keys out in full",
    "value": "write the value itself",
}
_SCALAR_TAGS = frozenset({"str", "null", "bool", "int", "float"})
# A surrogate pair escape (JSON's way to write U+10000 and above) not preceded by a backslash
# escaping its backslash. libyaml refuses these, so they become the character they encode.
_SURROGATE_PAIR = re.compile(
    r"(?<!\\)((?:\\\\)*)\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})"
)
_PAIR_SHRINK = len(r"\ud83d\ude00") - 1
# YAML caps an implicit key at 1024 characters of source; a longer one (even in JSON) ends the
# key early and the parser reports a missing ':' or ','.
_LONG_KEY = "a key may be at most 1024 characters long"


class _Refused(Exception):
    """A scalar or node that cannot be loaded; the builder turns it into a diagnostic."""

    def __init__(self, code: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint


def _resolve_plain(text: str) -> Any:
    """The value of an untagged plain scalar under our rules (see the module docstring)."""
    if text in _PLAIN_WORDS:
        return _PLAIN_WORDS[text]
    if text[0] not in _NUMBER_START:
        return text
    return _resolve_number(text)


def _resolve_number(text: str) -> Any:
    """The number a plain scalar starting with a digit, sign or dot means, else the text."""
    if _INT.fullmatch(text):
        return _integer(text, 10)
    if _OCT.fullmatch(text):
        return _integer(text[2:], 8)
    if _HEX.fullmatch(text):
        return _integer(text[2:], 16)
    if _FLOAT.fullmatch(text):
        number = float(text)
        if math.isinf(number):
            raise _Refused("PB109", f"number {text[:40]} is too large for JSON", _quote_hint(text))
        return number
    if _NOT_A_NUMBER.fullmatch(text):
        raise _Refused("PB109", f"{text} is not a JSON number", _quote_hint(text))
    return text


def _integer(digits: str, base: int) -> int:
    try:
        number = int(digits, base)
    except ValueError:
        number = None
    if number is None or number.bit_length() > _MAX_INT_BITS:
        raise _Refused("PB109", "integer is too large", _quote_hint(digits[:20] + "..."))
    return number


def _quote_hint(text: str) -> str:
    return f'quote it if you mean the text: "{text}"'


def _resolve_tagged(tag: str, text: str) -> Any:
    """The value of a scalar with an explicit tag: `!`, or a core scalar tag that fits it."""
    if tag == "!":
        return text
    name = tag.removeprefix(_CORE)
    if name == "str":
        return text
    value: Any = _resolve_plain(text) if text else None
    fits = {
        "null": value is None,
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
    }
    if name not in fits:
        raise _tag_refusal(tag, "scalar")
    if not fits[name]:
        raise _Refused(
            "PB103", f"{text!r} is not a valid !!{name}", "remove the tag or fix the value"
        )
    if name == "float":
        try:
            return float(value)
        except OverflowError:
            raise _Refused("PB109", "number is too large for JSON", _quote_hint(text)) from None
    return value


def _tag_refusal(tag: str, kind: str) -> _Refused:
    name = tag.removeprefix(_CORE)
    shown = "!!" + name if tag.startswith(_CORE) else tag
    if name in _REFUSED_TAG_HINTS:
        return _Refused("PB103", f"tag {shown} is not supported", _REFUSED_TAG_HINTS[name])
    if name in _SCALAR_TAGS or name in ("map", "seq"):
        return _Refused("PB103", f"tag {shown} cannot be used on a {kind}", "remove the tag")
    return _Refused(
        "PB103",
        f"tag {shown} is refused: documents hold plain data only",
        "remove the tag; only !!str, !!int, !!float, !!bool, !!null, !!map and !!seq are allowed",
    )


# --- building data from events ----------------------------------------------------------


@lru_cache(maxsize=1)
def _event_source() -> Any:
    """libyaml's parser when present. PyYAML is imported here, on the first document read:
    a `playbook validate` whose documents all come from the store needs none
    (docs/benchmarks.md, "Shapes")."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# Where nodes under a refused key go: such a document is never returned, so any pointer will do.
_REFUSED_POINTER = "/-"


class _Stop(Exception):
    """A problem after which the rest of the document cannot be read."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


class _Retry(Exception):
    """A rewritten escape turned out not to be inside a double-quoted string."""


# Where a collection began, kept only when its end needs it (it has an anchor, or it is a
# mapping key): its anchor, its position, the node count and the sizes of the source map before
# it.
_Opened = tuple[str | None, tuple[int, int], int, int, int]
# A collection that is still open while a nested one is read, saved as a plain tuple because
# one is built for every collection: its state (see `_Builder._events`), restored when the
# nested one ends, and the nested one's `_Opened`.
_Saved = tuple[
    list[Any] | None,
    dict[str, Any] | None,
    str,
    int,
    str | None,
    str,
    bool,
    dict[str, tuple[int, int]],
    _Opened | None,
]


@dataclass(frozen=True, slots=True)
class _Anchored:
    """What an anchor names: its value and the part of the source map its subtree wrote."""

    value: Any
    nodes: int
    height: int
    pointer: str
    values: tuple[int, int]
    keys: tuple[int, int]


class _Builder:
    """Reads the events of one text, checks limits and builds data with positions."""

    def __init__(self, text: str, display: str, limits: Limits, json_only: bool) -> None:
        self.original = text
        self.display = display
        self.limits = limits
        self.json_only = json_only

    def run(self) -> tuple[SourceDoc | None, list[Diagnostic]]:
        text, shifts = self.original, list[int]()
        if "\\u" in text:
            text, shifts = _rewrite_surrogate_pairs(text)
        try:
            return self._build(text, shifts)
        except _Retry:
            return self._build(self.original, [])

    def _build(self, text: str, shifts: list[int]) -> tuple[SourceDoc | None, list[Diagnostic]]:
        self.text, self.shifts = text, shifts
        self.problems: list[Diagnostic] = []
        # Pointer to position, in the order the nodes were read. Only a refused document (which
        # is never returned) can write a pointer twice, so `len` counts the nodes read so far.
        self.values: dict[str, tuple[int, int]] = {}
        self.keys: dict[str, tuple[int, int]] = {}
        self.blocks: dict[str, tuple[int, int]] = {}
        self.root: Any = None
        self.root_empty = False
        import yaml

        source = _event_source()(text)
        try:
            documents = self._events(source)
        except _Stop as stop:
            return None, [*self.problems, stop.diagnostic]
        except yaml.MarkedYAMLError as exc:
            return None, [*self.problems, self._syntax_error(exc)]
        except yaml.reader.ReaderError as exc:
            line, col = self._byte_position(exc.position)
            span = Span(self.display, line, col)
            message = f"YAML syntax error: {_reader_reason(exc)}"
            hint = "remove it; inside a double-quoted string it can be written as an escape (\\0)"
            return None, [*self.problems, _fail("PB101", message, span, hint)]
        except yaml.YAMLError as exc:
            return None, [
                *self.problems,
                _fail("PB101", f"YAML syntax error: {exc}", Span(self.display)),
            ]
        finally:
            source.dispose()
        if not documents or self.root_empty:
            self.problems.append(
                _fail(
                    "PB110",
                    "empty document",
                    Span(self.display, 1, 1),
                    "the file holds no data, only blank lines or comments",
                )
            )
        if self.problems:
            return None, self.problems
        return SourceDoc(self.display, self.root, self.values, self.keys, self.blocks), []

    def _events(self, source: Any) -> int:
        """Consume every event into `root`, `values` and `keys`; returns the number of
        documents (0 or 1).

        This runs once per event (~300 per playbook), so it is one loop that keeps what it
        reads in local variables: the common event (an untagged, unanchored scalar, or the
        start or end of a collection) costs no method call and no attribute lookup on `self`.
        Rare cases (tags, anchors, aliases, `.json` files, rewritten escapes, every problem)
        call the methods below.
        """
        import yaml

        scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
        map_start, seq_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
        map_end, seq_end = yaml.MappingEndEvent, yaml.SequenceEndEvent
        document_start, stream_end = yaml.DocumentStartEvent, yaml.StreamEndEvent
        get_event = source.get_event
        limits, json_only, shifts = self.limits, self.json_only, self.shifts
        max_nodes, max_depth = limits.max_nodes, limits.max_depth
        max_chars, max_aliases = limits.max_scalar_chars, limits.max_aliases
        values, keys = self.values, self.keys
        words, number_start = _PLAIN_WORDS, _NUMBER_START
        anchors: dict[str, _Anchored] = {}
        open_anchors: set[str] = set()
        stack: list[_Saved] = []
        nodes = aliases = documents = 0
        # The innermost open collection: a sequence (`items`) or a mapping (`mapping`), or
        # neither while the next node is the root. `prefix` is its pointer and a slash. `key`
        # is the mapping key whose value comes next (None when that key was refused),
        # `key_pointer` that value's pointer, and `expect_key` says the next node is a key.
        # `height` counts the levels of collections down to the deepest node so far, which an
        # anchor records for the depth limit.
        items: list[Any] | None = None
        mapping: dict[str, Any] | None = None
        prefix = key_pointer = ""
        height = 0
        key: str | None = None
        expect_key = False
        key_lines: dict[str, tuple[int, int]] = {}  # mapping: where each key was written
        while True:
            event = get_event()
            kind = type(event)
            if kind is scalar_event:
                text: str = event.value
                style = event.style
                tag = event.tag
                mark = event.start_mark
                if shifts:
                    pos = self._pos(mark)
                    if style != '"':
                        self._check_untouched(event)
                else:
                    pos = (mark.line + 1, mark.column + 1)
                nodes += 1
                if nodes > max_nodes:
                    raise self._too_many_nodes(mark)
                value: Any
                try:
                    if len(text) > max_chars:
                        raise _Refused(
                            "PB112",
                            f"scalar is longer than {max_chars} characters",
                            "keep long texts in a linked document",
                        )
                    if json_only:
                        self._check_json(event)
                    # `_resolve_plain` inline: most scalars are plain words or quoted text.
                    if tag is not None:
                        value = _resolve_tagged(tag, text)
                    elif style:
                        value = text
                    elif text in words:
                        value = words[text]
                    elif text[0] in number_start:
                        value = _resolve_number(text)
                    else:
                        value = text
                except _Refused as refused:
                    self._problem(refused, pos)
                    value = text
                anchor = event.anchor
                if expect_key:
                    if text == "<<" and not style and tag is None:
                        self._problem(
                            _Refused(
                                "PB103",
                                "merge keys ('<<') are not supported (YAML 1.1 only)",
                                "write the keys out in full, or quote '<<' to mean the text",
                            ),
                            pos,
                        )
                    expect_key = False
                    # `_key` inline for the common case, a new string key (a string value is
                    # always the scalar's text itself).
                    if value is text and text not in key_lines:
                        key_lines[text] = pos
                        key = text
                        if "~" in text or "/" in text:
                            key_pointer = prefix + escape_pointer_token(text)
                        else:
                            key_pointer = prefix + text
                        keys[key_pointer] = pos
                    else:
                        key, key_pointer = self._key(key_lines, prefix, value, pos, text)
                    if anchor is not None:
                        anchors[anchor] = _Anchored(value, 1, 0, "", (0, 0), (0, 0))
                    continue
                if items is not None:
                    child = f"{prefix}{len(items)}"
                    items.append(value)
                elif mapping is not None:
                    if key is None:
                        child = _REFUSED_POINTER
                    else:
                        child = key_pointer
                        mapping[key] = value
                    expect_key = True
                    key = None
                else:
                    child = ""
                    self.root = value
                    if not style and not text and tag is None:
                        self.root_empty = True
                values[child] = pos
                if style == "|" and not shifts:
                    self._literal_block(child, mark)
                if anchor is not None:
                    here, keys_here = len(values), len(keys)
                    anchors[anchor] = _Anchored(
                        value, 1, 0, child, (here - 1, here), (keys_here, keys_here)
                    )
            elif kind is map_start or kind is seq_start:
                mark = event.start_mark
                pos = self._pos(mark) if shifts else (mark.line + 1, mark.column + 1)
                nodes += 1
                if nodes > max_nodes:
                    raise self._too_many_nodes(mark)
                if len(stack) >= max_depth:
                    raise _Stop(
                        _fail(
                            "PB105",
                            f"nesting is deeper than {max_depth} levels",
                            Span(self.display, *pos),
                            "flatten the structure",
                        )
                    )
                if json_only:
                    self._check_json(event)
                tag = event.tag
                is_map = kind is map_start
                if tag is not None and tag != "!" and tag != _CORE + ("map" if is_map else "seq"):
                    self._problem(_tag_refusal(tag, "mapping" if is_map else "sequence"), pos)
                anchor = event.anchor
                if anchor is not None:
                    open_anchors.add(anchor)
                if expect_key:
                    child = _REFUSED_POINTER  # refused when it ends: keys are strings
                elif items is not None:
                    child = f"{prefix}{len(items)}"
                elif mapping is not None:
                    child = _REFUSED_POINTER if key is None else key_pointer
                else:
                    child = ""
                values[child] = pos
                opened: _Opened | None = None
                if anchor is not None or expect_key:
                    opened = (anchor, pos, nodes - 1, len(values) - 1, len(keys))
                stack.append(
                    (
                        items,
                        mapping,
                        prefix,
                        height,
                        key,
                        key_pointer,
                        expect_key,
                        key_lines,
                        opened,
                    )
                )
                prefix, height, key = child + "/", 1, None
                if is_map:
                    items, mapping, expect_key, key_lines = None, {}, True, {}
                else:
                    items, mapping, expect_key = [], None, False
            elif kind is map_end or kind is seq_end:
                value = mapping if items is None else items
                inner, inner_prefix = height, prefix
                (
                    items,
                    mapping,
                    prefix,
                    height,
                    key,
                    key_pointer,
                    expect_key,
                    key_lines,
                    opened,
                ) = stack.pop()
                if opened is not None:
                    anchor, pos, nodes_before, values_from, keys_from = opened
                    if anchor is not None:
                        open_anchors.discard(anchor)
                        anchors[anchor] = _Anchored(
                            value,
                            nodes - nodes_before,
                            inner,
                            inner_prefix[:-1],
                            (values_from, len(values)),
                            (keys_from, len(keys)),
                        )
                    if expect_key:
                        expect_key = False
                        key, key_pointer = self._key(key_lines, prefix, value, pos, "")
                        continue
                if items is not None:
                    items.append(value)
                elif mapping is not None:
                    if key is not None:
                        mapping[key] = value
                    expect_key = True
                    key = None
                else:
                    self.root = value
                    continue
                if inner + 1 > height:
                    height = inner + 1
            elif kind is alias_event:
                mark = event.start_mark
                pos = self._pos(mark) if shifts else (mark.line + 1, mark.column + 1)
                if json_only:
                    self._check_json(event)
                name: str = event.anchor
                anchored = anchors.get(name)
                if anchored is None:
                    raise self._unknown_alias(name, name in open_anchors, pos)
                aliases += 1
                if aliases > max_aliases:
                    raise _Stop(
                        _fail(
                            "PB104",
                            f"more than {max_aliases} aliases",
                            Span(self.display, *pos),
                            "write the repeated parts out, or split the document",
                        )
                    )
                nodes += anchored.nodes
                if nodes > max_nodes:
                    raise self._too_many_nodes(mark)
                if len(stack) + anchored.height > max_depth:
                    raise _Stop(
                        _fail(
                            "PB105",
                            f"nesting is deeper than {max_depth} levels once *{name} expands",
                            Span(self.display, *pos),
                            "flatten the structure",
                        )
                    )
                # A copy, so that a caller changing one place does not change the other.
                value = _copy(anchored.value) if anchored.height else anchored.value
                if expect_key:
                    expect_key = False
                    key, key_pointer = self._key(key_lines, prefix, value, pos, "")
                    continue
                if items is not None:
                    child = f"{prefix}{len(items)}"
                    items.append(value)
                elif mapping is not None:
                    if key is None:
                        child = _REFUSED_POINTER
                    else:
                        child = key_pointer
                        mapping[key] = value
                    expect_key = True
                    key = None
                else:
                    child = ""
                    self.root = value
                values[child] = pos
                # The anchored subtree's source map, moved under this pointer. Aliases are few
                # (`max_aliases`), so walking the dicts to the anchor's entries is cheap enough.
                base = len(anchored.pointer)
                start, end = anchored.values
                copied = islice(values.items(), start + 1, end)
                values.update([(child + p[base:], at) for p, at in copied])
                start, end = anchored.keys
                copied = islice(keys.items(), start, end)
                keys.update([(child + p[base:], at) for p, at in copied])
                if (items is not None or mapping is not None) and anchored.height + 1 > height:
                    height = anchored.height + 1
            elif kind is document_start:
                documents += 1
                if documents > 1:
                    raise _Stop(
                        _fail(
                            "PB108",
                            "several documents in one file",
                            self._span(event.start_mark),
                            "put each document in its own file, and remove the '---' line",
                        )
                    )
            elif kind is stream_end:
                return documents

    def _key(
        self,
        key_lines: dict[str, tuple[int, int]],
        prefix: str,
        key: Any,
        pos: tuple[int, int],
        text: str,
    ) -> tuple[str | None, str]:
        """A mapping key read at `pos` (`text`: its source, when a scalar): its string and
        the pointer of its value, or None after a problem if it is refused. `prefix` is the
        mapping's pointer and a slash; `key_lines` says where its keys so far were written."""
        if not isinstance(key, str):
            hint = _quote_hint(text) if text else "use a string key"
            self._problem(
                _Refused("PB109", f"mapping key is {_json_type(key)}; JSON keys are strings", hint),
                pos,
            )
            return None, ""
        first = key_lines.get(key)
        if first is not None:
            self._problem(
                _Refused(
                    "PB102",
                    f"duplicate key {key!r} (first written on line {first[0]})",
                    "remove one of them; YAML would silently keep only the last",
                ),
                pos,
            )
            return None, ""
        key_lines[key] = pos
        key_pointer = prefix + escape_pointer_token(key)
        self.keys[key_pointer] = pos
        return key, key_pointer

    # -- checks --

    def _literal_block(self, pointer: str, mark: Any) -> None:
        """Record where the text of the literal block whose `|` is at `mark` starts."""
        text = self.text
        start = text.find("\n", mark.index) + 1
        if not start:
            return
        end = len(text)
        while start < end:
            stop = text.find("\n", start)
            line = text[start : stop if stop >= 0 else end]
            if line.strip():
                indent = len(line) - len(line.lstrip(" "))
                self.blocks[pointer] = (mark.line + 2, indent + 1)
                return
            if stop < 0:
                return
            start = stop + 1

    def _too_many_nodes(self, mark: Any) -> _Stop:
        return _Stop(
            _fail(
                "PB104",
                f"document has more than {self.limits.max_nodes} nodes (keys, values and "
                "collections, counted with aliases expanded)",
                self._span(mark),
                "split it into several files; aliases multiply nodes: use fewer aliases of "
                "large anchors",
            )
        )

    def _unknown_alias(self, name: str, open_anchor: bool, pos: tuple[int, int]) -> _Stop:
        if open_anchor:
            return _Stop(
                _fail(
                    "PB104",
                    f"alias *{name} refers to a node that contains it (endless expansion)",
                    Span(self.display, *pos),
                    "remove the recursive alias",
                )
            )
        return _Stop(
            _fail(
                "PB101",
                f"YAML syntax error: alias *{name} has no anchor &{name} before it",
                Span(self.display, *pos),
                f"define &{name} on a value before any *{name}",
            )
        )

    def _check_json(self, event: Any) -> None:
        """In a `.json` file, stop at the first thing JSON does not have (NaN is a PB109)."""
        import yaml

        problem = ""
        if event.anchor is not None:
            problem = "a YAML anchor or alias"
        elif event.tag is not None:
            problem = "a YAML tag"
        elif isinstance(event, yaml.CollectionStartEvent):
            problem = "" if event.flow_style else "an indented (block) mapping or sequence"
        elif not event.style:
            text: str = event.value
            if text in _JSON_NOT_A_NUMBER:
                raise _Refused("PB109", f"{text} is not a JSON number", _quote_hint(text))
            if not text:
                problem = f"a missing value ({_LONG_KEY})"
            elif not _JSON_LITERAL.fullmatch(text):
                problem = f"unquoted text {text[:40]!r}"
        elif event.style != '"':
            problem = "a string not in double quotes"
        if problem:
            raise _Stop(
                _fail(
                    "PB101",
                    f"not JSON: {problem}",
                    self._span(event.start_mark),
                    "write strict JSON, or give the file a .yaml name",
                )
            )

    def _check_untouched(self, event: Any) -> None:
        """Raise `_Retry` if a rewritten escape lies inside this non-double-quoted scalar."""
        start = bisect_left(self.shifts, event.start_mark.index)
        if start < len(self.shifts) and self.shifts[start] < event.end_mark.index:
            raise _Retry

    def _problem(self, refused: _Refused, pos: tuple[int, int]) -> None:
        self.problems.append(
            _fail(refused.code, refused.message, Span(self.display, *pos), refused.hint)
        )

    # -- positions --

    def _pos(self, mark: Any) -> tuple[int, int]:
        if not self.shifts:
            return mark.line + 1, mark.column + 1
        # Each rewritten pair earlier on the same line made the line shorter.
        before = bisect_left(self.shifts, mark.index) - bisect_left(
            self.shifts, mark.index - mark.column
        )
        return mark.line + 1, mark.column + 1 + before * _PAIR_SHRINK

    def _span(self, mark: Any) -> Span:
        return Span(self.display, *self._pos(mark))

    def _byte_position(self, offset: int) -> tuple[int, int]:
        """libyaml reports reader errors as an offset into the UTF-8 encoding."""
        import yaml

        if _event_source() is yaml.SafeLoader:
            return _line_col(self.text, offset)
        prefix = self.text.encode("utf-8")[:offset].decode("utf-8", "replace")
        return _line_col(self.text, len(prefix))

    def _syntax_error(self, exc: yaml.MarkedYAMLError) -> Diagnostic:
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            started = exc.context_mark
            where = "" if started is None else f" on line {self._pos(started)[0]}"
            message = f"{message} ({exc.context}{where})"
        span = self._span(mark) if mark is not None else Span(self.display)
        if "maximum nesting depth" in message:
            # libyaml >= 0.2.6 scans flow collections ahead and stops at 1,000 levels by itself,
            # before our own depth check sees the events: it is the same refusal.
            return _fail(
                "PB105",
                f"nesting is deeper than {self.limits.max_depth} levels (the parser stopped "
                "at its own limit of 1,000)",
                span,
                "flatten the structure",
            )
        return _fail("PB101", f"YAML syntax error: {message}", span, _syntax_hint(message))


def _rewrite_surrogate_pairs(text: str) -> tuple[str, list[int]]:
    """Text with each surrogate pair escape written as its character, and where those are."""
    shifts: list[int] = []
    parts: list[str] = []
    last = length = 0
    for match in _SURROGATE_PAIR.finditer(text):
        high, low = int(match[2], 16), int(match[3], 16)
        char = chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
        kept = text[last : match.start()] + match[1]
        length += len(kept)
        shifts.append(length)
        parts += [kept, char]
        length += 1
        last = match.end()
    parts.append(text[last:])
    return "".join(parts), shifts


def _copy(value: Any) -> Any:
    """A copy of JSON-like data, made without recursion: depth is bounded only by the limits."""
    if not isinstance(value, dict | list):
        return value
    top: Any = {} if isinstance(value, dict) else []
    work = [(value, top)]
    while work:
        source, target = work.pop()
        items = source.items() if isinstance(source, dict) else enumerate(source)
        for key, item in items:
            if isinstance(item, dict | list):
                child: Any = {} if isinstance(item, dict) else []
                work.append((item, child))
                item = child
            if isinstance(target, dict):
                target[key] = item
            else:
                target.append(item)
    return top


def _syntax_hint(message: str) -> str:
    if "tab" in message or "cannot start any token" in message:
        return "indent with spaces, not tabs; quote values that start with @ or `"
    if "mapping values are not allowed" in message:
        return "quote a value that contains ': '"
    if "expected ',' or" in message or "expected ':'" in message:
        return f"look for a missing comma or colon; {_LONG_KEY}"
    return "check the indentation and quoting around this position"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "a mapping" if isinstance(value, dict) else "a sequence"


def _fail(code: str, message: str, span: Span, hint: str = "") -> Diagnostic:
    return error(code, message, span, hint)
