"""Make untrusted text inert on a terminal: control and bidi characters become visible escapes."""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, C1 controls, the line/paragraph separators that
# terminals and editors treat as line breaks, and every character of Unicode's format category
# (Cf, Unicode 14): bidi marks, embeddings, overrides and isolates, zero-width spaces and
# joiners, the soft hyphen, the BOM, invisible operators and tag characters, which hide or
# reorder text without showing themselves.
FORMAT_CHARACTERS = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f"
)
# Lone surrogates too: a file name's undecodable bytes (`bad\xff.yaml` reads as `bad\udcff`)
# would otherwise be written as raw invalid bytes.
_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029{FORMAT_CHARACTERS}\ud800-\udfff]")


UNSAFE_CHARACTERS = _UNSAFE.pattern[1:-1]
"""The characters `visible` escapes, as the inside of a regex character class."""


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


_UNSAFE_ASCII = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


def visible(text: str, keep_newlines: bool = True) -> str:
    """`text` with every unsafe character shown as an escape such as `\\x1b` or `\\u202e`."""
    if text.isascii() and text.isprintable():  # nothing to escape: no control, no line break
        return text
    # Most text is ASCII, and the full class (with Unicode's format characters) is three
    # times slower to scan: one pass of isascii() picks the small class.
    escaped = (_UNSAFE_ASCII if text.isascii() else _UNSAFE).sub(_escape, text)
    return escaped if keep_newlines else escaped.replace("\n", "\\n")


def one_line(text: str) -> str:
    """`text` made visible on one line: line breaks and tabs too become escapes."""
    if text.isascii() and text.isprintable():
        return text
    return visible(text, keep_newlines=False).replace("\t", "\\t")
