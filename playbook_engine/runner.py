"""`playbook run`: incidents in, rendered plans out — one incident, a payload, or a JSONL stream."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from . import loader
from .compiler import CompiledLibrary
from .diagnostics import InputError, Span, error
from .engine import evaluate
from .incident import Incident, parse_incident, read_source
from .library import open_library as _open_library
from .render import plan_to_dict, render_plan
from .render_json import dumps
from .reporters import diagnostic_dict


def open_library(root: Path) -> CompiledLibrary:
    """The compiled library at `root`; raises `InputError` if it does not validate."""
    return _open_library(root)


def incidents_from_payload(
    display: str, content: str | bytes, source_format: str, overrides: Iterable[str]
) -> list[Incident]:
    """Canonical incidents converted from an alert payload (`--from FORMAT` or `auto`)."""
    from . import adapters

    doc, problems = loader.load_text(content, display)
    if doc is None or problems:
        raise InputError(problems)
    try:
        fmt = adapters.detect(doc.data) if source_format == "auto" else source_format
        converted = adapters.convert(doc.data, fmt)
    except adapters.AdapterError as exc:
        raise InputError([error("AD101", str(exc), Span(display), pointer=exc.pointer)]) from None
    incidents = []
    for index, data in enumerate(converted):
        text = json.dumps(data)
        where = f"{display} ({fmt} alert {index + 1})"
        incidents.append(parse_incident(where, text, overrides))
    return incidents


def run_one(
    compiled: CompiledLibrary,
    source: str,
    stdin_text: str | None,
    at: datetime,
    overrides: Iterable[str],
    fmt: str,
    explain: bool,
    source_format: str | None,
    color: bool,
) -> tuple[str, bool]:
    """The rendered plan(s) for one incident file or payload, and whether any plan has errors."""
    display, content = read_source(source, stdin_text)
    if source_format:
        incidents = incidents_from_payload(display, content, source_format, overrides)
    else:
        incidents = [parse_incident(display, content, overrides)]
    plans = [evaluate(compiled, incident, at, explain) for incident in incidents]
    failed = any(plan.errors for plan in plans)
    if fmt == "json" and len(plans) > 1:
        documents = [plan_to_dict(plan, explain) for plan in plans]
        return dumps(documents), failed
    separator = "\n---\n\n" if fmt == "markdown" else "\n"
    return separator.join(render_plan(p, fmt, explain, color) for p in plans), failed


def run_jsonl(
    compiled: CompiledLibrary,
    source: str,
    stdin_text: str | None,
    at: datetime,
    overrides: Iterable[str],
    explain: bool,
) -> tuple[str, bool]:
    """One JSON plan per JSON incident line; a bad line yields an error line, not a stop."""
    display, content = read_source(source, stdin_text)
    text = content.decode("utf-8", errors="replace") if isinstance(content, bytes) else content
    out: list[str] = []
    failed = False
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{display}:{number}"
        try:
            incident = parse_incident(where, line, overrides)
        except InputError as exc:
            failed = True
            errors = [diagnostic_dict(d) for d in exc.diagnostics]
            out.append(dumps({"line": number, "errors": errors}, indent=None))
            continue
        plan = evaluate(compiled, incident, at, explain)
        failed = failed or bool(plan.errors)
        out.append(dumps(plan_to_dict(plan, explain), indent=None))
    return "".join(out), failed
