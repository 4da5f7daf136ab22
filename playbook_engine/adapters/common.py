"""Shared pieces of the adapters: the error type, typed field access, timestamps, incidents.

Every adapter reads untrusted JSON. The helpers here check each value's type as it is read
and raise `AdapterError` naming the field by its path in the payload (`alerts[0].startsAt`)
and saying what was expected, so a malformed payload never surfaces as a `KeyError` or a
`TypeError` deep inside an adapter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any

from playbook_engine.timeparse import format_timestamp, parse_epoch, parse_timestamp

STATUSES = ("triggered", "acknowledged", "resolved")
"""The alert states adapters produce."""
INCIDENT_STATUSES = (
    *STATUSES,
    "investigating",
    "identified",
    "monitoring",
    "false-alarm",
    "duplicate",
    "not-an-incident",
)
"""Every status an incident may have (schemas/incident.schema.json): a mapping may translate a
tool's words into phases and dispositions too."""
TIMESTAMP_EXAMPLE = "a timestamp with an offset like 2026-03-14T02:17:00Z"

# Labels an adapter makes itself (as opposed to the tool's own labels or tags) start with this
# character, which no label-based tool allows in a label name (Prometheus and Grafana label
# names, Datadog and Sentry tag keys), so they never shadow or rewrite the user's labels.
DERIVED_PREFIX = "@"

# The conventional words of label-based tools (Prometheus rules, Grafana, free-form tags)
# mapped to the canonical severity levels; words not listed pass through unchanged.
CONVENTIONAL_SEVERITY = {
    "critical": "critical",
    "crit": "critical",
    "fatal": "critical",
    "emergency": "critical",
    "page": "critical",
    "high": "high",
    "error": "high",
    "err": "high",
    "major": "high",
    "warning": "warning",
    "warn": "warning",
    "minor": "warning",
    "medium": "warning",
    "info": "info",
    "informational": "info",
    "notice": "info",
    "low": "info",
    "debug": "info",
    "none": "info",
}

# Priority scales P1 (worst) .. P5 (Opsgenie, Datadog monitors, PagerDuty's default priorities).
PRIORITY_SEVERITY = {"p1": "critical", "p2": "high", "p3": "warning", "p4": "info", "p5": "info"}


