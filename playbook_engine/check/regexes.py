"""Regular expressions of `matches` leaves, run by RE2: linear time in the subject, whatever
the pattern.

Python's `re` backtracks, so a pattern such as `(a|aa)+$` or `(.*a){12}` can hang on a short
subject, and no static check finds every such shape. RE2 (the `google-re2` package) never
backtracks: each search takes time linear in the subject (capped at
`Limits.regex_subject_chars`). What RE2 cannot do is refused when the library is validated
(PB401), with a hint: backreferences (`\\1`) and look-around (`(?=…)`, `(?<!…)`) need
backtracking by definition. RE2 reads POSIX classes (`[[:alpha:]]`) as classes, as
Alertmanager and grep do.

`google-re2` is imported on the first pattern compiled: a library without `matches` leaves
never pays for it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

Search = Callable[[str], Any]
"""A compiled pattern's `search`: a match object, or None."""

_HINTS = (
    ("invalid escape sequence: \\Z", "RE2 writes the end of the text as \\z (or $)"),
    *(
        (f"invalid escape sequence: \\{digit}", "backreferences need backtracking: RE2 has none")
        for digit in "123456789"
    ),
    ("invalid perl operator: (?=", "look-ahead (?=…) needs backtracking: RE2 has none"),
    ("invalid perl operator: (?!", "look-ahead (?!…) needs backtracking: RE2 has none"),
    ("invalid perl operator: (?<", "look-behind (?<=…) needs backtracking: RE2 has none"),
    ("invalid repetition size", "RE2 repeats at most 1,000 times: write {1,1000} or +"),
)
SYNTAX_HINT = (
    "RE2 syntax (linear time): no backreferences or look-around; escape literal . ( [ with \\"
)


@lru_cache(maxsize=1024)
def compile_linear(pattern: str) -> tuple[Search | None, str, str]:
    """The pattern compiled by RE2: its `search`, or None with RE2's one-line reason and a
    hint saying what to write instead. Memoised: libraries repeat their patterns."""
    import re2

    options = re2.Options()
    options.log_errors = False  # RE2 would print to stderr; the reason is our diagnostic
    try:
        compiled = re2.compile(pattern, options)
    except re2.error as exc:
        reason = _reason(exc)
        hint = next((h for text, h in _HINTS if text in reason), SYNTAX_HINT)
        return None, reason, hint
    return compiled.search, "", ""


def _reason(exc: BaseException) -> str:
    message = exc.args[0] if exc.args else str(exc)
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return str(message).splitlines()[0] if str(message) else "invalid pattern"
