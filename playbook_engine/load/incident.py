"""Load and validate an incident: JSON or YAML, from a file or standard input.

The incident is data from outside (typed by customers, forwarded by alerting tools). It is
validated against `schemas/incident.schema.json`, every timestamp must carry an offset, and every
problem is reported by field path; nothing here ever renders it as a template.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from playbook_engine.diagnostics import Diagnostic, InputError, Span, error
from playbook_engine.limits import DEFAULT_LIMITS
from playbook_engine.load import documents, schema
from playbook_engine.timeparse import parse_timestamp

TIMESTAMP_FIELDS = ("startedAt", "detectedAt", "acknowledgedAt", "resolvedAt")
INCIDENT_LIMITS = replace(
    DEFAULT_LIMITS,
    max_file_bytes=DEFAULT_LIMITS.incident_bytes,
    max_depth=DEFAULT_LIMITS.incident_depth,
)


@dataclass(frozen=True, slots=True)
class Incident:
    """A validated incident: its data as given plus its parsed timestamps."""

    data: dict[str, Any]
    id: str
    title: str
    started_at: datetime
    detected_at: datetime | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    spans: Mapping[str, Span] = field(default_factory=dict, compare=False, repr=False)
    """Where each timestamp field was written, for errors found while evaluating."""


def pointer_span(display: str) -> Callable[[str], Span]:
    """Spans for data without a source map: the display name followed by the field's pointer."""
    return lambda pointer: Span(f"{display}{pointer}")


def read_source(source: str, stdin_text: str | None = None) -> tuple[str, str | bytes]:
    """The display name and raw content of `source`: a path, or '-' for `stdin_text`."""
    if source == "-":
        if stdin_text is None:
            raise InputError([error("IN101", "no incident on standard input", Span("<stdin>"))])
        return "<stdin>", stdin_text
    path = Path(source)
    if path.is_dir():
        raise InputError(
            [
                error(
                    "IN101",
                    "is a directory; expected an incident file",
                    Span(source),
                    hint="pass a .yaml or .json file, or - for standard input",
                )
            ]
        )
    cap = DEFAULT_LIMITS.input_bytes
    try:
        # Bounded: /dev/zero or an endless pipe must not fill the memory.
        with path.open("rb") as handle:
            content = handle.read(cap + 1)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputError(
            [error("IN101", f"cannot read incident: {reason}", Span(source))]
        ) from None
    if len(content) > cap:
        raise InputError([error("IN101", f"input is larger than {cap:,} bytes", Span(source))])
    return source, content


def parse_incident(
    display: str, content: str | bytes, overrides: Iterable[str] = (), json_only: bool | None = None
) -> Incident:
    """Parse, apply `--set` overrides, validate and build an `Incident`; raises `InputError`.
    `json_only` demands strict JSON (by default: when `display` ends in `.json`)."""
    if json_only is None:
        json_only = display.lower().endswith(".json")
    if json_only:
        doc, diagnostics = documents.load_json_text(content, display, INCIDENT_LIMITS)
    else:
        doc, diagnostics = documents.load_text(content, display, INCIDENT_LIMITS)
    if doc is None or diagnostics:
        raise InputError(diagnostics)
    data = doc.data
    if not isinstance(data, dict):
        raise InputError(
            [
                error(
                    "IN102",
                    "an incident must be a mapping of fields",
                    doc.span(""),
                    hint="for example: {id: INC-1, title: ..., startedAt: 2026-01-01T00:00:00Z}",
                )
            ]
        )
    problems: list[Diagnostic] = []
    overridden: list[str] = []  # JSON pointers of the fields --set gave
    for assignment in overrides:
        found, pointer = _apply_override(data, assignment)
        problems += found
        overridden.append(pointer)
    if problems:
        raise InputError(problems)

    def span_of(pointer: str) -> Span:
        """Where a field came from: its `--set`, else its place in the file."""
        for given in reversed(overridden):  # the last --set of a field is the one in force
            if pointer == given or pointer.startswith(given + "/"):
                return Span("--set " + ".".join(_unescape(p) for p in given[1:].split("/")))
        return doc.span(pointer)

    return build_incident(data, span_of)


