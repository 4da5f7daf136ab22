"""Output that came from incident text stays inert (issue #15): only http, https and mailto
links are live, recipients are one address each and cannot aim a webhook at this machine,
every chat mention form is neutralised, invisible format characters are shown, and `&` cannot
make an entity in Markdown."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from playbook_engine import sandbox
from playbook_engine.engine.recipients import recipient_problem
from playbook_engine.jsonio import dumps
from playbook_engine.sandbox.escaping import inert_links, live_url
from playbook_engine.textsafe import visible

LINK = '<a href="{{ url }}">open</a><img src="{{ url }}">'


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:msgbox",
        "file:///etc/passwd",
    ],
)
def test_html_links_from_incident_text_with_other_schemes_are_not_live(url: str) -> None:
    out = sandbox.render(sandbox.compile_template(LINK, "html"), {"url": url})
    assert "href=" not in out.replace("data-inert-href=", "")
    assert " src=" not in out.replace("data-inert-src=", "")
    assert "data-inert-href=" in out and "data-inert-src=" in out


@pytest.mark.parametrize(
    "url", ["https://status.example.com/x?a=1&b=2", "http://example.com", "mailto:a@example.com"]
)
def test_http_https_and_mailto_stay_live(url: str) -> None:
    out = sandbox.render(sandbox.compile_template(LINK, "html"), {"url": url})
    assert out.startswith('<a href="') and "data-inert" not in out


def test_the_authors_own_links_pass_the_same_test() -> None:
    assert inert_links('<a href="java&#115;cript:x">a</a>') == (
        '<a data-inert-href="java&#115;cript:x">a</a>'
    )
    assert live_url("/relative/path") and live_url("#anchor")


@given(st.text(max_size=40))
def test_no_javascript_href_survives_any_value(value: str) -> None:
    out = sandbox.render(sandbox.compile_template(LINK, "html"), {"url": "javascript:" + value})
    assert ' href="javascript' not in out.lower() and '<a href="javascript' not in out.lower()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ping @team now", "ping @\u200dteam now"),
        ("@here @channel @everyone @all", "@\u200dhere @\u200dchannel @\u200deveryone @\u200dall"),
        (
            "<@U0123> <!subteam^S1|ops> <!here>",
            "&lt;@\u200dU0123&gt; &lt;!subteam^S1|ops&gt; &lt;!here&gt;",
        ),
        ("mail bob@example.com", "mail bob@example.com"),
    ],
)
def test_every_chat_mention_form_is_neutralised(text: str, expected: str) -> None:
    assert sandbox.escape(text, "chat") == expected


def test_the_template_authors_own_mention_stays_live() -> None:
    template = sandbox.compile_template("@oncall-payments {{ incident.title }}", "chat")
    assert sandbox.render(template, {"incident": {"title": "@team"}}) == (
        "@oncall-payments @\u200dteam"
    )


@pytest.mark.parametrize(
    "char", ["\u200b", "\u200e", "\u200f", "\u061c", "\u2060", "\ufeff", "\U000e0041", "\u00ad"]
)
def test_invisible_format_characters_are_shown(char: str) -> None:
    for mode in ("plain", "markdown", "chat", "html"):
        assert char not in sandbox.escape(f"a{char}b", mode)
    assert char not in sandbox.escape(f"a{char}b", "header")
    assert char not in visible(f"a{char}b")
    encoded = dumps({"t": f"a{char}b"})
    assert char not in encoded and json.loads(encoded) == {"t": f"a{char}b"}


def test_markdown_escapes_ampersands() -> None:
    assert sandbox.escape("&lt;b&gt; AT&T", "markdown") == "\\&lt;b\\&gt; AT\\&T"


@pytest.mark.parametrize(
    ("kind", "value", "problem"),
    [
        ("email", "victim@x.example, attacker@y.example", "not one e-mail address"),
        ("email", "a@x.example Bcc: z@y.example", "not one e-mail address"),
        ("email", "Name <a@x.example>", "not one e-mail address"),
        (
            "webhook",
            "http://169.254.169.254/latest/meta-data",
            "non-public address (169.254.169.254)",
        ),
        ("webhook", "http://2852039166/", "non-public address (169.254.169.254)"),
        ("webhook", "http://0xa9fea9fe/", "non-public address (169.254.169.254)"),
        ("webhook", "http://127.0.0.1:8080/hook", "non-public address (127.0.0.1)"),
        ("webhook", "http://[::1]/hook", "non-public address (::1)"),
        ("webhook", "http://localhost/hook", "loopback"),
        ("webhook", "http://10.0.0.5/hook", "non-public address (10.0.0.5)"),
        ("webhook", "file:///etc/passwd", "must start with http:// or https://"),
        ("webhook", "gopher://x", "must start with http:// or https://"),
        ("chat", "#ops, #everyone", "not one address"),
        ("pager", "svc key", "not one address"),
    ],
)
def test_recipients_are_checked_for_their_channel(kind: str, value: str, problem: str) -> None:
    found = recipient_problem(kind, value)
    assert found is not None and problem in found


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("email", "oncall+db@example.com"),
        ("webhook", "https://hooks.example.com/T0/B0/x"),
        ("chat", "#incidents"),
        ("pager", "payments-primary"),
    ],
)
def test_ordinary_recipients_pass(kind: str, value: str) -> None:
    assert recipient_problem(kind, value) is None


def test_a_policy_may_allow_private_webhooks() -> None:
    assert recipient_problem("webhook", "http://10.0.0.5/hook", allow_private=True) is None
    assert recipient_problem("webhook", "file:///x", allow_private=True) is not None


@given(st.text(min_size=900, max_size=3000))
def test_a_subject_fits_one_header_line(title: str) -> None:
    from playbook_engine.engine.evaluation import SUBJECT_OCTETS, cap_subject

    subject = cap_subject(title)
    assert len(subject.encode("utf-8")) <= SUBJECT_OCTETS
    assert len(("Subject: " + subject).encode("utf-8")) <= 998
    if subject != title:
        assert subject.endswith("…") and title.startswith(subject[:-1])


def test_a_huge_title_gives_a_capped_subject_in_the_plan() -> None:
    from datetime import UTC, datetime
    from pathlib import Path

    from playbook_engine import evaluate, open_library

    library = open_library(Path(__file__).parent / "data" / "libraries" / "basic")
    incident = {
        "id": "INC-1",
        "title": "x" * 90_000,
        "startedAt": "2026-01-01T00:00:00Z",
        "severity": "critical",
        "customersAffected": 5000,
    }
    plan = evaluate(library, incident, datetime(2026, 1, 1, 0, 5, tzinfo=UTC))
    subjects = [n.subject for n in plan.notifications if n.subject]
    assert subjects and all(len(s.encode()) <= 989 for s in subjects)
