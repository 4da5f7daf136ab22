"""Alert payloads from monitoring and paging tools → canonical incidents (README, Incident).

`convert(payload, fmt, received_at)` turns one webhook payload into a list of incidents: most
formats give one, Alertmanager and Grafana one per alert of the notification. Every incident has
`id`, `title`, `startedAt` and `source: {format, payload}` (the original payload, so conditions
and templates can reach any field of it), plus the optional documented fields the source
provides. The tool's own labels or tags are the incident's labels, unchanged; labels the adapter
adds start with `@`; `severity` is the canonical level (`critical`, `high`, `warning`, `info`)
when the adapter knows the tool's word. `received_at`, when given, is the moment the payload was
received: it stands in for the start time of a payload that may lawfully lack one (PagerDuty
events without `payload.timestamp`, Datadog payloads without `date`, Sentry metric alerts
without dates) and for the time of a change a payload reports without dating it (a Sentry
issue resolved).
`convert_generic(payload, mapping)` does the same for any tool, with a mapping declared as data.
Malformed input raises `AdapterError(message, pointer)`, the pointer being the offending
field's path such as `alerts[0].startsAt`. A payload may also be given as JSON text.

`detect(payload)` recognises a format by its distinctive keys:

- `alertmanager`: an `alerts` list with `groupKey`, `receiver` or `version`, and none of
  Grafana's marks;
- `grafana` (also the legacy notification, `ruleName` and `state`):
  an `alerts` list with `orgId`, or an alert with `silenceURL`, `dashboardURL`,
  `panelURL`, `values` or `valueString`;
- `pagerduty-events`: `routing_key` and `event_action`;
- `pagerduty-webhook`: an `event` object with `event_type`, or v2's `messages` whose items
  have an `event` and an `incident` object;
- `opsgenie`: `action` and an `alert` object with `alertId`;
- `datadog`: `title` or `alert_title`, with `last_updated`, `alert_transition`,
  `alert_cycle_key`, `aggreg_key` or `alert_priority`;
- `cloudwatch-sns`: `TopicArn` and `Message` (an SNS message), `Records` of `aws:sns` events (the
  Lambda form), `AlarmName` with `NewStateValue` (raw message delivery), or an EventBridge
  event with `source: aws.cloudwatch` and a `detail-type` starting "CloudWatch Alarm";
- `sentry`: `action` and a `data` object holding an `event` (issue alert), `issue` or
  `metric_alert` object; or a legacy plugin alert (`project`, an `event` object and
  `triggering_rules` or `culprit`, no `action` nor `data`).

The mappings, field by field, are in docs/adapters.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from playbook_engine.adapters import (
    alertmanager,
    cloudwatch_sns,
    datadog,
    generic,
    grafana,
    opsgenie,
    pagerduty_events,
    pagerduty_webhook,
    sentry,
)
from playbook_engine.adapters.common import AdapterError, describe

__all__ = [
    "FORMATS",
    "GROUPED_FORMATS",
    "AdapterError",
    "check_mapping",
    "convert",
    "convert_generic",
    "detect",
]

Converter = Callable[[Any, datetime | None], list[dict[str, Any]]]


def _timed(convert: Callable[[Any], list[dict[str, Any]]]) -> Converter:
    """A converter for a format whose payloads always carry their start time: it has no use
    for the receive time."""
    return lambda payload, _received_at: convert(payload)


_CONVERTERS: dict[str, Converter] = {
    alertmanager.FORMAT: alertmanager.convert,
    pagerduty_events.FORMAT: pagerduty_events.convert,
    pagerduty_webhook.FORMAT: _timed(pagerduty_webhook.convert),
    grafana.FORMAT: grafana.convert,
    opsgenie.FORMAT: opsgenie.convert,
    datadog.FORMAT: datadog.convert,
    cloudwatch_sns.FORMAT: _timed(cloudwatch_sns.convert),
    sentry.FORMAT: sentry.convert,
}
FORMATS: tuple[str, ...] = tuple(_CONVERTERS)
"""The formats `convert` and `detect` know; `generic` needs a mapping (`convert_generic`)."""

_GRAFANA_ALERT_KEYS = ("silenceURL", "dashboardURL", "panelURL", "values", "valueString")
_DATADOG_KEYS = (
    "last_updated",
    "alert_transition",
    "alert_cycle_key",
    "aggreg_key",
    "alert_priority",
)


GROUPED_FORMATS = ("alertmanager", "grafana")
"""Formats whose notifications carry a group of alerts (`grouped=True` makes it one incident)."""


def convert(
    payload: Any, fmt: str, received_at: datetime | None = None, grouped: bool = False
) -> list[dict[str, Any]]:
    """The canonical incidents of `payload`, read as format `fmt` (one of `FORMATS`);
    `received_at` stands in for a start time the payload lacks (else that is an error).
    `grouped`: an Alertmanager or Grafana notification is one incident (its alerts listed),
    not one per alert."""
    converter = _CONVERTERS.get(fmt)
    if converter is None:
        if fmt == generic.FORMAT:
            raise AdapterError(
                "format 'generic' needs a mapping: use convert_generic(payload, mapping)"
            )
        raise AdapterError(f"unknown format {fmt!r}; known formats: {', '.join(FORMATS)}")
    data = _parsed(payload)
    incidents = converter(data, received_at)
    if grouped and fmt in GROUPED_FORMATS and incidents:
        from playbook_engine.adapters.alertmanager import group_incident

        return [group_incident(incidents, data, fmt)]
    return incidents


def convert_generic(
    payload: Any, mapping: Any, received_at: datetime | None = None
) -> list[dict[str, Any]]:
    """The canonical incidents of `payload` under a declared `mapping` (see `generic`);
    `received_at` is what a timestamp's `default: received` stands for."""
    return generic.convert(_parsed(payload), mapping, received_at)