def build_incident(data: dict[str, Any], span_of: Callable[[str], Span]) -> Incident:
    """Validate incident data against the schema and parse its timestamps; raises `InputError`."""
    problems = schema.validate_instance(data, "incident", span_of)
    if problems:
        raise InputError([_naming_the_field(d) for d in problems])
    parsed: dict[str, datetime | None] = {}
    for name in TIMESTAMP_FIELDS:
        value = data.get(name)
        if value is None:
            parsed[name] = None
            continue
        try:
            parsed[name] = parse_timestamp(value)
        except ValueError as exc:
            problems.append(
                error("IN103", f"{name}: {exc}", span_of(f"/{name}"), pointer=f"/{name}")
            )
    started = parsed.get("startedAt")  # absent when it did not parse (IN103 above)
    for name in ("acknowledgedAt", "resolvedAt"):
        moment = parsed.get(name)
        # A typo here would cancel every escalation tier: nobody would be paged.
        if moment is not None and started is not None and moment < started:
            problems.append(
                error(
                    "IN107",
                    f"{name} {data[name]} is before startedAt {data['startedAt']}",
                    span_of(f"/{name}"),
                    hint="an incident is acknowledged and resolved after it starts: check both",
                    pointer=f"/{name}",
                )
            )
    if problems:
        raise InputError(problems)
    assert started is not None  # required by the schema
    return Incident(
        data=data,
        id=str(data["id"]),
        title=str(data["title"]),
        started_at=started,
        detected_at=parsed["detectedAt"],
        acknowledged_at=parsed["acknowledgedAt"],
        resolved_at=parsed["resolvedAt"],
        spans=_FieldSpans([name for name in TIMESTAMP_FIELDS if name in data], span_of),
    )


class _FieldSpans(Mapping[str, Span]):
    """Where each top-level field was written, found when asked (only a diagnostic asks)."""

    def __init__(self, names: list[str], span_of: Callable[[str], Span]) -> None:
        self.names, self.span_of = names, span_of

    def __getitem__(self, name: str) -> Span:
        if name not in self.names:
            raise KeyError(name)
        return self.span_of(f"/{name}")

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def _naming_the_field(diagnostic: Diagnostic) -> Diagnostic:
    """The diagnostic with its field path in front (`labels.team: expected a string`): a
    column on the one line of a JSON incident does not say which field is wrong."""
    if not diagnostic.pointer or diagnostic.code == "PB203":  # says where the key is missing
        return diagnostic
    field_path = ""
    for token in diagnostic.pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        field_path += f"[{token}]" if token.isdigit() else f".{token}"
    field_path = field_path.lstrip(".")
    hint = diagnostic.hint
    if diagnostic.span.path.startswith("--set ") and hint.startswith("quote it: "):
        # A shell eats the quotes of --set labels.team="123".
        hint = f"quote it, and the quotes for the shell: --set '{field_path}={hint[10:]}'"
    return replace(diagnostic, message=f"{field_path}: {diagnostic.message}", hint=hint)


def _apply_override(data: dict[str, Any], assignment: str) -> tuple[list[Diagnostic], str]:
    """Apply one `--set FIELD=VALUE`; its problems and the JSON pointer of the field."""
    where = Span("--set")
    path, sep, text = assignment.partition("=")
    parts = path.strip().split(".")
    depth = DEFAULT_LIMITS.incident_depth
    if len(parts) > depth:  # an incident nests at most this deep, whatever sets the field
        hint = f"an incident nests at most {depth} levels deep"
        message = f"--set names a field {len(parts)} levels deep"
        return [error("IN104", message, where, hint=hint)], ""
    pointer = "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)
    if not sep or not all(parts):
        hint = "for example --set severity=critical --set labels.team=payments"
        return [
            error("IN104", f"--set expects field=value, got {assignment!r}", where, hint=hint)
        ], ""
    value: Any = text  # "x=" is the empty text; a value that is only a YAML comment is text
    quoted_or_flow = text.lstrip().startswith(("{", "[", '"', "'"))
    if text.strip():
        value_doc, problems = documents.load_text(text, f"--set {path}")
        if value_doc is not None:
            value = value_doc.data
            if isinstance(value, str) and "#" in text and not quoted_or_flow:
                value = text.strip()  # YAML would cut "errors #123 since 2am" at its " #"
        elif [d.code for d in problems] != ["PB110"] and quoted_or_flow:
            return problems, pointer  # a mapping, list or quoted text that does not parse
        # else: text YAML refuses (`@here`, a lone `#...`) is meant as text
    target = data
    for part in parts[:-1]:
        child = target.setdefault(part, {})
        if not isinstance(child, dict):
            return [error("IN104", f"--set {path}: '{part}' is not a mapping", where)], pointer
        target = child
    target[parts[-1]] = value
    return [], pointer


def _unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")
