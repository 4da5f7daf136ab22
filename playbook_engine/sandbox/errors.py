"""Errors of the sandbox: `TemplateError` for authors, and the internal mark of a macro's text.
Nothing here imports Jinja2: validation answered from the code store needs only these (a
reached cap, `budget._LimitError`, is a Jinja2 `SecurityError`)."""

from __future__ import annotations


class TemplateError(Exception):
    """A template or expression that does not compile or cannot be rendered.

    `message` is one line for a person; `line` is 1-based inside the template text, 0 when
    unknown. `str(error)` is the message.
    """

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class _MacroText(str):
    """What a macro returned: its literal text plus values it already escaped when printing."""

    __slots__ = ()


def _check_source(source: str, limit: int, what: str) -> None:
    if len(source) > limit:
        raise TemplateError(f"the {what} is longer than {limit:,} characters")
