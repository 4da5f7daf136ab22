"""Diagnostics for people and machines: text (compiler style), JSON, GitHub annotations."""

from __future__ import annotations

import os
from collections import Counter

from playbook_engine.diagnostics import Diagnostic
from playbook_engine.textsafe import one_line

FORMATS = ("text", "json", "github")


def summary(diagnostics: list[Diagnostic], files: int) -> str:
    """One line: how many errors and warnings in how many files."""
    counts = Counter(d.severity.value for d in diagnostics)
    errors, warnings = counts["error"], counts["warning"]
    noun = "file" if files == 1 else "files"
    if not errors and not warnings:
        return f"{files} {noun} checked: no problems"
    return (
        f"{files} {noun} checked: {errors} error{'s' * (errors != 1)}, "
        f"{warnings} warning{'s' * (warnings != 1)}"
    )


def report(diagnostics: list[Diagnostic], fmt: str, files: int) -> str:
    """All diagnostics rendered in `fmt`; text ends with a summary line."""
    if fmt == "json":
        return as_json(diagnostics, files)
    if fmt == "github":
        return "".join(github_annotation(d) + "\n" for d in diagnostics)
    return "\n".join([*text_lines(diagnostics), summary(diagnostics, files)]) + "\n"


def text_lines(diagnostics: list[Diagnostic]) -> list[str]:
    """Compiler-style lines: `file:line:col: severity CODE message`, then the hint."""
    lines = []
    for d in diagnostics:
        # One line each, whatever a file name or message holds: a newline in a name must not
        # forge a diagnostic line of its own.
        where, message = one_line(str(d.span)), one_line(d.message)
        lines.append(f"{where}: {d.severity.value} {d.code} {message}")
        if d.hint:
            lines.append(f"  hint: {one_line(d.hint)}")
    return lines


def diagnostic_dict(d: Diagnostic) -> dict[str, object]:
    """A diagnostic as JSON-ready data."""
    return {
        "code": d.code,
        "severity": d.severity.value,
        "message": d.message,
        "path": d.span.path,
        "line": d.span.line,
        "column": d.span.col,
        "pointer": d.pointer,
        "hint": d.hint,
    }


def as_json(diagnostics: list[Diagnostic], files: int) -> str:
    counts = Counter(d.severity.value for d in diagnostics)
    document = {
        "diagnostics": [diagnostic_dict(d) for d in diagnostics],
        "summary": {
            "files": files,
            "errors": counts["error"],
            "warnings": counts["warning"],
        },
    }
    from playbook_engine.jsonio import dumps

    return dumps(document)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _workspace_path(path: str) -> str:
    """`path` relative to `$GITHUB_WORKSPACE` (the checkout), as GitHub places annotations,
    when it names a file inside it; a run from a subfolder shows paths relative to that."""
    workspace = os.environ.get("GITHUB_WORKSPACE")
    if not workspace or not os.path.isfile(path):
        return path
    real, root = os.path.realpath(path), os.path.join(os.path.realpath(workspace), "")
    return real[len(root) :] if real.startswith(root) else path


def github_annotation(d: Diagnostic) -> str:
    """A GitHub Actions workflow command (`::error file=..,line=..::message`)."""
    level = {"error": "error", "warning": "warning"}.get(d.severity.value, "notice")
    props = [f"file={_escape_property(_workspace_path(d.span.path))}"]
    if d.span.line:
        props.append(f"line={d.span.line}")
        props.append(f"col={d.span.col or 1}")
    props.append(f"title={_escape_property(d.code)}")
    message = d.message + (f" (hint: {d.hint})" if d.hint else "")
    return f"::{level} {','.join(props)}::{_escape_data(message)}"
