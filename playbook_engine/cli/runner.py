"""`playbook run`: incidents in, rendered plans out — one incident, a payload, or a JSONL stream."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, BinaryIO

from playbook_engine.compile.compiler import CompiledLibrary
from playbook_engine.diagnostics import InputError, Span, error
from playbook_engine.engine.evaluation import evaluate
from playbook_engine.jsonio import dumps
from playbook_engine.limits import DEFAULT_LIMITS
from playbook_engine.load import documents
from playbook_engine.load.incident import Incident, parse_incident, read_source
from playbook_engine.render.diagnostics import diagnostic_dict
from playbook_engine.render.plans import plan_to_dict, render_plan


def convert_payload(
    display: str,
    content: str | bytes,
    source_format: str,
    mappings: Mapping[str, Any],
    received_at: datetime | None = None,
    grouped: bool = False,
) -> tuple[str, list[dict[str, Any]]]:
    """The format used and the canonical incidents of an alert payload: `source_format` is a
    built-in format, `auto`, or the id of one of the library's payload mappings. `received_at`
    (the `--at` clock) stands in for a start time the payload lawfully lacks."""
    from playbook_engine import adapters

    doc, problems = documents.load_text(content, display)
    if doc is None or problems:
        raise InputError(problems)
    hint = ""
    try:
        if source_format in mappings:
            return source_format, adapters.convert_generic(
                doc.data, mappings[source_format], received_at
            )
        if source_format != "auto" and source_format not in adapters.FORMATS:
            known = ", ".join([*adapters.FORMATS, *sorted(mappings), "auto"])
            hint = (
                "a PayloadMapping id is known only with its library: pass --library DIR, "
                "set PLAYBOOK_LIBRARY, or run inside the library"
            )
            raise adapters.AdapterError(f"unknown format {source_format!r}; one of: {known}", "")
        fmt = adapters.detect(doc.data) if source_format == "auto" else source_format
        return fmt, adapters.convert(doc.data, fmt, received_at, grouped)
    except adapters.AdapterError as exc:
        diagnostic = error("AD101", str(exc), Span(display), hint=hint, pointer=exc.pointer)
        raise InputError([diagnostic]) from None


def incidents_from_payload(
    display: str,
    content: str | bytes,
    source_format: str,
    overrides: Iterable[str],
    mappings: Mapping[str, Any],
    received_at: datetime | None = None,
    grouped: bool = False,
) -> tuple[str, list[Incident]]:
    """The format used and the canonical incidents of an alert payload (`--from FORMAT`)."""
    fmt, converted = convert_payload(
        display, content, source_format, mappings, received_at, grouped
    )
    incidents = []
    for index, data in enumerate(converted):
        text = json.dumps(data)
        where = f"{display} ({fmt} alert {index + 1})"
        incidents.append(parse_incident(where, text, overrides))
    return fmt, incidents


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
    group_alerts: bool = False,
) -> tuple[str, bool, str]:
    """The rendered plan(s) for one incident file or payload, whether any plan has errors, and
    a note for the user (the payload format used and how many incidents it gave; a clock
    before an incident's start) or ""."""
    display, content = read_source(source, stdin_text)
    note = ""
    if source_format:
        mappings = compiled.mappings
        grouped = group_alerts or compiled.policy.alert_grouping == "group"
        used, incidents = incidents_from_payload(
            display, content, source_format, overrides, mappings, at, grouped
        )
        count = len(incidents)
        note = f"read {display} as {used}: {count} incident{'s' * (count != 1)}"
    else:
        incidents = [parse_incident(display, content, overrides)]
    plans = [evaluate(compiled, incident, at, explain) for incident in incidents]
    failed = any(plan.errors for plan in plans)
    early = [i.id for i in incidents if at < i.started_at]
    if early:  # a plan "as of" before its incident is valid, but rarely meant
        note = "; ".join(
            filter(
                None, [note, f"the clock is before {', '.join(early)} started: nothing is due yet"]
            )
        )
    if fmt == "json" and len(plans) > 1:
        documents = [plan_to_dict(plan, explain) for plan in plans]
        return dumps(documents), failed, note
    separator = "\n---\n\n" if fmt == "markdown" else "\n"
    return separator.join(render_plan(p, fmt, explain, color) for p in plans), failed, note


def run_jsonl(
    compiled: CompiledLibrary,
    display: str,
    stream: BinaryIO,
    at: datetime,
    overrides: Iterable[str],
    explain: bool,
    write: Callable[[str], object],
) -> bool:
    """One JSON plan per JSON incident line, each written (`write`) as soon as its line is
    read, so memory does not grow with the stream; a bad line yields an error line, not a
    stop. Whether any line failed or any plan has errors."""
    failed = False
    for number, line in enumerate(_lines(stream), start=1):
        if line is None:
            failed = True
            cap = DEFAULT_LIMITS.incident_bytes
            message = f"line is longer than {cap:,} bytes"
            write(dumps({"line": number, "errors": [_line_error(display, number, message)]}, None))
            continue
        if not line.strip():
            continue
        where = f"{display}:{number}"
        try:
            incident = parse_incident(where, line, overrides, json_only=True)
            plan = evaluate(compiled, incident, at, explain)  # IN106: deadlines past 9999
        except InputError as exc:
            failed = True
            errors = [diagnostic_dict(d) for d in exc.diagnostics]
            write(dumps({"line": number, "errors": errors}, indent=None))
            continue
        failed = failed or bool(plan.errors)
        write(dumps(plan_to_dict(plan, explain), indent=None))
    return failed


def _lines(stream: BinaryIO) -> Iterator[str | None]:
    """The stream's lines as text, one at a time (None for a line over the incident size
    limit, which is skipped, never held whole)."""
    cap = DEFAULT_LIMITS.incident_bytes
    while True:
        raw = stream.readline(cap + 1)
        if not raw:
            return
        if len(raw) > cap and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # the rest of the long line
                raw = stream.readline(cap + 1)
            yield None
            continue
        yield raw.decode("utf-8", errors="replace")


def _line_error(display: str, number: int, message: str) -> dict[str, object]:
    return diagnostic_dict(error("IN101", message, Span(f"{display}:{number}")))
