"""The one JSON writer: risky characters are written as escapes wherever they are, and the fast
check that finds them agrees with the pattern that escapes them on every code point."""

from __future__ import annotations

import json
import sys

from hypothesis import given
from hypothesis import strategies as st

from playbook_engine import jsonio


def test_the_fast_check_agrees_with_the_pattern_on_every_code_point() -> None:
    wrong = [
        code
        for code in range(sys.maxunicode + 1)
        if jsonio._has_risky(f"a\u2014{chr(code)}") != bool(jsonio._RISKY.match(chr(code)))
    ]
    assert wrong == []


@given(st.text(), st.text(alphabet=st.characters(codec=None)))
def test_dumps_escapes_every_risky_character_and_keeps_the_value(before: str, after: str) -> None:
    value = {"k": before + "\u2014" + after, "list": [after, before]}
    for indent in (None, 2):
        text = jsonio.dumps(value, indent)
        assert not jsonio._RISKY.search(text)
        assert json.loads(text) == value


def test_a_risky_character_after_typography_is_escaped() -> None:
    title = "db down \u2014 \u201cprimary\u201d \u202eevil \x85 \ud800"
    text = jsonio.dumps({"title": title}, None)
    assert text == '{"title": "db down \u2014 \u201cprimary\u201d \\u202eevil \\u0085 \\ud800"}\n'
