"""A static check for regular expressions that can backtrack catastrophically.

Python's `re` has no time limit, so a pattern such as `(a+)+$` can hang on a short subject.
We refuse the classic shape: an unbounded repeat whose body can itself repeat without bound
(nested quantifiers), and an unbounded repeat of an alternation whose branches can match the
same text (`(a|a)*`, `(foo|foo)+`; the parser factors common prefixes, so the
branches left over are compared). Subjects are
also capped in length (`Limits.regex_subject_chars`).
"""

from __future__ import annotations

import re
from typing import Any

_parser: Any = getattr(re, "_parser")  # noqa: B009 - the stdlib parser; `sre_parse` is deprecated
_constants: Any = getattr(re, "_constants")  # noqa: B009

_REPEATS = {
    _constants.MAX_REPEAT,
    _constants.MIN_REPEAT,
    getattr(_constants, "POSSESSIVE_REPEAT", None),
}
_MAXREPEAT = _constants.MAXREPEAT


def backtracking_risk(pattern: str) -> str | None:
    """A one-line reason the pattern may backtrack catastrophically, or None."""
    try:
        parsed = _parser.parse(pattern)
    except re.error:
        return None
    return _scan(list(parsed), inside_unbounded=False)


def _unbounded(args: Any) -> bool:
    return bool(args[1] == _MAXREPEAT or args[1] > 100)


def _scan(items: list[Any], inside_unbounded: bool) -> str | None:
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
