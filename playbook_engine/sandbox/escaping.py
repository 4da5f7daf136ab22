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
from playbook_engine.textsafe import visible

MODES = ("plain", "markdown", "chat", "html", "header", "chat-header")


# --- escaping per output ------------------------------------------------------------------

_LINE_BREAKS = re.compile("\r\n|[\n\r\v\f\x85\u2028\u2029]")
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_MARKDOWN_SPECIAL = re.compile(r"[\\`*\[\]<>|#]|(?<![^\W_])_|_(?![^\W_])")
_MARKDOWN_LEADING = re.compile(r"^(\s*)(?:([-+=])|([0-9]+)([.)]))")
_MENTION = re.compile(r"@(here|channel|everyone)\b", re.IGNORECASE)


def _escape_plain(text: str) -> str:
    return visible(_LINE_BREAKS.sub(" ", text))


def _escape_markdown(text: str) -> str:
    text = _MARKDOWN_SPECIAL.sub(r"\\\g<0>", _LINE_BREAKS.sub(" ", text))
    text = _MARKDOWN_LEADING.sub(
        lambda m: f"{m[1]}\\{m[2]}" if m[2] else f"{m[1]}{m[3]}\\{m[4]}", text
    )
    return visible(text)


def _escape_chat(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MENTION.sub("@\u200d\\1", _LINE_BREAKS.sub("\n", text))
    return visible(text)


def _escape_html(text: str) -> str:
    # Jinja2's autoescape turns & < > " ' into entities after this.
    return visible(_LINE_BREAKS.sub("\n", text))


def _escape_header(text: str) -> str:
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
    - `markdown`: as plain, and `\\`, `` ` ``, `*`, `_`, `[`, `]`, `<`, `>`, `|`, `#` and a
      leading `-`, `+`, `=` or `1.` are backslash-escaped (an `_` between letters or digits is
      kept, so identifiers stay readable): a value cannot forge a list, link or heading.
    - `chat`: line breaks kept; `&`, `<`, `>` become entities (Slack's `<!here>`, `<@U123>`,
      `<url|text>` stay text) and `@here`, `@channel`, `@everyone` get a zero-width joiner.
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
