"""The static check for catastrophic backtracking in `matches` patterns."""

from __future__ import annotations

import pytest

from playbook_engine.check.regexes import backtracking_risk


@pytest.mark.parametrize(
    "pattern",
    [
        r"(a+)+$",
        r"(a*)*b",
        r"^(\w+\s?)*$",
        r"(x+x+)+y",
        r"(.*a){1000}",
        r"(a|a)*",
        r"(foo|foo)+x",
        r"((ab)+c)+",
        r"(?=(a+)+)b",
        r".*.*=",
        r"[a-z]*[0-9a]*x",
        r".*a.*b",
        r"\w+\s*\w+x",
    ],
)
def test_refuses_nested_unbounded_repeats(pattern: str) -> None:
    assert backtracking_risk(pattern) is not None


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?i)timeout",
        r"^db-(primary|replica)-[0-9]+$",
        r"(\d{1,3}\.){3}\d{1,3}",
        r".*foo.*",
        r"(a|b)*",
        r"(ab|ac)*",
        r"^5\d\d$",
        r"data (loss|corruption)",
        r".+@.+",
        r"\w+\s+\w+x",
        r"[a-z]+[0-9]+x",
    ],
)
def test_accepts_ordinary_patterns(pattern: str) -> None:
    assert backtracking_risk(pattern) is None


def test_invalid_pattern_is_left_to_the_compiler() -> None:
    assert backtracking_risk("(unclosed") is None
