"""Tests for the Jinja2 sandbox: refused escapes, resource caps, escaping per output mode."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import escape as html_escape

from playbook_engine.sandbox import (
    MODES,
    TemplateError,
    attribute_paths,
    compile_expression,
    compile_template,
    environment,
    escape,
    evaluate_expression,
    render,
    template_variables,
)

CONTEXT: dict[str, Any] = {
    "incident": {
        "id": "INC-1",
        "title": "Checkout returns 502",
        "service": "checkout-api",
        "labels": {"team": "payments"},
        "alerts": [{"status": "firing", "name": "HighErrorRate"}, {"status": "resolved"}],
        "customersAffected": 1200,
    },
    "priority": {"id": "P1", "name": "Critical", "description": "Down"},
    "impact": "extensive",
    "urgency": "critical",
}


def run(source: str, mode: str = "plain", context: dict[str, Any] | None = None) -> str:
    return render(compile_template(source, mode), CONTEXT if context is None else context)


def refused(source: str, mode: str = "plain", context: dict[str, Any] | None = None) -> str:
    """The message of the TemplateError that compiling or rendering `source` raises."""
    with pytest.raises(TemplateError) as info:
        run(source, mode, context)
    assert "\n" not in info.value.message
    return info.value.message


@contextmanager
def within_a_second() -> Iterator[None]:
    began = time.perf_counter()
    yield
    assert time.perf_counter() - began < 1.0


# --- what templates can do ------------------------------------------------------------------


def test_renders_context_values() -> None:
    assert run("[{{ priority.id }}] {{ incident.title }} on {{ incident.service }}") == (
        "[P1] Checkout returns 502 on checkout-api"
    )


def test_everyday_features_work() -> None:
    source = (
        "{{ incident.detectedAt | default('not detected') }}; "
        "{{ incident.alerts | map(attribute='status') | join(', ') }}; "
        "{{ incident.alerts | selectattr('status', 'equalto', 'firing') | list | length }}; "
        "{% for alert in incident.alerts %}{{ loop.index }}={{ alert.status | upper }} "
        "{% endfor %}; "
        "{{ incident.title.lower().split() | first }}; "
        "{{ incident.labels.get('team') }} {{ incident.labels.items() | list }}; "
        "{{ (incident.customersAffected / 1000) | round(1) }}k; "
        "{% if incident.labels.team is defined and impact in ['extensive', 'significant'] %}"
        "wide{% endif %}; "
        "{{ range(3) | join('') }} {{ 7 * 6 }} {{ 2 ** 10 }} {{ 'ab' * 3 }} {{ 'a' ~ 1 }}"
    )
    assert run(source) == (
        "not detected; firing, resolved; 1; 1=FIRING 2=RESOLVED ; checkout; "
        "payments [('team', 'payments')]; 1.2k; wide; 012 42 1024 ababab a1"
    )


def test_blocks_on_their_own_lines_leave_no_blank_lines() -> None:
    source = "Steps:\n  {% if priority.id == 'P1' %}\n- page\n  {% endif %}\n- write\n"
    assert run(source) == "Steps:\n- page\n- write"


def test_a_value_that_looks_like_a_template_stays_text() -> None:
    context = {"incident": {"title": "{{ 7*7 }} {% for x in range(9) %}x{% endfor %}"}}
    assert run("{{ incident.title }}", context=context) == (
        "{{ 7*7 }} {% for x in range(9) %}x{% endfor %}"
    )


def test_compiled_templates_and_environments_are_shared() -> None:
    assert compile_template("{{ impact }}", "chat") is compile_template("{{ impact }}", "chat")
    assert compile_expression("impact == 'x'") is compile_expression("impact == 'x'")
    assert environment("html") is environment("html")
    with pytest.raises(ValueError, match="unknown output mode 'sms'"):
        environment("sms")


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ incident.servce }}", "'incident' has no attribute 'servce'"),
        ("{{ incident.labels.teem }}", "'incident.labels' has no attribute 'teem'"),
        ("{{ incident['labels']['teem'] }}", "'incident.labels' has no attribute 'teem'"),
        ("{{ incident.alerts[5].status }}", "'incident.alerts' has no item 5"),
        ("{{ incident.alerts[1].name }}", "'incident.alerts.1' has no attribute 'name'"),
        ("{{ incidnet.title }}", "'incidnet' is undefined"),
        ("{{ incident.servce | upper }}", "'incident' has no attribute 'servce'"),
        ("{% set x = {'a': 1} %}{{ x.b }}", "'dict object' has no attribute 'b'"),
    ],
)
def test_undefined_names_are_errors_that_name_the_path(source: str, message: str) -> None:
    assert refused(source) == message


def test_errors_carry_the_line_inside_the_template() -> None:
    with pytest.raises(TemplateError) as info:
        compile_template("line one\nline two\n{{ incident.title }\n", "plain")
    assert (info.value.message, info.value.line) == ("unexpected '}'", 3)
    assert str(info.value) == "unexpected '}'"
    with pytest.raises(TemplateError) as info:
        run("ok\n{% if true %}\n{{ incident.nope }}\n{% endif %}")
    assert (info.value.message, info.value.line) == ("'incident' has no attribute 'nope'", 3)
    with pytest.raises(TemplateError) as info:
        run("{{ 1 }}\n{{ 1 / 0 }}")
    assert (info.value.message, info.value.line) == ("division by zero", 2)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ incident.title - 1 }}", "unsupported operand type(s) for -: 'str' and 'int'"),
        ("{{ [1, 'a'] | sort }}", "'<' not supported between instances of 'str' and 'int'"),
        ("{{ incident.title.split('') }}", "empty separator"),
    ],
)
def test_python_errors_become_template_errors(source: str, message: str) -> None:
    assert refused(source) == message


# --- one test per known escape ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "{{ ''.__class__.__mro__[1].__subclasses__() }}",
            "'str.__class__' is not available in templates",
        ),
        ("{{ cycler.__init__.__globals__ }}", "'cycler' is undefined"),
        ("{{ lipsum.__globals__ }}", "'lipsum' is undefined"),
        ("{{ joiner }}{{ namespace }}", "'joiner' is undefined"),
        (
            '{{ "{0.__class__}".format(incident) }}',
            "'str.format' is not available in templates",
        ),
        (
            '{{ "{title.__class__}".format_map(incident) }}',
            "'str.format_map' is not available in templates",
        ),
        ('{{ "%s" % incident }}', "'%' formatting is not available in templates: join text with ~"),
        ('{{ incident | attr("__class__") }}', "No filter named 'attr'."),
        ("{{ incident.title | format(1) }}", "No filter named 'format'."),
        ("{{ {'a': 1} | xmlattr }}", "No filter named 'xmlattr'."),
        ("{{ incident | pprint }}", "No filter named 'pprint'."),
        ("{{ incident.title | safe }}", "No filter named 'safe'."),
        ("{{ [1, 2] | random }}", "No filter named 'random'."),
        ('{% set f = "".join %}{{ f(["a", "b"]) }}', "'str.join' is not available in templates"),
        ('{% set f = "{0}".format %}{{ f(1) }}', "'str.format' is not available in templates"),
        (
            "{{ self._TemplateReference__context }}",
            "'TemplateReference._TemplateReference__context' is not available in templates",
        ),
        (
            "{{ incident.labels.update({'team': 'x'}) }}",
            "'dict.update' is not available in templates",
        ),
        ("{{ incident.alerts.append(1) }}", "'list.append' is not available in templates"),
        ("{{ dict.fromkeys('abc') }}", "'type.fromkeys' is not available in templates"),
        (
            "{{ incident.alerts | map(attribute='__class__') | list }}",
            "'dict.__class__' is not available in templates",
        ),
        ("{{ ''['__class__'] }}", "'str.__class__' is not available in templates"),
        ("{{ incident | map('attr', '__class__') | list }}", "No filter named 'attr'."),
        (
            "{{ incident.alerts | sort(attribute='__class__') }}",
            "'dict.__class__' is not available in templates",
        ),
        ("{{ dict.mro() }}", "'type.mro' is not available in templates"),
        ("{{ loop.__class__ }}", "'loop' is undefined"),
        ("{{ incident.title.upper }}", "a function cannot be used as a value: call it"),
        ("{{ range }}", "a function cannot be used as a value: call it"),
        (
            "{{ incident.alerts | map(attribute='status') }}",
            "a lazy sequence cannot be used as a value here: add |list",
        ),
        (
            '{% include "other.txt" %}',
            "'include' is not available: a template cannot load other templates",
        ),
        (
            '{% import "m.txt" as m %}',
            "'import' is not available: a template cannot load other templates",
        ),
        (
            '{% from "m.txt" import x %}',
            "'from' is not available: a template cannot load other templates",
        ),
        (
            '{% extends "base.txt" %}',
            "'extends' is not available: a template cannot load other templates",
        ),
        (
            "{% autoescape false %}{{ incident.title }}{% endautoescape %}",
            "'autoescape' blocks are not available: escaping depends on where the text goes",
        ),
    ],
)
def test_escapes_are_refused(source: str, message: str) -> None:
    assert refused(source) == message


# --- resource caps --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('{{ "a" * 10**9 }}', "a value in the template is larger than 100,000 characters"),
        ("{{ 10 ** 9 * 'a' }}", "a value in the template is larger than 100,000 characters"),
        ("{{ [1] * 10**9 }}", "a value in the template is larger than 100,000 characters"),
        ("{{ 10 ** (10 ** 10) }}", "a number in the template is larger than 4,096 bits"),
        ("{{ (2 ** 4000) * (2 ** 4000) }}", "a number in the template is larger than 4,096 bits"),
        ("{{ range(10**9) | length }}", "range() may produce at most 1,000 numbers"),
        ("{{ range(10**30) | length }}", "range() may produce at most 1,000 numbers"),
        ('{{ "x" | indent(10**9) }}', "a value in the template is larger than 100,000 characters"),
        (
            '{{ "aaaa" | replace("a", "b" * 50000) }}',
            "a value in the template is larger than 100,000 characters",
        ),
        (
            '{{ "aaaa".replace("a", "b" * 50000) }}',
            "a value in the template is larger than 100,000 characters",
        ),
        (
            '{{ range(1000) | join("x" * 1000) }}',
            "a value in the template is larger than 100,000 characters",
        ),
        ("{{ incident | tojson(indent=10**8) }}", "tojson indent may be at most 8"),
        (
            '{% set a = "x" * 60000 %}{{ (a ~ a) | length }}',
            "a value in the template is larger than 100,000 characters",
        ),
        (
            '{% set a = "x" * 60000 %}{{ (a + a) | length }}',
            "a value in the template is larger than 100,000 characters",
        ),
        (
            '{% set a = "x" * 60000 %}{{ [a, a] | length }}',
            "a value in the template is larger than 100,000 characters",
        ),
        (
            '{% set a = "x" * 60000 %}{{ {"k": a, "l": a} | length }}',
            "a value in the template is larger than 100,000 characters",
        ),
        (
            '{% set a = ["x" * 600] * 100 %}{{ a * 2 }}',
            "a value in the template is larger than 100,000 characters",
        ),
        (
            "{% for i in range(1000) %}{{ '-' * 200 }}{% endfor %}",
            "the rendered text is longer than 100,000 characters",
        ),
        (
            "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
            "the template runs more than 10,000 loop iterations and calls",
        ),
        (
            "{% set x %}{% for i in range(1000) %}{% for j in range(9) %}"
            + "x" * 200
            + "{% endfor %}{% endfor %}{% endset %}done",
            "the template produces more than 1,000,000 characters of text in all",
        ),
        (
            "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
            "the template calls itself too deeply",
        ),
        (
            "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
            "{{ f(40) }}",
            "the template runs more than 10,000 loop iterations and calls",
        ),
    ],
)
def test_resource_caps_answer_quickly_with_an_error(source: str, message: str) -> None:
    with within_a_second():
        assert refused(source) == message


def test_constant_arithmetic_never_runs_at_compile_time() -> None:
    # Stock Jinja2 folds `"a" * 10**9` while compiling and hangs. Here the compiler bounds
    # literal arithmetic without computing it (and refuses what is past a cap, so `validate`
    # reports it); anything else waits for the render.
    for source in (
        '{{ "a" * 10**9 }}',
        '{{ ("a" ~ "b") * 10**10 }}',
        '{{ "a\nb" | indent(10**9) }}',
        '{{ ("a" ~ x) * 10**9 }}',
    ):
        with within_a_second():
            try:
                compile_template(source, "markdown")
            except TemplateError as refused:
                assert refused.message == (
                    "a value in the template is larger than 100,000 characters"
                )
            template_variables(source)
            attribute_paths(source)
    with within_a_second(), pytest.raises(TemplateError) as info:
        compile_expression('"a" * 10**9')
    assert info.value.message == "a value in the template is larger than 100,000 characters"
    with within_a_second(), pytest.raises(TemplateError) as info:
        evaluate_expression(compile_expression('("a" ~ x) * 10**9'), {"x": ""})
    assert info.value.message == "a value in the template is larger than 100,000 characters"


def test_power_is_left_associative_and_small() -> None:
    # Jinja2 reads 10**10**10 as (10**10)**10: a hundred zeros, not a hang.
    with within_a_second():
        assert run("{{ 10**10**10 }}") == "1" + "0" * 100


def test_source_size_caps() -> None:
    with pytest.raises(TemplateError, match="^the template is longer than 10,000 characters$"):
        compile_template("x" * 10_001, "plain")
    assert run("x" * 10_000) == "x" * 10_000
    with pytest.raises(TemplateError, match="^the expression is longer than 2,000 characters$"):
        compile_expression("1" * 2_001)


def test_large_values_from_the_incident_are_fine_until_output() -> None:
    context = {"incident": {"description": "y" * 150_000}}
    assert run("{{ incident.description | length }}", context=context) == "150000"
    assert run("{{ incident.description[:5] }}", context=context) == "yyyyy"
    assert refused("{{ incident.description }}", context=context) == (
        "a value in the template is larger than 100,000 characters"
    )


# --- escaping per output mode ---------------------------------------------------------------

HOSTILE = {
    "mention": "@channel @Here @everyone <!here> <!channel> <@U123> <#C123> <https://x.example|click>",
    "checklist": "ok\n- [ ] forged",
    "leading": "\n- [ ] forged",
    "html": "</b><script>alert(1)</script>",
    "header": "Outage\r\nBcc: attacker@example.com",
    "ansi": "\x1b[31mred\x1b[0m",
    "bidi": "abc\u202edcba",
    "markdown": "# h *b* _i_ snake_case `c` [l](u) | t \\ > q",
    "numbered": "1. first",
    "tab": "a\tb\x00c",
}


@pytest.mark.parametrize(
    ("mode", "key", "expected"),
    [
        ("plain", "checklist", "ok - [ ] forged"),
        ("plain", "ansi", "\\x1b[31mred\\x1b[0m"),
        ("plain", "bidi", "abc\\u202edcba"),
        ("plain", "header", "Outage Bcc: attacker@example.com"),
        ("plain", "tab", "a\tb\\x00c"),
        ("markdown", "checklist", "ok - \\[ \\] forged"),
        ("markdown", "leading", " \\- \\[ \\] forged"),
        ("markdown", "numbered", "1\\. first"),
        (
            "markdown",
            "markdown",
            "\\# h \\*b\\* \\_i\\_ snake_case \\`c\\` \\[l\\](u) \\| t \\\\ \\> q",
        ),
        ("markdown", "html", "\\</b\\>\\<script\\>alert(1)\\</script\\>"),
        ("markdown", "ansi", "\\x1b\\[31mred\\x1b\\[0m"),
        (
            "chat",
            "mention",
            "@\u200dchannel @\u200dHere @\u200deveryone &lt;!here&gt; &lt;!channel&gt; "
            "&lt;@\u200dU123&gt; &lt;#C123&gt; &lt;https://x.example|click&gt;",
        ),
        ("chat", "checklist", "ok\n- [ ] forged"),
        ("chat", "header", "Outage\nBcc: attacker@example.com"),
        ("chat", "bidi", "abc\\u202edcba"),
        ("html", "html", "&lt;/b&gt;&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("html", "ansi", "\\x1b[31mred\\x1b[0m"),
        ("header", "header", "Outage Bcc: attacker@example.com"),
        ("header", "ansi", "[31mred[0m"),
        ("header", "bidi", "abcdcba"),
        ("header", "tab", "a bc"),
    ],
)
def test_values_are_escaped_for_their_output(mode: str, key: str, expected: str) -> None:
    assert run("{{ " + key + " }}", mode, HOSTILE) == expected
    assert escape(HOSTILE[key], mode) == (
        expected if mode != "html" else expected.replace("&lt;", "<").replace("&gt;", ">")
    )


def test_escaping_applies_to_values_only() -> None:
    source = "- [ ] **{{ v }}**\n<b>@here</b>"
    context = {"v": "<i>@here</i>"}
    assert run(source, "markdown", context) == "- [ ] **\\<i\\>@here\\</i\\>**\n<b>@here</b>"
    assert run(source, "chat", context) == "- [ ] **&lt;i&gt;@\u200dhere&lt;/i&gt;**\n<b>@here</b>"
    assert run(source, "html", context) == "- [ ] **&lt;i&gt;@here&lt;/i&gt;**\n<b>@here</b>"


def test_html_keeps_tojson_safe_and_escapes_concatenation() -> None:
    context = {"v": {"a": "</script>"}, "w": "<b>"}
    assert run("{{ v | tojson }}", "html", context) == '{"a": "\\u003c/script\\u003e"}'
    assert run("{{ v | tojson(2) }}", "plain", context) == '{   "a": "\\u003c/script\\u003e" }'
    assert run("{{ w ~ '!' }}", "html", context) == "&lt;b&gt;!"


@given(st.sampled_from(MODES), st.text())
def test_rendering_text_values_never_evaluates_them(mode: str, text: str) -> None:
    # Values are data: the output is the escaped value, whatever it contains.
    out = render(compile_template("{{ v }}", mode), {"v": text})
    expected = escape(text, mode)
    assert out == (str(html_escape(expected)) if mode == "html" else expected)


@given(
    st.sampled_from(MODES),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=10,
    ),
)
def test_rendering_any_data_raises_only_template_errors(mode: str, value: object) -> None:
    source = (
        "{{ v }} {{ v | tojson }} {{ v | string | upper }} "
        "{{ v | length if v is iterable else 0 }} "
        "{% for x in (v if v is iterable else []) %}{{ x }}{% endfor %} "
        "{{ v.missing | default('-') }}"
    )
    try:
        out = render(compile_template(source, mode), {"v": value})
    except TemplateError as exc:
        assert "\n" not in exc.message
    else:
        if mode in ("plain", "markdown", "header"):
            assert "\n" not in out and "\r" not in out


JINJA_PIECES = (
    "{{ }} {% %} {# #} ( ) [ ] { } . , | ~ * ** + - / // % = == ' \" \n x 1 10 a incident title "
    "alerts for in endfor if else endif set endset macro endmacro call endcall raw endraw "
    "filter endfilter range loop self caller upper join default __class__ not is defined"
).split(" ")


@given(st.lists(st.sampled_from(JINJA_PIECES), max_size=40).map(" ".join), st.sampled_from(MODES))
def test_any_source_fails_only_with_template_errors(source: str, mode: str) -> None:
    try:
        template = compile_template(source, mode)
        render(template, CONTEXT)
        template_variables(source)
        attribute_paths(source)
    except TemplateError as exc:
        assert "\n" not in exc.message
        assert exc.line >= 0


# --- expressions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("priority.id in ['P1', 'P2'] and incident.labels.team == 'payments'", True),
        ("incident.customersAffected > 1000", True),
        ("incident.alerts | selectattr('status', 'equalto', 'firing') | list | length", 1),
        ("incident.alerts | selectattr('status', 'equalto', 'none')", []),
        ("incident.title is string and 'checkout' in incident.title.lower()", True),
        ("incident.detectedAt is defined", False),
    ],
)
def test_expressions_evaluate(source: str, expected: object) -> None:
    assert evaluate_expression(compile_expression(source), CONTEXT) == expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("incident.servce", "'incident' has no attribute 'servce'"),
        ("incident.servce == 'x'", "'incident' has no attribute 'servce'"),
        ("''.__class__", "'str.__class__' is not available in templates"),
        ("range(10**6) | list", "range() may produce at most 1,000 numbers"),
    ],
)
def test_expression_errors(source: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        evaluate_expression(compile_expression(source), CONTEXT)
    assert info.value.message == message


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("1 +", "unexpected 'end of template'"),
        ("x }}{% include 'a' %}{{ y", "chunk after expression"),
        ("{% if x %}", "unexpected '%'"),
        ("x | format('a')", "No filter named 'format'."),
    ],
)
def test_expression_syntax_errors(source: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        compile_expression(source)
    assert info.value.message == message


# --- static analysis ----------------------------------------------------------------------------


def test_template_variables() -> None:
    source = (
        "{% set x = 1 %}{{ incident.title }}{{ x }}{{ prioirty.id }}"
        "{% for a in incident.alerts %}{{ a.status }}{% endfor %}"
    )
    assert template_variables(source) == {"incident", "prioirty"}
    assert template_variables("incident.x == impact", expression=True) == {"incident", "impact"}
    with pytest.raises(TemplateError, match="unexpected '}'"):
        template_variables("{{ x }")


def test_attribute_paths() -> None:
    source = (
        "{{ incident.labels.team }} {{ incident['labels']['env'] }} {{ incident.alerts[0].status }}"
        " {{ incident.title.upper() }} {{ incident.source[key].x }} {{ incident.service | upper }}"
        " {% if priority.id %}{% endif %} {{ impact }}"
    )
    assert attribute_paths(source) == {
        "incident.labels.team",
        "incident.labels.env",
        "incident.alerts.0.status",
        "incident.title",
        "incident.source",
        "incident.service",
        "priority.id",
    }
    assert attribute_paths("incident.labels.tema == 'x'", expression=True) == {
        "incident.labels.tema"
    }


# Validation checks templates with `check_template` (one parse, one code generation) instead
# of compiling them and then analysing them: it must find exactly what those find.
FRAGMENTS = (
    "{{ incident.title }}",
    "{{ incident.labels['team'] | upper }}",
    "{% for a in incident.alerts %}{{ a.name }}{% endfor %}",
    "{% set x = impact %}{{ x ~ urgency }}",
    "{% if priority.id == 'P1' %}page{% else %}{{ unknown_name }}{% endif %}",
    "{{ macros.badge(priority) }}",
    "{% macro m(v) %}{{ v ~ incident.id }}{% endmacro %}{{ m(at) }}",
    "{{ incident.title.upper() }}",
    "{{ x.__class__ }}",
    "{{ incident.alerts | map(attribute='_secret') | list }}",
    "{{ incident.title | nosuch }}",
    "{{ '{}'.format(incident) }}",
    "{{ 'a' % 3 }}",
    "{% include 'x' %}",
    "{{ incident.service ",
    "{% for %}",
    "text only\n",
    "{{ (((((((((( 1 )))))))))) }}",
    "{% with y = incident %}{{ y.id }}{% endwith %}",
    "{{ range(3) | join(',') }} {{ dict(a=1) }}",
)


def _compiled_then_analysed(source: str, mode: str) -> tuple[Any, ...]:
    from playbook_engine import sandbox

    sandbox.forget_templates()
    try:
        compile_template(source, mode)
    except TemplateError as exc:
        return ("error", exc.message, exc.line)
    return (
        template_variables(source),
        attribute_paths(source),
        sandbox.private_lookups(source),
        sandbox.macro_uses(source),
    )


def _checked(source: str, mode: str) -> tuple[Any, ...]:
    from playbook_engine import sandbox

    sandbox.forget_templates()
    try:
        found = sandbox.check_template(source, mode)
    except TemplateError as exc:
        return ("error", exc.message, exc.line)
    return (set(found.variables or ()), set(found.paths), set(found.private), set(found.macros))


@given(
    st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=4),
    st.sampled_from(MODES),
)
def test_checking_a_template_finds_what_compiling_and_analysing_find(
    parts: list[str], mode: str
) -> None:
    source = "\n".join(parts)
    assert _checked(source, mode) == _compiled_then_analysed(source, mode)


def test_a_checked_template_compiles_from_the_code_its_check_made() -> None:
    from playbook_engine import sandbox

    sandbox.forget_templates()
    source = "{% for a in incident.alerts %}{{ a.status }} {% endfor %}{{ incident.title }}"
    sandbox.check_template(source, "markdown")
    made = sandbox.templates._CHECKED_CODE[f"markdown\0{source}"]
    compiled = compile_template(source, "markdown")
    assert compiled.template.root_render_func.__code__ in made.co_consts
    assert render(compiled, CONTEXT) == "firing resolved Checkout returns 502"


def test_checking_a_template_evaluates_nothing_in_it() -> None:
    """jinja2.meta's analysis pass folds constants (its optimizer is on), which evaluated
    `(1).y` while validating and crashed `playbook validate`; the check's own pass has the
    optimizer off, like every environment here: such a template fails when rendered."""
    from playbook_engine import sandbox

    sandbox.forget_templates()
    found = sandbox.check_template("{{ 'x' ~ (1).y }} {{ 'a' * 10 }}", "markdown")
    assert found.variables == frozenset()
    with pytest.raises(TemplateError, match="has no attribute 'y'"):
        run("{{ 'x' ~ (1).y }}", "markdown")


@given(
    text=st.text(alphabet=st.characters(blacklist_characters="{\r"), max_size=60),
    mode=st.sampled_from(["plain", "markdown", "chat", "html", "header"]),
)
def test_a_template_without_syntax_renders_as_jinja2_would(text: str, mode: str) -> None:
    """The fast path for constant templates (most step titles) gives Jinja2's own output."""
    from playbook_engine.sandbox.environments import environment
    from playbook_engine.sandbox.escaping import inert_links

    template = compile_template(text, mode)
    assert template.constant is not None
    jinja = environment(mode).from_string(text).render()
    assert render(template, {}) == (inert_links(jinja) if mode == "html" else jinja)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ 'a' * 10**9 }}", "a value in the template is larger than 100,000 characters"),
        ("{{ 10**9 * 'a' }}", "a value in the template is larger than 100,000 characters"),
        ("{{ 9**999999999 }}", "a number in the template is larger than 4,096 bits"),
        ("{{ ('ab' ~ 'c') * 60000 }}", "a value in the template is larger than 100,000 characters"),
        ("{% if incident.title is nosuchtest %}x{% endif %}", "no test named 'nosuchtest'"),
    ],
)
def test_what_every_render_would_refuse_is_refused_when_compiling(
    source: str, message: str
) -> None:
    """`validate` reports these (issue #15); before, only `run` did."""
    with pytest.raises(TemplateError, match=message):
        compile_template(source, "plain")


def test_literal_arithmetic_within_the_caps_still_compiles() -> None:
    assert render(compile_template("{{ 'ab' * 3 }}{{ 2**10 }}", "plain"), {}) == "ababab1024"


def test_a_default_covers_an_optional_nested_field() -> None:
    """`incident.metrics.p99LatencyMs | default("n/a")` works without `metrics` (issue #13);
    used without a default, the error still names the first missing part."""
    template = compile_template(
        '{{ incident.metrics.p99LatencyMs | default("n/a") }}/'
        '{{ incident.labels["team"].lead | default("-") }}',
        "plain",
    )
    assert render(template, {"incident": {"title": "t", "labels": {}}}) == "n/a/-"
    bare = compile_template("{{ incident.metrics.p99LatencyMs }}", "plain")
    with pytest.raises(TemplateError, match="'incident' has no attribute 'metrics'"):
        render(bare, {"incident": {"title": "t"}})
