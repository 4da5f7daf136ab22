"""JSON text for any output of the engine: one writer, with risky characters escaped."""

from __future__ import annotations

import json
import re
from typing import Any

# Characters JSON leaves raw under ensure_ascii=False that can still hurt where the JSON is
# shown or stored: C1 controls (0x9b starts an escape sequence in some terminals), bidi
# controls, line separators, and lone surrogates, which no UTF-8 encoder accepts. They only
# ever occur inside string literals, so writing them as \uXXXX keeps the same JSON value.
_RISKY = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def dumps(data: Any, indent: int | None = 2) -> str:
    """`data` as JSON text ending in one newline, with risky characters escaped.

    `indent=None` writes one line (JSON Lines). Use this for any JSON holding plan data, so
    that a lone surrogate or a C1 control in an incident cannot break the output.
    """
    text = json.dumps(data, ensure_ascii=False, indent=indent, allow_nan=False)
    return _RISKY.sub(_escape, text) + "\n"
