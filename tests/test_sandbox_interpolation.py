"""Templates that only interpolate values (`{{ incident.title }}` in text) render without
Jinja2; these tests pin that path to Jinja2's own rendering of the same template: the same
text or the same error, and the same budget spent."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playbook_engine.sandbox import TemplateError, compile_template, plan_budget, render
from playbook_engine.sandbox.templates import CompiledTemplate, _interpolated

MODES = ["plain", "markdown", "chat", "header", "chat-header"]
NAMES = ["incident", "priority", "title", "items", "keys", "none", "self", "loop", "x", "a_b"]

_VALUES = st.one_of(
    st.text(max_size=12),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
)
CONTEXTS = st.recursive(
    _VALUES, lambda inner: st.dictionaries(st.sampled_from(NAMES), inner, max_size=4), max_leaves=12
).filter(lambda c: isinstance(c, dict))

_LITERALS = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=8
)
_PATHS = st.lists(st.sampled_from(NAMES), min_size=1, max_size=3).map(".".join)
_SPACES = st.sampled_from(["", " ", "  ", "\n", "\t"])
_DEFAULTS = st.one_of(
    st.just(""),
    st.builds(lambda text: f' | default("{text}")', st.text("ab {}'\\", max_size=4)),
    st.builds(lambda text: f"|default('{text}')", st.text('ab "', max_size=3)),
)
TEMPLATES = st.lists(
    st.one_of(
        _LITERALS,
        st.tuples(_SPACES, _PATHS, _DEFAULTS, _SPACES).map(lambda t: "{{" + "".join(t) + "}}"),
    ),
    min_size=1,
    max_size=6,
).map("".join)


def _outcome(template: CompiledTemplate, context: dict[str, Any]) -> tuple[str, str, int]:
    with plan_budget() as budget:
        try:
            return "text", render(template, context), budget.work
        except TemplateError as exc:
            return "error", exc.message, budget.work


@settings(max_examples=400, deadline=None)
@given(TEMPLATES, CONTEXTS, st.sampled_from(MODES))
def test_the_fast_path_renders_as_jinja2_does(source: str, context: Any, mode: str) -> None:
    try:
        compiled = compile_template(source, mode)
    except TemplateError:
        return
    by_jinja = dataclasses.replace(compiled, parts=None)
    assert _outcome(compiled, context) == _outcome(by_jinja, context)


@pytest.mark.parametrize(
    ("source", "fast"),
    [
        ("Reported by {{ incident.reporter }}.\n", True),
        ("{{incident.title}}", True),
        ("{{ incident.title | upper }}", False),
        ('{{ incident.reporter | default("unknown") }}', True),
        ("{{ incident.reporter|default('n/a') }}", True),
        ('{{ incident.reporter | default("{{ x }}") }}', False),
        ('{{ incident.reporter | default("a\\"b") }}', False),
        ("{{ incident.reporter | default(incident.x) }}", False),
        ('{{ range | default("x") }}', False),  # a global, not the context's
        ("{% if x %}y{% endif %}", False),
        ("{{ incident.items }}", False),  # a dict method, not the key
        ("{{ none }}", False),
        ("{ {{ x }} }", False),
        ("a } {{ x }}", False),
        ("a\r\n{{ x }}", False),
        ("{{- x }}", False),
        ("{{ x['y'] }}", False),
    ],
)
def test_which_templates_take_the_fast_path(source: str, fast: bool) -> None:
    assert (compile_template(source, "plain").parts is not None) is fast
    assert compile_template(source, "html").parts is None


def test_the_fast_path_escapes_as_the_mode_does() -> None:
    context = {"incident": {"title": "*bold* @here <!channel>\n\x1b[31m", "n": 3, "f": 0.5}}
    for mode in MODES:
        compiled = compile_template(
            "T: {{ incident.title }} {{ incident.n }}/{{ incident.f }}", mode
        )
        assert compiled.parts is not None
        with plan_budget():
            assert _interpolated(compiled, context) is not None  # no fallback to Jinja2 here
        assert _outcome(compiled, context) == _outcome(
            dataclasses.replace(compiled, parts=None), context
        )
