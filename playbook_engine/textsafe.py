"""Make untrusted text inert on a terminal: control and bidi characters become visible escapes."""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, C1 controls, bidi embeddings/overrides/isolates,
# and the line/paragraph separators that terminals and editors treat as line breaks.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, keep_newlines: bool = True) -> str:
    """`text` with every unsafe character shown as an escape such as `\\x1b` or `\\u202e`."""
    escaped = _UNSAFE.sub(_escape, text)
    return escaped if keep_newlines else escaped.replace("\n", "\\n")