class AdapterError(ValueError):
    """A payload (or mapping) that cannot be converted: what is wrong, and where.

    `pointer` is the offending field's path inside the payload, such as `alerts[0].startsAt`
    (empty for the payload as a whole); the message names the same field and what was expected.
    """

    def __init__(self, message: str, pointer: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.pointer = pointer

    def __str__(self) -> str:
        return self.message


def join(path: str, key: str | int) -> str:
    """The path of `key` inside the value at `path`: `alerts` + 0 -> `alerts[0]`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def where(path: str) -> str:
    """A path as shown in messages; the empty path is the payload itself."""
    return path or "payload"


def describe(value: Any) -> str:
    """A short description of a JSON value for messages: its kind and, for scalars, the value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    return type(value).__name__


def fail(path: str, expected: str, value: Any) -> AdapterError:
    """The error for a value of the wrong kind at `path`."""
    return AdapterError(f"{where(path)}: expected {expected}, got {describe(value)}", path)


def missing(path: str, expected: str) -> AdapterError:
    """The error for a required field that is absent (or null) at `path`."""
    return AdapterError(f"{where(path)}: missing; expected {expected}", path)


def mapping(value: Any, path: str, expected: str = "a mapping (JSON object)") -> dict[str, Any]:
    """`value` if it is a JSON object, else an error naming `path`."""
    if not isinstance(value, dict):
        raise fail(path, expected, value)
    return value


def opt_mapping(obj: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    """The object at `obj[key]`, or an empty one when absent or null."""
    value = obj.get(key)
    return {} if value is None else mapping(value, join(path, key))


def req_mapping(obj: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    """The object at `obj[key]`; absent or null is an error."""
    value = obj.get(key)
    if value is None:
        raise missing(join(path, key), "a mapping (JSON object)")
    return mapping(value, join(path, key))


def opt_list(obj: dict[str, Any], key: str, path: str) -> list[Any]:
    """The list at `obj[key]`, or an empty one when absent or null."""
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise fail(join(path, key), "a list", value)
    return value


def req_list(obj: dict[str, Any], key: str, path: str, expected: str) -> list[Any]:
    """The non-empty list at `obj[key]`; `expected` says what its items are."""
    value = obj.get(key)
    if value is None:
        raise missing(join(path, key), f"a list of {expected}")
    if not isinstance(value, list):
        raise fail(join(path, key), f"a list of {expected}", value)
    if not value:
        raise fail(join(path, key), f"a non-empty list of {expected}", value)
    return value


def opt_str(obj: dict[str, Any], key: str, path: str) -> str | None:
    """The string at `obj[key]`; absent, null or empty gives None."""
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise fail(join(path, key), "a string", value)
    return value


def req_str(obj: dict[str, Any], key: str, path: str, expected: str = "a non-empty string") -> str:
    """The non-empty string at `obj[key]`."""
    value = opt_str(obj, key, path)
    if value is None:
        raise missing(join(path, key), expected)
    return value


def scalar_text(value: Any, path: str) -> str:
    """A label value as text: strings as they are, numbers and booleans written as in JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise fail(path, "a string, number or boolean", value)


def str_labels(value: Any, path: str) -> dict[str, str]:
    """A mapping of labels with every value as text; null values are dropped."""
    labels = {}
    for key, item in mapping(value, path).items():
        if item is not None:
            labels[key] = scalar_text(item, join(path, key))
    return labels


def tag_labels(tags: list[Any], path: str) -> dict[str, str]:
    """Labels from `key:value` tags; a tag without a colon becomes `tag: "true"`."""
    labels = {}
    for index, tag in enumerate(tags):
        if not isinstance(tag, str):
            raise fail(join(path, index), "a tag string like env:prod", tag)
        name, sep, value = tag.strip().partition(":")
        if name:
            labels[name] = value if sep else "true"
    return labels


def timestamp(value: Any, path: str, zone: tzinfo | None = None) -> str:
    """An RFC 3339 timestamp string (any offset form, fractions allowed), normalised.

    With `zone`, a timestamp written without an offset is read as wall time in that zone (a
    time skipped or repeated by a daylight-saving change takes the offset in force before it).
    """
    if value is None:
        raise missing(path, TIMESTAMP_EXAMPLE)
    if not isinstance(value, str):
        raise fail(path, TIMESTAMP_EXAMPLE, value)
    try:
        moment = parse_timestamp(value)
    except ValueError as exc:
        wall = _without_offset(value) if zone is not None else None
        if wall is None:
            raise AdapterError(f"{where(path)}: {exc}", path) from None
        moment = wall.replace(tzinfo=zone)
    return format_timestamp(moment)


def _without_offset(value: str) -> datetime | None:
    """The wall time of a timestamp written without an offset, else None."""
    try:
        # With an offset already there, the added Z makes the text invalid.
        return parse_timestamp(value + "Z").replace(tzinfo=None)
    except ValueError:
        return None


def received(path: str, received_at: datetime | None) -> str:
    """The receive time standing in for a start time the payload lacks at `path`.

    The engine never reads the wall clock: the caller passes the moment the payload was
    received (`run` its `--at`, `convert` its `--at`); without one the payload is refused.
    """
    if received_at is None:
        raise AdapterError(
            f"{where(path)}: missing, and no receive time was given to stand in for it: "
            "pass --at with the time the payload was received",
            path,
        )
    return format_timestamp(received_at)


EPOCH_UNITS = {"s": "seconds", "ms": "milliseconds", "ns": "nanoseconds"}


def epoch(value: Any, unit: str, path: str) -> str:
    """A timestamp from seconds, milliseconds or nanoseconds since the Unix epoch."""
    expected = f"epoch {EPOCH_UNITS[unit]} (a number)"
    if value is None:
        raise missing(path, expected)
    number: Any = value
    if isinstance(value, str):
        try:
            number = float(value) if "." in value else int(value)
        except ValueError:
            raise fail(path, expected, value) from None
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise fail(path, expected, value)
    try:
        if unit == "ns" and isinstance(number, int):
            # Exactly, in integers: nanoseconds above 2**53 lose precision through a float
            # (1 µs off). A datetime holds microseconds, so the rest is cut, as for text.
            whole = parse_epoch(number // 1_000_000_000, "s")
            moment = whole + timedelta(microseconds=number % 1_000_000_000 // 1000)
        elif unit == "ns":
            moment = parse_epoch(number / 1_000_000, "ms")
        else:
            moment = parse_epoch(number, unit)
    except (ValueError, OverflowError) as exc:
        raise AdapterError(f"{where(path)}: {exc}", path) from None
    return format_timestamp(moment)


def choose(value: str, table: dict[str, str], path: str, what: str) -> str:
    """`table[value]`, or an error at `path` listing the values `what` may take."""
    if value in table:
        return table[value]
    known = ", ".join(sorted(table))
    raise AdapterError(f"{where(path)}: unknown {what} {value!r}; expected one of {known}", path)


def link(title: str, url: str | None) -> dict[str, str] | None:
    """A `{title, url}` link, or None when there is no URL."""
    return {"title": title, "url": url} if url else None


def incident(
    fmt: str,
    payload: Any,
    *,
    id: str,
    title: str,
    started_at: str,
    extra_source: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
    links: Sequence[dict[str, str] | None] = (),
    **fields: Any,
) -> dict[str, Any]:
    """A canonical incident: the required fields, the optional ones that have a value, `source`.

    Optional `fields` use their canonical names (`detectedAt`, `status`, `severity`, ...);
    None values, empty labels and empty link lists are left out.
    """
    warnings = list(fields.pop("warnings", None) or ())
    title = _cleaned("title", title, warnings)
    result: dict[str, Any] = {"id": id, "title": title, "startedAt": started_at}
    for name, value in fields.items():
        if isinstance(value, str):
            value = _cleaned(name, value, warnings) or None
        if value is not None:
            result[name] = value
    if warnings:
        labels = {**(labels or {}), DERIVED_PREFIX + "warnings": "; ".join(warnings)}
    if labels:
        result["labels"] = dict(sorted(labels.items()))
    present = [item for item in links if item is not None]
    if present:
        result["links"] = present
    result["source"] = {"format": fmt, "payload": payload, **(extra_source or {})}
    return result


# What a sender leaves when its own template did not render: Go templates' `<no value>`,
# `{{ ... }}`, Zabbix macros (`{EVENT.NAME}`), Datadog variables (`$EVENT_TITLE`), PagerDuty's
# documented placeholder `<dedup_key>`.
_RESIDUE = re.compile(
    r"<no value>|<dedup_key>|\{\{.*?\}\}|\{[A-Z][A-Z0-9_]*\.[A-Z0-9_.]+\}|\$[A-Z][A-Z0-9_]{2,}"
)


def _cleaned(name: str, value: str, warnings: list[str]) -> str:
    """`value` with surrounding whitespace trimmed (safe: it never carries meaning in these
    fields); a template the sender left unrendered is kept as written and noted in
    `warnings`, so a plan can say the alert came with one."""
    value = value.strip()
    found = _RESIDUE.search(value)
    if found is not None:
        warnings.append(f"{name} holds an unrendered template ({found.group()})")
    return value


def canonical_severity(word: str | None, table: Mapping[str, str]) -> str | None:
    """The canonical level (`critical`, `high`, `warning`, `info`) of a severity word the
    adapter knows, else the word itself lower-cased; None when there is no word."""
    if word is None:
        return None
    lowered = word.lower()
    return table.get(lowered, lowered)


def with_derived(own: dict[str, str], derived: Mapping[str, str | None]) -> dict[str, str]:
    """The tool's own labels unchanged, plus the adapter's `derived` values that are set, each
    named with the `@` prefix; a derived name the tool's labels already hold is left out."""
    labels = dict(own)
    for name, value in derived.items():
        key = DERIVED_PREFIX + name
        if value is not None and key not in labels:
            labels[key] = value
    return labels


def service_and_environment(labels: dict[str, str]) -> tuple[str | None, str | None]:
    """The service (`service`, else `app`) and environment (`environment`, else `env`) labels.

    Prometheus' `job` is deliberately not a fallback: it names a scrape job (`node`), which is
    rarely the affected service.
    """
    service = labels.get("service") or labels.get("app")
    environment = labels.get("environment") or labels.get("env")
    return service, environment
