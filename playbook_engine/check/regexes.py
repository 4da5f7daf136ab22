"""A static check for regular expressions that can backtrack catastrophically.

Python's `re` has no time limit, so a pattern such as `(a+)+$` can hang on a short subject.
We refuse the classic shape: an unbounded repeat whose body can itself repeat without bound
(nested quantifiers), and an unbounded repeat of an alternation whose branches can match the
same text (`(a|a)*`, `(foo|foo)+`; the parser factors common prefixes, so the
branches left over are compared). We also refuse two unbounded repeats of overlapping
characters in a row when only optional text, or text the first can match, stands between
them and something follows that can fail: `.*.*=`, `[a-z]*[0-9a]*x`, `.*a.*b` take time
polynomial in the subject (`.*.*.*=` needs 37 seconds for 1,000 characters). Subjects are
also capped in length (`Limits.regex_subject_chars`). This is a check for the known shapes,
not a proof: Python's `re` has no time limit.
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache
from typing import Any

_parser: Any = getattr(re, "_parser")  # noqa: B009 - the stdlib parser; `sre_parse` is deprecated
_constants: Any = getattr(re, "_constants")  # noqa: B009

_REPEATS = {
    _constants.MAX_REPEAT,
    _constants.MIN_REPEAT,
    getattr(_constants, "POSSESSIVE_REPEAT", None),
}
_MAXREPEAT = _constants.MAXREPEAT


@lru_cache(maxsize=1024)
def _parse(pattern: str) -> tuple[Any, str]:
    """The parsed pattern (None if it does not parse) and the parser's first FutureWarning
    ('' if none), caught, never printed; memoised (libraries repeat their patterns, and
    parsing is slow). `re.compile` warns only when it first compiles a
    pattern: asking the parser, through this memo, gives the same answer every time."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FutureWarning)
        try:
            parsed = _parser.parse(pattern)
        except re.error:
            parsed = None
    futures = [str(w.message) for w in caught if issubclass(w.category, FutureWarning)]
    return parsed, futures[0] if futures else ""


def backtracking_risk(pattern: str) -> str | None:
    """A one-line reason the pattern may backtrack catastrophically, or None."""
    parsed = _parse(pattern)[0]
    return None if parsed is None else _scan(list(parsed), inside_unbounded=False)


def ambiguous_set(pattern: str) -> str:
    """Python's warning about a set in `pattern` that it reads literally and may read
    otherwise one day, such as a POSIX class (`[[:alpha:]]`), or ''."""
    return _parse(pattern)[1]


def _unbounded(args: Any) -> bool:
    return bool(args[1] == _MAXREPEAT or args[1] > 100)


# Characters to compare repeats by: ASCII, and a letter, digit and space from beyond it.
_PROBES = tuple(chr(code) for code in range(128)) + ("\u00e9", "\u0663", "\u00a0", "\u4e00")
_CATEGORIES = {
    _constants.CATEGORY_DIGIT: r"\d",
    _constants.CATEGORY_NOT_DIGIT: r"\D",
    _constants.CATEGORY_SPACE: r"\s",
    _constants.CATEGORY_NOT_SPACE: r"\S",
    _constants.CATEGORY_WORD: r"\w",
    _constants.CATEGORY_NOT_WORD: r"\W",
}


def _chars(item: Any) -> frozenset[str] | None:
    """The probe characters a single-character item may match (ignoring case, so more rather
    than fewer), or None if the item is not one character."""
    op, args = item
    if op == _constants.ANY:
        return frozenset(_PROBES)
    if op == _constants.LITERAL:
        return frozenset({chr(args).lower(), chr(args).upper()})
    if op == _constants.NOT_LITERAL:
        return frozenset(_PROBES) - {chr(args)}
    if op != _constants.IN:
        return None
    parts, negate = [], ""
    for kind, value in args:
        if kind == _constants.NEGATE:
            negate = "^"
        elif kind == _constants.LITERAL:
            parts.append(re.escape(chr(value)))
        elif kind == _constants.RANGE:
            parts.append(f"{re.escape(chr(value[0]))}-{re.escape(chr(value[1]))}")
        elif kind == _constants.CATEGORY and value in _CATEGORIES:
            parts.append(_CATEGORIES[value])
        else:
            return frozenset(_PROBES)
    pattern = re.compile(f"[{negate}{''.join(parts)}]", re.IGNORECASE)
    return frozenset(probe for probe in _PROBES if pattern.fullmatch(probe))


def _repeat_chars(item: Any) -> frozenset[str] | None:
    """What an unbounded repeat of single characters may match, else None."""
    op, args = item
    if op not in _REPEATS or not _unbounded(args) or len(args[2]) != 1:
        return None
    return _chars(list(args[2])[0])


def _ambiguous_run(items: list[Any]) -> str | None:
    for index, item in enumerate(items):
        first = _repeat_chars(item)
        if first is None:
            continue
        for position in range(index + 1, len(items)):
            later = items[position]
            second = _repeat_chars(later)
            op, args = later
            optional = op in _REPEATS and args[0] == 0
            if second is not None and first & second:
                if position + 1 < len(items):
                    return "two unbounded repeats in a row can match the same text"
                break
            eaten = _chars(later)
            if not (op == _constants.AT or optional or (eaten is not None and eaten <= first)):
                break
    return None


def _scan(items: list[Any], inside_unbounded: bool) -> str | None:
    ambiguous = _ambiguous_run(items)
    if ambiguous:
        return ambiguous
    for op, args in items:
        if op in _REPEATS:
            body = list(args[2])
            if _unbounded(args):
                if inside_unbounded:
                    return "a repeated group contains another unbounded repeat"
                found = _scan(body, inside_unbounded=True)
            else:
                found = _scan(body, inside_unbounded)
            if found:
                return found
        elif op == _constants.SUBPATTERN:
            found = _scan(list(args[-1]), inside_unbounded)
            if found:
                return found
        elif op == _constants.BRANCH:
            if inside_unbounded and _has_duplicate_branches(args):
                return "a repeated alternation has branches that match the same text"
            for branch in args[1]:
                found = _scan(list(branch), inside_unbounded)
                if found:
                    return found
        elif op in (_constants.ASSERT, _constants.ASSERT_NOT):
            found = _scan(list(args[1]), inside_unbounded)
            if found:
                return found
    return None


def _has_duplicate_branches(args: Any) -> bool:
    branches = [repr(branch) for branch in args[1]]
    return len(branches) != len(set(branches))
