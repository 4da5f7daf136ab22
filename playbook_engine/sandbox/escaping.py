"""Escaping per output mode: interpolated values (never the template's own text) are made inert
for where the text goes (`plain`, `markdown`, `chat`, `html`, `header`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext

from playbook_engine.sandbox.budget import _check_size, _run
from playbook_engine.sandbox.errors import _MacroText
from playbook_engine.textsafe import UNSAFE_CHARACTERS, visible

MODES = ("plain", "markdown", "chat", "html", "header", "chat-header")


# --- escaping per output ------------------------------------------------------------------

_LINE_BREAKS = re.compile("\r\n|[\n\r\v\f\x85\u2028\u2029]")
_INVISIBLE = re.compile(f"[\x00-\x1f{UNSAFE_CHARACTERS}]")
_MARKDOWN_SPECIAL = re.compile(r"[\\`*\[\]<>|#&]|(?<![^\W_])_|_(?![^\W_])")
# A list marker needs a space (or the end) after it: `20.5` and `-3` stay as they are; `-`
# before `-` is escaped too (`---` is a rule), `=` always (`===` underlines a heading).
_MARKDOWN_LEADING = re.compile(r"^(\s*)(?:([-+])(?=[\s-]|$)|(=)|([0-9]+)([.)])(?=\s|$))")
# Every mention a chat tool reads in plain text: `@here`, `@channel`, `@everyone`, `@all`,
# `@team` and `@user.name` (Mattermost, Discord, Teams, Telegram). Slack's `<@U0123>`,
# `<!subteam^…>` and `<!here>` need `<`, which becomes `&lt;`. A zero-width joiner after the `@`
# keeps the text as it reads and stops the tool from resolving it.
_CHAT_SPECIAL = frozenset("&<>@")
_MENTION = re.compile(r"(?<![\w.+-])@(?=[\w.-])")  # not the @ of an e-mail address


# Most values (ids, names, times, numbers) are printable ASCII with nothing to escape: two
# C-level checks say so before any pattern runs. A printable ASCII text has no control
# character, line break or tab, so plain, html and header escaping leave it as it is.


def _escape_plain(text: str) -> str:
    if text.isascii() and text.isprintable():
        return text
    return visible(_LINE_BREAKS.sub(" ", text))


def _escape_markdown(text: str) -> str:
    if text.isalnum() and text.isascii():  # no markup character, no leading list marker
        return text
    text = _MARKDOWN_SPECIAL.sub(r"\\\g<0>", _LINE_BREAKS.sub(" ", text))
    text = _MARKDOWN_LEADING.sub(
        lambda m: f"{m[1]}\\{m[2] or m[3]}" if m[2] or m[3] else f"{m[1]}{m[4]}\\{m[5]}", text
    )
    return visible(text)


def _escape_chat(text: str) -> str:
    if text.isascii() and text.isprintable() and not _CHAT_SPECIAL.intersection(text):
        return text
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # visible() first: it would show the joiner that neutralises a mention.
    return _MENTION.sub("@\u200d", visible(_LINE_BREAKS.sub("\n", text)))


def _escape_html(text: str) -> str:
    if text.isascii() and text.isprintable():
        return text
    # Jinja2's autoescape turns & < > " ' into entities after this.
    return visible(_LINE_BREAKS.sub("\n", text))


def _escape_header(text: str) -> str:
    if text.isascii() and text.isprintable():
        return text
    return _INVISIBLE.sub("", _LINE_BREAKS.sub(" ", text.replace("\t", " ")))


_ESCAPES: dict[str, Callable[[str], str]] = {
    "plain": _escape_plain,
    "markdown": _escape_markdown,
    "chat": _escape_chat,
    "html": _escape_html,
    "header": _escape_header,
    # a chat message's one-line parts (subject, recipients): one line, and no mentions
    "chat-header": lambda text: _escape_chat(_escape_header(text)),
}


def escape(text: str, mode: str) -> str:
    """`text` made inert for an output mode, as templates do to every interpolated value.

    - `plain`: line breaks become spaces; other control and bidi characters become visible
      escapes such as `\\x1b`.
    - `markdown`: as plain, and `\\`, `` ` ``, `*`, `_`, `[`, `]`, `<`, `>`, `|`, `#`, `&` and a
      leading `=`, or list marker (`-`, `+`, `1.` or `1)` before a space or the end; `-` before
      `-`) are backslash-escaped (an `_` between letters or digits is kept, so identifiers and
      numbers such as `20.5` or `-3` stay readable): a value cannot forge a list, link or heading.
    - `chat`: line breaks kept; `&`, `<`, `>` become entities (Slack's `<!here>`, `<@U123>`,
      `<url|text>` stay text) and every `@` mention (`@here`, `@team`, `@user`) gets a
      zero-width joiner.
    - `html`: control characters as in plain, line breaks kept; HTML escaping itself is done
      by the environment's autoescape.
    - `header`: line breaks and tabs become spaces, other control and bidi characters are
      removed, so a value cannot add an e-mail header.
    """
    return _ESCAPES[mode](text)


def _make_finalize(mode: str) -> Callable[[EvalContext, Any], Any]:
    escape_text = _ESCAPES[mode]

    @pass_eval_context
    def finalize(eval_ctx: EvalContext, value: Any) -> Any:
        _check_size(value)
        if hasattr(value, "__html__") and mode == "html":
            text = value  # already safe HTML (|tojson): autoescape leaves it alone
        elif isinstance(value, _MacroText):
            text = str(value)  # escaped inside the macro; escaping again would double it
        else:
            text = escape_text(value if isinstance(value, str) else str(value))
        _run().charge(len(text))
        return text

    return finalize


# --- live links in HTML ---------------------------------------------------------------------

LIVE_SCHEMES = frozenset({"http", "https", "mailto"})
"""The only URL schemes a link may keep in any output (`javascript:`, `data:`, `vbscript:`,
`file:` and the rest are shown as text)."""

_URL_ATTRIBUTE = re.compile(
    r"""(?P<name>\b(?:href|src|action|formaction|xlink:href|background|poster|srcset))"""
    r"""(?P<eq>\s*=\s*)(?P<value>"[^"]*"|'[^']*'|[^\s"'=<>`]+)""",
    re.IGNORECASE,
)
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):")
_IGNORED_IN_URLS = re.compile("[\x00-\x20\x7f]")


def live_url(url: str) -> bool:
    """Whether `url` may stay a live link: http, https or mailto, or no scheme at all (a
    relative reference), read as a browser reads it (entities decoded, whitespace and
    controls ignored, any case)."""
    import html

    cleaned = _IGNORED_IN_URLS.sub("", html.unescape(url)).lower()
    found = _SCHEME.match(cleaned)
    return found is None or found.group(1) in LIVE_SCHEMES


def inert_links(markup: str) -> str:
    """HTML with every URL attribute whose scheme is not http, https or mailto renamed to
    `data-inert-...`: the link is shown, not followed (`<a href="javascript:...">` cannot run,
    `<img src="data:...">` does not load). The author's own links pass the same test."""

    def check(match: re.Match[str]) -> str:
        value = match.group("value")
        if live_url(value.strip("\"'")):
            return match.group(0)
        return f"data-inert-{match.group('name').lower().replace(':', '-')}{match['eq']}{value}"

    return _URL_ATTRIBUTE.sub(check, markup) if "=" in markup else markup
