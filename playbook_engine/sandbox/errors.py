"""Errors of the sandbox: `TemplateError` for authors, and the internal marks of a macro's text
and of a reached cap."""

from __future__ import annotations

from jinja2.exceptions import SecurityError


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


class _LimitError(SecurityError):
    """A resource cap was reached while rendering."""
