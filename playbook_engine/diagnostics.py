"""Diagnostics as data: every problem found in input is a value, never an exception.

Loaders, schema checks, semantic checks and the compiler each return a list of
`Diagnostic`; the CLI hands them to a reporter. `InputError` is the one exception that
crosses into the CLI for input that cannot be processed at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    """How bad a diagnostic is; errors make `validate` exit 1."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """Where a diagnostic points: a file and a 1-based line and column (0 = unknown)."""

    path: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.path
        return f"{self.path}:{self.line}:{self.col or 1}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding: a stable code, a severity, a one-line message, where, and a hint."""

    code: str
    severity: Severity
    message: str
    span: Span
    hint: str = ""
    pointer: str = ""  # JSON pointer of the offending value inside the document, if known

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.span.path, self.span.line, self.span.col, self.code, self.message)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    @property
    def of_loading(self) -> bool:
        """Whether it comes from loading or schema-checking a document (PB1xx, PB2xx): an
        error of these means the document did not load, or only in part."""
        return self.code[:3] in ("PB1", "PB2")


def error(code: str, message: str, span: Span, hint: str = "", pointer: str = "") -> Diagnostic:
    """An error-severity diagnostic."""
    return Diagnostic(code, Severity.ERROR, message, span, hint, pointer)


def warning(code: str, message: str, span: Span, hint: str = "", pointer: str = "") -> Diagnostic:
    """A warning-severity diagnostic."""
    return Diagnostic(code, Severity.WARNING, message, span, hint, pointer)


def info(code: str, message: str, span: Span, hint: str = "", pointer: str = "") -> Diagnostic:
    """An info-severity diagnostic: a note, never a finding."""
    return Diagnostic(code, Severity.INFO, message, span, hint, pointer)


@dataclass
class InputError(Exception):
    """Input that cannot be processed at all (exit code 2), with its diagnostics."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(f"{d.span}: {d.code} {d.message}" for d in self.diagnostics)


def sorted_diagnostics(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics in a stable order: by file, line, column, code, message; duplicates dropped."""
    unique = {(d.code, d.span, d.message, d.pointer): d for d in diagnostics}
    return sorted(unique.values(), key=Diagnostic.sort_key)