def check_mapping(mapping: Any) -> list[AdapterError]:
    """Every problem of a generic mapping, each naming the mapping key; empty when usable."""
    return generic.check_mapping(mapping)


def detect(payload: Any) -> str:
    """The format of `payload`, recognised by its shape; AdapterError if none or several fit."""
    data = _parsed(payload)
    matches = [fmt for fmt, test in _DETECTORS.items() if isinstance(data, dict) and test(data)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise AdapterError(
            f"payload: ambiguous; it could be {' or '.join(matches)}: pass the format explicitly"
        )
    known = f"known formats: {', '.join(FORMATS)}; for other tools use generic with a mapping"
    if not isinstance(data, dict):
        raise AdapterError(f"payload: expected a JSON object, got {describe(data)}; {known}")
    if pagerduty_events.is_change_event(data):
        raise AdapterError(pagerduty_events.CHANGE_EVENT, "event_action")
    if pagerduty_webhook.is_v1(data):
        message = f"messages[0].event: {pagerduty_webhook.V1_WEBHOOK}"
        raise AdapterError(message, "messages[0].event")
    raise AdapterError(f"payload: matches no known format; {known}")


def _parsed(payload: Any) -> Any:
    """`payload` itself, or the value of JSON text (str or bytes)."""
    if not isinstance(payload, str | bytes):
        return payload
    try:
        return json.loads(payload)
    except json.JSONDecodeError as exc:
        raise AdapterError(
            f"payload: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except UnicodeDecodeError as exc:
        raise AdapterError(f"payload: not UTF-8 text ({exc.reason})") from None


def _alerts(data: dict[str, Any]) -> list[Any] | None:
    alerts = data.get("alerts")
    return alerts if isinstance(alerts, list) else None


def _is_grafana(data: dict[str, Any]) -> bool:
    alerts = _alerts(data)
    if alerts is None:  # the legacy (before Grafana 8) notification: one rule, no alerts list
        return (
            "ruleName" in data and "state" in data and ("evalMatches" in data or "ruleUrl" in data)
        )
    return "orgId" in data or any(
        isinstance(alert, dict) and any(key in alert for key in _GRAFANA_ALERT_KEYS)
        for alert in alerts
    )


def _is_alertmanager(data: dict[str, Any]) -> bool:
    return (
        _alerts(data) is not None
        and any(key in data for key in ("groupKey", "receiver", "version"))
        and not _is_grafana(data)
    )


def _sns_records(data: dict[str, Any]) -> bool:
    """A Lambda event of SNS records (`Records[].EventSource == "aws:sns"`)."""
    records = data.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and r.get("EventSource") == "aws:sns" for r in records)
    )


def _child(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


_DETECTORS: dict[str, Callable[[dict[str, Any]], bool]] = {
    alertmanager.FORMAT: _is_alertmanager,
    pagerduty_events.FORMAT: lambda d: "routing_key" in d and "event_action" in d,
    pagerduty_webhook.FORMAT: lambda d: (
        "event_type" in _child(d, "event") or pagerduty_webhook.is_v2(d)
    ),
    grafana.FORMAT: _is_grafana,
    opsgenie.FORMAT: lambda d: "action" in d and "alertId" in _child(d, "alert"),
    datadog.FORMAT: lambda d: (
        ("title" in d or "alert_title" in d) and any(key in d for key in _DATADOG_KEYS)
    ),
    cloudwatch_sns.FORMAT: lambda d: (
        ("TopicArn" in d and "Message" in d)
        or ("AlarmName" in d and "NewStateValue" in d)
        or _sns_records(d)
        or cloudwatch_sns.is_alarm_event(d)
    ),
    sentry.FORMAT: sentry.is_sentry,
}
