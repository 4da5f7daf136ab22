"""A mapping declared as data → incidents from any tool's JSON payload, without Python.

A mapping is an object whose keys are canonical incident fields and whose values say where each
value comes from (the JSON Schema is `schemas/mapping.schema.json`; docs/adapters.md has the
reference):

    {"id": "$.alert.uid",
     "title": "$.alert.name",
     "startedAt": {"path": "$.ts", "epoch": "ms"},
     "status": {"path": "$.state", "map": {"firing": "triggered", "ok": "resolved"}},
     "severity": {"path": "$.level", "map": {"crit": "critical"}, "default": "unknown"},
     "environment": {"value": "production"},
     "labels": {"team": "$.owner.team"},
     "links": [{"title": "Runbook", "url": "$.runbook"}]}

A value is a path, or an object with `path` (or a constant `value`) and optional `default`
(used when the path finds nothing), `map` (source value → value; values not listed pass
through) and, for timestamps, `epoch` (`s` or `ms`). `each: PATH` makes one incident per item
of the list at PATH, with paths then read from the item. `timezone: NAME` (an IANA name such as
`Europe/Berlin` or `UTC`) says in which zone the tool writes timestamps that carry no offset
(`2026-03-14 02:17:00.000`); without it such timestamps are refused.

The mapping's `labels` are the incident's labels as declared; the severity word (after `map`) is
made canonical when it is a conventional one (`crit` → `critical`), else kept lower-cased.

More options, for tools whose payloads say things indirectly (Zabbix puts the event id only
inside a URL and dates as `2024.01.15 10:20:30`):

- `match: REGEX` keeps what the regular expression (RE2: linear time) finds in the value: its
  first group, else the whole match; no match counts as nothing found (so `default` applies);
- `concat: [SOURCE, ...]` joins the texts of several sources (a string starting with `$` is a
  path, any other string is itself), nothing found if any part finds nothing;
- `format: "%Y.%m.%d %H:%M:%S"` (timestamps) reads the text with that strptime format, in the
  mapping's `timezone` when it carries no offset;
- `default: received` (timestamps) stands in the moment the payload was received (`--at`,
  the server's clock) when the payload has no such time;
- `fields: {NAME: SOURCE}` adds incident fields of the library's own (`impactPct`,
  `usersAffected`), each with `type: text|number|integer|boolean|list` to turn the payload's
  text into typed values (`"42"` → 42, `"yes"` → true, `"a, b"` → ["a", "b"]).

Paths are a small JSONPath subset: `$` followed by `.name`, `['any name']` or `[index]`
steps, such as `$.alerts[0].labels['app.kubernetes.io/name']`; no wildcards, filters or
scripts. `id`, `title` and `startedAt` are required; other fields are left out when their path
finds nothing and they have no default.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from playbook_engine.adapters.common import (
    CONVENTIONAL_SEVERITY,
    INCIDENT_STATUSES,
    AdapterError,
    canonical_severity,
    describe,
    epoch,
    incident,
    join,
    scalar_text,
    timestamp,
)
from playbook_engine.calendars import validate_timezone
from playbook_engine.timeparse import format_timestamp

FORMAT = "generic"
TEXT_FIELDS = ("id", "title", "status", "service", "environment", "severity", "description")
TIME_FIELDS = ("startedAt", "detectedAt", "acknowledgedAt", "resolvedAt")
REQUIRED = ("id", "title", "startedAt")
KEYS = (
    *TEXT_FIELDS,
    *TIME_FIELDS,
    "customersAffected",
    "labels",
    "links",
    "each",
    "timezone",
    "fields",
)
SPEC_KEYS = ("path", "value", "default", "map", "epoch", "match", "concat", "format", "type")
TYPES = ("text", "number", "integer", "boolean", "list")
RECEIVED = "received"
"""`default: received` on a timestamp: the moment the payload was received."""
_TRUE, _FALSE = frozenset({"true", "yes", "on", "1"}), frozenset({"false", "no", "off", "0"})
Step = str | int
_STEP = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


@dataclass(frozen=True, slots=True)
class Spec:
    """Where one canonical value comes from: a compiled path (or a constant) and options."""

    text: str
    steps: tuple[Step, ...] | None
    value: Any = None
    default: Any = None
    table: dict[str, Any] = field(default_factory=dict)
    epoch: str | None = None
    pattern: Any = None  # a compiled RE2 pattern (`match`)
    parts: tuple[Spec, ...] | None = None  # `concat`
    time_format: str | None = None  # `format`
    kind: str | None = None  # `type`, for `fields`


def parse_path(text: str) -> tuple[Step, ...]:
    """The steps of a path like `$.a.b[0]['c.d']`; ValueError says where it goes wrong."""
    if not text.startswith("$"):
        raise ValueError("a path starts with $")
    steps: list[Step] = []
    position = 1
    while position < len(text):
        found = _STEP.match(text, position)
        if found is None:
            raise ValueError(
                f"unexpected {text[position]!r} at character {position + 1}; expected .name, "
                "['name'] or [index]"
            )
        name, index, single, double = found.groups()
        steps.append(int(index) if index is not None else (name or single or double or ""))
        position = found.end()
    return tuple(steps)


def check_mapping(spec: Any) -> list[AdapterError]:
    """Every problem of a mapping, each naming the mapping key; empty when it is usable."""
    problems: list[AdapterError] = []
    _compile(spec, problems)
    return problems


def convert(payload: Any, spec: Any, received_at: datetime | None = None) -> list[dict[str, Any]]:
    """The incidents of `payload` under the mapping `spec`; AdapterError for either's faults.
    `received_at` is what `default: received` stands for."""
    problems: list[AdapterError] = []
    compiled = _compile(spec, problems)
    if problems:
        raise problems[0]
    compiled["received"] = received_at
    each: Spec | None = compiled.get("each")
    if each is None:
        return [_incident(payload, "", compiled, payload, None)]
    items, base = _resolve(payload, "", each)
    if not isinstance(items, list):
        raise AdapterError(
            f"{base or 'payload'}: expected a list (mapping key each reads {each.text}), "
            f"got {describe(items)}",
            base,
        )
    return [_incident(item, join(base, i), compiled, payload, i) for i, item in enumerate(items)]


def _problem(problems: list[AdapterError], key: str, message: str) -> None:
    problems.append(AdapterError(f"mapping key {key}: {message}", key))


def _compile(spec: Any, problems: list[AdapterError]) -> dict[str, Any]:
    if not isinstance(spec, dict):
        problems.append(AdapterError(f"mapping: expected a mapping, got {describe(spec)}", ""))
        return {}
    # The zone first: constant timestamps are checked with it as the other keys compile.
    compiled: dict[str, Any] = {"timezone": _compile_zone(spec.get("timezone"), problems)}
    for key in REQUIRED:
        if key not in spec:
            _problem(problems, key, "missing; every mapping says where id, title and startedAt are")
    for key, value in spec.items():
        if key not in KEYS:
            _problem(problems, key, f"unknown key; expected one of {', '.join(KEYS)}")
        elif key == "timezone":
            continue
        elif key == "labels":
            compiled[key] = _compile_labels(value, problems)
        elif key == "links":
            compiled[key] = _compile_links(value, problems)
        elif key == "fields":
            compiled[key] = _compile_fields(value, problems)
        elif key == "each" and not isinstance(value, str):
            _problem(problems, key, f"expected a path to a list, got {describe(value)}")
        else:
            compiled[key] = _compile_spec(key, value, problems, compiled["timezone"])
    return compiled


def _compile_zone(name: Any, problems: list[AdapterError]) -> tzinfo | None:
    if name is None:
        return None
    if not isinstance(name, str):
        _problem(problems, "timezone", f"expected an IANA time zone name, got {describe(name)}")
        return None
    message = validate_timezone(name)
    if message is not None:
        _problem(problems, "timezone", message)
        return None
    return ZoneInfo(name)


def _compile_labels(value: Any, problems: list[AdapterError]) -> dict[str, Spec]:
    if not isinstance(value, dict):
        _problem(problems, "labels", f"expected a mapping of label names, got {describe(value)}")
        return {}
    return {
        name: _compile_spec(f"labels.{name}", item, problems, None) for name, item in value.items()
    }


def _compile_fields(value: Any, problems: list[AdapterError]) -> dict[str, Spec]:
    if not isinstance(value, dict):
        _problem(problems, "fields", f"expected a mapping of field names, got {describe(value)}")
        return {}
    compiled = {}
    for name, item in value.items():
        if (
            name in KEYS
            or name in ("source", "links", "labels")
            or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name)
        ):
            _problem(problems, f"fields.{name}", "expected a field name of the library's own "
                     "(letters, digits, _), not a canonical one")  # fmt: skip
            continue
        compiled[name] = _compile_spec(f"fields.{name}", item, problems, None)
    return compiled


def _compile_links(value: Any, problems: list[AdapterError]) -> list[tuple[str, Spec]]:
    if not isinstance(value, list):
        _problem(problems, "links", f"expected a list of {{title, url}}, got {describe(value)}")
        return []
    links = []
    for index, item in enumerate(value):
        key = f"links[{index}]"
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("title"), str)
            or "url" not in item
        ):
            _problem(problems, key, f"expected {{title: text, url: path}}, got {describe(item)}")
            continue
        extra = sorted(set(item) - {"title", "url"})
        if extra:
            _problem(problems, key, f"unknown key {extra[0]}; a link has title and url")
        links.append((item["title"], _compile_spec(f"{key}.url", item["url"], problems, None)))
    return links


def _compile_spec(key: str, value: Any, problems: list[AdapterError], zone: tzinfo | None) -> Spec:
    if isinstance(value, str):
        value = {"path": value}
    if not isinstance(value, dict):
        _problem(problems, key, f"expected a path like $.a.b or an object, got {describe(value)}")
        return Spec("", None)
    for name in sorted(set(value) - set(SPEC_KEYS)):
        _problem(problems, f"{key}.{name}", f"unknown key; expected one of {', '.join(SPEC_KEYS)}")
    if sum(name in value for name in ("path", "value", "concat")) != 1:
        _problem(problems, key, "needs exactly one of path, value and concat")
        return Spec("", None)
    parts: tuple[Spec, ...] | None = None
    if "concat" in value:
        pieces = value["concat"]
        if not isinstance(pieces, list) or not pieces:
            _problem(
                problems, f"{key}.concat", f"expected a list of sources, got {describe(pieces)}"
            )
            return Spec("", None)
        parts = tuple(
            _compile_spec(
                f"{key}.concat[{i}]",
                piece if not isinstance(piece, str) or piece.startswith("$") else {"value": piece},
                problems,
                zone,
            )
            for i, piece in enumerate(pieces)
        )
    text = value.get("path", "")
    steps: tuple[Step, ...] | None = None
    if "path" in value:
        if not isinstance(text, str):
            _problem(problems, f"{key}.path", f"expected a path string, got {describe(text)}")
            text = ""
        else:
            try:
                steps = parse_path(text)
            except ValueError as exc:
                _problem(problems, f"{key}.path", f"invalid path {text!r}: {exc}")
    table = value.get("map", {})
    if not isinstance(table, dict):
        _problem(problems, f"{key}.map", f"expected a mapping of values, got {describe(table)}")
        table = {}
    unit = value.get("epoch")
    base = key.partition(".")[0]
    if unit is not None and (base not in TIME_FIELDS or unit not in ("s", "ms")):
        where = "a timestamp field" if base in TIME_FIELDS else f"{base}, not a timestamp field"
        _problem(problems, f"{key}.epoch", f"expected 's' or 'ms' on {where}, got {unit!r}")
        unit = None
    if key == "status":
        finals = [(f"{key}.map.{name}", final) for name, final in table.items()]
        finals.append((f"{key}.default", value.get("default")))
        for place, final in finals:
            if final is not None and final not in INCIDENT_STATUSES:
                message = (
                    f"{final!r} is not a status; expected one of {', '.join(INCIDENT_STATUSES)}"
                )
                _problem(problems, place, message)
    pattern = None
    if "match" in value:
        pattern = _compile_match(f"{key}.match", value["match"], problems)
    time_format = value.get("format")
    usable = isinstance(time_format, str) and "%" in time_format and base in TIME_FIELDS
    if time_format is not None and not usable:
        example = "'%Y.%m.%d %H:%M:%S'"
        message = f"expected a strptime format such as {example} on a timestamp field"
        _problem(problems, f"{key}.format", f"{message}, got {describe(time_format)}")
        time_format = None
    kind = value.get("type")
    if kind is not None and (not key.startswith("fields.") or kind not in TYPES):
        where = "a field of fields" if key.startswith("fields.") else f"{key}, not under fields"
        _problem(problems, f"{key}.type", f"expected one of {', '.join(TYPES)} on {where}, "
                 f"got {describe(kind)}")  # fmt: skip
        kind = None
    default = value.get("default")
    if default == RECEIVED and base not in TIME_FIELDS:
        _problem(problems, f"{key}.default", "'received' stands for a moment: only on timestamps")
    spec = Spec(text, steps, value.get("value"), default, dict(table), unit, pattern, parts,
                time_format, kind)  # fmt: skip
    # (A piece of a concat is text whatever the field: the joined text is what is checked.)
    if steps is None and parts is None and spec.value is not None and ".concat[" not in key:
        # A constant is known now: check it now, as part of the mapping.
        try:
            _convert(base, spec.value, f"{key}.value", spec, zone)
        except AdapterError as exc:
            problems.append(AdapterError(f"mapping key {exc.message}", f"{key}.value"))
    return spec


def _compile_match(key: str, text: Any, problems: list[AdapterError]) -> Any:
    """A `match` pattern compiled by RE2 (linear time, whatever the payload), or None."""
    if not isinstance(text, str):
        _problem(problems, key, f"expected a regular expression, got {describe(text)}")
        return None
    import re2

    try:
        return re2.compile(text)
    except re2.error as exc:
        _problem(problems, key, f"invalid regular expression {text!r}: {exc}")
        return None


def _resolve(item: Any, base: str, spec: Spec) -> tuple[Any, str]:
    """The value `spec` finds in `item` (None when absent) and its path in the payload."""
    if spec.steps is None:
        return spec.value, base
    value, path = item, base
    for step in spec.steps:
        path = join(path, step)
        if isinstance(step, int) and isinstance(value, list) and step < len(value):
            value = value[step]
        elif isinstance(step, str) and isinstance(value, dict):
            value = value.get(step)
        else:
            return None, path
    return value, path


def _value(item: Any, base: str, spec: Spec) -> tuple[Any, str]:
    """The mapped value for `spec` (default when absent; None when still nothing)."""
    if spec.parts is not None:
        texts, path = [], base
        for part in spec.parts:
            piece, path = _value(item, base, part)
            if piece is None:
                return spec.default, path
            texts.append(scalar_text(piece, path))
        value: Any = "".join(texts)
    else:
        value, path = _resolve(item, base, spec)
    if value is not None and spec.pattern is not None:
        found = spec.pattern.search(scalar_text(value, path)[:_MATCH_CHARS])
        value = None if found is None else found.group(1 if found.re.groups else 0)
    if value is None:
        return spec.default, path
    if spec.table and isinstance(value, str | int | float | bool):
        return spec.table.get(scalar_text(value, path), value), path
    return value, path


_MATCH_CHARS = 10_000
"""A `match` reads at most this much of a value, as condition `matches` leaves do."""


def _incident(
    item: Any, base: str, compiled: dict[str, Any], payload: Any, index: int | None
) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key in (*TEXT_FIELDS, *TIME_FIELDS, "customersAffected"):
        spec = compiled.get(key)
        if spec is None:
            continue
        value, path = _value(item, base, spec)
        if value == RECEIVED and spec.default == RECEIVED and key in TIME_FIELDS:
            received = compiled.get("received")
            if received is None:
                raise AdapterError(
                    f"{path or 'payload'}: {_absence(item, base, spec)}, and the receive time "
                    f"that mapping key {key} falls back to is not known: pass --at",
                    path,
                )
            fields[key] = format_timestamp(received)
            continue
        if value is None:
            if key in REQUIRED:
                raise AdapterError(
                    f"{path or 'payload'}: {_absence(item, base, spec)} (mapping key {key} "
                    f"reads {spec.text or 'its parts'}); give it a default"
                    + (" (default: received takes the receive time)" if key in TIME_FIELDS else ""),
                    path,
                )
            continue
        fields[key] = _convert(key, value, path, spec, compiled["timezone"])
    for name, spec in compiled.get("fields", {}).items():
        value, path = _value(item, base, spec)
        if value is not None:
            fields[name] = _typed(value, path, spec.kind)
    labels = {}
    for name, spec in compiled.get("labels", {}).items():
        value, path = _value(item, base, spec)
        if value is not None:
            labels[name] = scalar_text(value, path)
    links = []
    for title, spec in compiled.get("links", []):
        value, path = _value(item, base, spec)
        if value is not None:
            links.append({"title": title, "url": scalar_text(value, path)})
    severity = canonical_severity(fields.pop("severity", None), CONVENTIONAL_SEVERITY)
    return incident(
        FORMAT,
        payload,
        id=fields.pop("id"),
        title=fields.pop("title"),
        started_at=fields.pop("startedAt"),
        severity=severity,
        labels=labels,
        links=links,
        extra_source={} if index is None else {"alert": item, "index": index},
        **fields,
    )


def _absence(item: Any, base: str, spec: Spec) -> str:
    """How a value is absent: `null` in the payload, or missing."""
    if spec.parts is not None:
        return "no usable value in " + " + ".join(p.text or repr(p.value) for p in spec.parts)
    if spec.steps:
        parent = Spec(spec.text, spec.steps[:-1])
        container, _ = _resolve(item, base, parent)
        last = spec.steps[-1]
        if isinstance(container, dict) and isinstance(last, str) and last in container:
            if container[last] is None:
                return "null"
            if spec.pattern is not None:
                return f"{describe(container[last])} does not match {spec.pattern.pattern!r}"
    return "missing"


def _typed(value: Any, path: str, kind: str | None) -> Any:
    """`value` as the `type` of its `fields` entry says (text when none)."""
    where = path or "payload"
    if kind in (None, "text"):
        return scalar_text(value, path)
    if kind == "list":
        if isinstance(value, list):
            return [scalar_text(v, path) for v in value]
        return [part.strip() for part in scalar_text(value, path).split(",") if part.strip()]
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        word = scalar_text(value, path).strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise AdapterError(f"{where}: expected a yes/no value (true, false, yes, no, 1, 0), "
                           f"got {describe(value)}", path)  # fmt: skip
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise AdapterError(f"{where}: expected a {kind}, got {describe(value)}", path)
    try:
        number = float(value) if kind == "number" else int(str(value).strip())
    except ValueError:
        raise AdapterError(f"{where}: expected a {kind}, got {describe(value)}", path) from None
    if kind == "number" and not math.isfinite(number):
        raise AdapterError(f"{where}: expected a finite number, got {describe(value)}", path)
    return int(number) if kind == "number" and float(number).is_integer() else number


def _convert(key: str, value: Any, path: str, spec: Spec, zone: tzinfo | None) -> Any:
    if key in TIME_FIELDS:
        if spec.time_format is not None:
            return _formatted_time(value, path, spec.time_format, zone)
        return epoch(value, spec.epoch, path) if spec.epoch else timestamp(value, path, zone)
    if key == "customersAffected":
        if isinstance(value, str) and value.isdigit():
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        raise AdapterError(
            f"{path or 'payload'}: expected a count of customers (a whole number >= 0) "
            f"for customersAffected, got {describe(value)}",
            path,
        )
    text = scalar_text(value, path)
    if key == "status" and text not in INCIDENT_STATUSES:
        raise AdapterError(
            f"{path or 'payload'}: status {text!r} is not one of {', '.join(INCIDENT_STATUSES)}; "
            f"add a map to mapping key status",
            path,
        )
    return text


def _formatted_time(value: Any, path: str, time_format: str, zone: tzinfo | None) -> str:
    """A timestamp written as `time_format` says, in `zone` when it has no offset."""
    where = path or "payload"
    text = scalar_text(value, path)
    try:
        moment = datetime.strptime(text, time_format)
    except ValueError:
        raise AdapterError(
            f"{where}: {text!r} is not a time written as {time_format!r}", path
        ) from None
    if moment.tzinfo is None:
        if zone is None:
            raise AdapterError(
                f"{where}: {text!r} has no offset: give the mapping a timezone (an IANA name)",
                path,
            )
        moment = moment.replace(tzinfo=zone)
    return format_timestamp(moment)
