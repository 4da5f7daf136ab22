"""JSON text for any output of the engine: one writer, with risky characters escaped."""

from __future__ import annotations

import json
import re
from typing import Any

from playbook_engine.textsafe import FORMAT_CHARACTERS

# Characters JSON leaves raw under ensure_ascii=False that can still hurt where the JSON is
# shown or stored: C1 controls (0x9b starts an escape sequence in some terminals), bidi
# controls and the other invisible format characters (Unicode Cf), line separators, and lone
# surrogates, which no UTF-8 encoder accepts. They only
# ever occur inside string literals, so writing them as \uXXXX keeps the same JSON value.
_RISKY = re.compile(f"[\x7f-\x9f\u2028\u2029{FORMAT_CHARACTERS}\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # JSON writes a character beyond the BMP as its UTF-16 surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


# Every risky character's UTF-8 form starts with one of these bytes (with its form's width).
# Finding them in the encoded text is a memchr each; only the few characters found (most are
# typography such as dashes and quotes, U+2000 to U+206F) are then looked at one by one.
_RISKY_LEAD_BYTES = (
    (b"\x7f", 1),
    *((bytes([lead]), 2) for lead in (0xC2, 0xD8, 0xD9, 0xDB, 0xDC)),
    *((bytes([lead]), 3) for lead in (0xE0, 0xE1, 0xE2, 0xED, 0xEF)),
    *((bytes([lead]), 4) for lead in (0xF0, 0xF3)),
)


def _has_risky(text: str) -> bool:
    """Whether `text` holds a character `_RISKY` matches."""
    data = text.encode("utf-8", "surrogatepass")
    risky = _RISKY.match
    for lead, width in _RISKY_LEAD_BYTES:
        start = data.find(lead)
        while start >= 0:
            if risky(data[start : start + width].decode("utf-8", "surrogatepass")):
                return True
            start = data.find(lead, start + 1)
    return False


def dumps(data: Any, indent: int | None = 2) -> str:
    """`data` as JSON text ending in one newline, with risky characters escaped.

    `indent=None` writes one line (JSON Lines). Use this for any JSON holding plan data, so
    that a lone surrogate or a C1 control in an incident cannot break the output.
    """
    text = json.dumps(data, ensure_ascii=False, indent=indent, allow_nan=False)
    if text.isascii():  # the common case: nothing to look for but DEL
        return text + "\n" if "\x7f" not in text else _RISKY.sub(_escape, text) + "\n"
    return _RISKY.sub(_escape, text) + "\n" if _has_risky(text) else text + "\n"
