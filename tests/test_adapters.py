"""Alert payload adapters: golden incidents per format, detection, malformed payloads, mappings.

Payloads live in tests/data/payloads/<format>/<name>.json (a generic case adds
<name>.mapping.json); the expected incidents are <name>.expected.json beside them, with
`source.payload` written as the placeholder "<payload>" when it is the payload file itself.
Run with UPDATE_GOLDEN=1 to rewrite the expected files after a deliberate change.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from playbook_engine.adapters import (
    FORMATS,
    AdapterError,
    check_mapping,
    convert,
    convert_generic,
    detect,
)
from playbook_engine.timeparse import parse_timestamp

HERE = Path(__file__).parent
DATA = HERE / "data" / "payloads"
SCHEMAS = HERE.parent / "schemas"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
PLACEHOLDER = "<payload>"
DELETE = object()
# When the test payloads were "received": the start time of those that carry none.
RECEIVED = datetime(2026, 3, 14, 2, 30, tzinfo=UTC)
CANONICAL = ("critical", "high", "warning", "info")

CASES = sorted(
    path
    for path in DATA.glob("*/*.json")
    if not path.name.endswith((".expected.json", ".mapping.json"))
)


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _payload(name: str) -> Any:
    return _load(DATA / f"{name}.json")


def _run(path: Path) -> list[dict[str, Any]]:
    payload = _load(path)
    if path.parent.name == "generic":
        mapping = _load(path.with_name(f"{path.stem}.mapping.json"))
        return convert_generic(payload, mapping, RECEIVED)
    return convert(payload, path.parent.name, RECEIVED)


def _for_golden(incidents: list[dict[str, Any]], payload: Any) -> list[dict[str, Any]]:
    result = copy.deepcopy(incidents)
    for item in result:
        if item["source"]["payload"] == payload:
            item["source"]["payload"] = PLACEHOLDER
    return result


def _incident_validator() -> Draft202012Validator | None:
    path = SCHEMAS / "incident.schema.json"
    if not path.exists():
        return None
    return Draft202012Validator(_load(path))


INCIDENT_VALIDATOR = _incident_validator()


@pytest.mark.parametrize("path", CASES, ids=_id)
def test_golden_incidents(path: Path) -> None:
    incidents = _run(path)
    golden = path.with_name(f"{path.stem}.expected.json")
    shown = _for_golden(incidents, _load(path))
    if UPDATE:
        golden.write_text(json.dumps(shown, indent=2, ensure_ascii=False) + "\n", "utf-8")
    assert golden.exists(), f"no {golden.name}: run with UPDATE_GOLDEN=1 and review it"
    assert shown == _load(golden)


@pytest.mark.parametrize("path", CASES, ids=_id)
def test_incidents_are_canonical(path: Path) -> None:
    fmt = path.parent.name
    incidents = _run(path)
    assert incidents
    for incident in incidents:
        assert incident["source"]["format"] == fmt
        json.dumps(incident)  # plain JSON data
        for key in ("startedAt", "detectedAt", "acknowledgedAt", "resolvedAt"):
            if key in incident:
                parse_timestamp(incident[key])
        assert incident.get("status", "triggered") in ("triggered", "acknowledged", "resolved")
        if fmt != "generic":  # a mapping may keep a word of its own (sev2)
            assert incident.get("severity", "info") in CANONICAL
        if INCIDENT_VALIDATOR is not None:
            errors = [error.message for error in INCIDENT_VALIDATOR.iter_errors(incident)]
            assert errors == []


@pytest.mark.parametrize("path", CASES, ids=_id)
def test_conversion_leaves_the_payload_alone(path: Path) -> None:
    payload = _load(path)
    before = copy.deepcopy(payload)
    if path.parent.name == "generic":
        convert_generic(payload, _load(path.with_name(f"{path.stem}.mapping.json")), RECEIVED)
    else:
        convert(payload, path.parent.name, RECEIVED)
    assert payload == before


def test_every_format_has_realistic_cases() -> None:
    counts = {fmt: 0 for fmt in (*FORMATS, "generic")}
    for path in CASES:
        counts[path.parent.name] += 1
    assert all(count >= 2 for count in counts.values()), counts


@pytest.mark.parametrize("path", [p for p in CASES if p.parent.name != "generic"], ids=_id)
def test_detect_recognises_each_payload(path: Path) -> None:
    assert detect(_load(path)) == path.parent.name


def test_detect_reads_json_text() -> None:
    text = (DATA / "sentry" / "issue-alert.json").read_text(encoding="utf-8")
    assert detect(text) == "sentry"
    assert detect(text.encode("utf-8")) == "sentry"


def test_detect_refuses_an_ambiguous_payload() -> None:
    payload = {"routing_key": "k", "event_action": "trigger", "TopicArn": "t", "Message": "m"}
    with pytest.raises(AdapterError) as caught:
        detect(payload)
    assert str(caught.value) == (
        "payload: ambiguous; it could be pagerduty-events or cloudwatch-sns: "
        "pass the format explicitly"
    )


KNOWN = (
    "known formats: alertmanager, pagerduty-events, pagerduty-webhook, grafana, opsgenie, "
    "datadog, cloudwatch-sns, sentry; for other tools use generic with a mapping"
)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"hello": "world"}, f"payload: matches no known format; {KNOWN}"),
        ([], f"payload: expected a JSON object, got an empty list; {KNOWN}"),
        ("42", f"payload: expected a JSON object, got the number 42; {KNOWN}"),
        ('{"alerts": [', "payload: not valid JSON: Expecting value (line 1, column 13)"),
    ],
)
def test_detect_says_when_nothing_matches(payload: Any, message: str) -> None:
    with pytest.raises(AdapterError) as caught:
        detect(payload)
    assert (str(caught.value), caught.value.pointer) == (message, "")


def test_grafana_is_not_mistaken_for_alertmanager() -> None:
    payload = _payload("grafana/resolved")
    del payload["orgId"]  # the per-alert silenceURL still says Grafana
    assert detect(payload) == "grafana"
    for alert in payload["alerts"]:
        for key in ("silenceURL", "dashboardURL", "panelURL", "valueString"):
            alert.pop(key)
    assert detect(payload) == "alertmanager"


def test_unknown_and_generic_formats_are_refused_by_convert() -> None:
    with pytest.raises(AdapterError) as caught:
        convert({}, "nagios")
    assert str(caught.value) == (
        "unknown format 'nagios'; known formats: alertmanager, pagerduty-events, "
        "pagerduty-webhook, grafana, opsgenie, datadog, cloudwatch-sns, sentry"
    )
    with pytest.raises(AdapterError) as caught:
        convert({}, "generic")
    assert str(caught.value) == (
        "format 'generic' needs a mapping: use convert_generic(payload, mapping)"
    )


def test_several_alerts_become_several_incidents_sharing_the_payload() -> None:
    payload = _payload("alertmanager/firing-two-alerts")
    first, second = convert(payload, "alertmanager")
    assert [first["source"]["index"], second["source"]["index"]] == [0, 1]
    assert first["source"]["alert"] == payload["alerts"][0]
    assert second["source"]["payload"] == payload
    assert "resolvedAt" not in second  # a provisional endsAt of a firing alert is no end


def test_pagerduty_routing_key_stays_out_of_the_incident() -> None:
    payload = _payload("pagerduty-events/trigger")
    (incident,) = convert(payload, "pagerduty-events")
    assert payload["routing_key"] not in json.dumps(incident)
    assert incident["source"]["payload"]["routing_key"] == "[redacted]"


def test_pagerduty_trigger_without_dedup_key_gets_a_stable_id() -> None:
    payload = _payload("pagerduty-events/trigger-without-dedup-key")
    reordered = dict(reversed(list(payload.items())))
    assert (
        convert(payload, "pagerduty-events")[0]["id"]
        == convert(reordered, "pagerduty-events")[0]["id"]
    )
    changed = dict(payload, payload=dict(payload["payload"], summary="Another failure"))
    assert (
        convert(changed, "pagerduty-events")[0]["id"]
        != convert(payload, "pagerduty-events")[0]["id"]
    )


def _mutated(name: str, steps: tuple[str | int, ...], value: Any) -> Any:
    data = _payload(name)
    target = data
    for step in steps[:-1]:
        target = target[step]
    if value is DELETE:
        del target[steps[-1]]
    else:
        target[steps[-1]] = value
    return data


TIMESTAMP = "a timestamp with an offset like 2026-03-14T02:17:00Z"
# (format, payload file, field to change, new value or DELETE, pointer, message)
MALFORMED: list[tuple[str, str, tuple[str | int, ...], Any, str, str]] = [
    (
        "alertmanager",
        "firing-two-alerts",
        ("alerts",),
        {},
        "alerts",
        "alerts: expected a list of alerts, got a mapping",
    ),
    (
        "alertmanager",
        "firing-two-alerts",
        ("alerts",),
        [],
        "alerts",
        "alerts: expected a non-empty list of alerts, got an empty list",
    ),
    (
        "alertmanager",
        "firing-two-alerts",
        ("alerts", 1, "startsAt"),
        DELETE,
        "alerts[1].startsAt",
        f"alerts[1].startsAt: missing; expected {TIMESTAMP}",
    ),
    (
        "alertmanager",
        "firing-two-alerts",
        ("alerts", 0, "startsAt"),
        "2026-03-14T02:17:00",
        "alerts[0].startsAt",
        "alerts[0].startsAt: timestamp has no offset: add an offset such as Z or +01:00",
    ),
    (
        "alertmanager",
        "firing-two-alerts",
        ("alerts", 0, "startsAt"),
        1773454620,
        "alerts[0].startsAt",
        f"alerts[0].startsAt: expected {TIMESTAMP}, got the number 1773454620",
    ),
    (
        "alertmanager",
        "firing-two-alerts",
        ("alerts", 0, "status"),
        "pending",
        "alerts[0].status",
        "alerts[0].status: unknown alert status 'pending'; expected one of firing, resolved",
    ),
    (
        "alertmanager",
        "firing-two-alerts",
        ("alerts", 0, "labels", "team"),
        {"name": "payments"},
        "alerts[0].labels.team",
        "alerts[0].labels.team: expected a string, number or boolean, got a mapping",
    ),
    (
        "alertmanager",
        "firing-two-alerts",
        ("alerts", 1, "labels", "alertname"),
        DELETE,
        "alerts[1].labels.alertname",
        "alerts[1].labels.alertname: missing; expected annotations.summary or "
        "labels.alertname for the title",
    ),
    (
        "alertmanager",
        "firing-two-alerts",
        ("alerts", 1),
        "oops",
        "alerts[1]",
        "alerts[1]: expected a mapping (JSON object), got the string 'oops'",
    ),
    (
        "alertmanager",
        "resolved",
        ("alerts", 0, "endsAt"),
        "2026-13-01T00:00:00Z",
        "alerts[0].endsAt",
        "alerts[0].endsAt: month 13 is out of range (01-12)",
    ),
    (
        "grafana",
        "firing-two-alerts",
        ("alerts", 1, "dashboardURL"),
        5,
        "alerts[1].dashboardURL",
        "alerts[1].dashboardURL: expected a string, got the number 5",
    ),
    (
        "pagerduty-events",
        "trigger",
        ("event_action",),
        "escalate",
        "event_action",
        "event_action: unknown event action 'escalate'; expected one of acknowledge, "
        "resolve, trigger",
    ),
    (
        "pagerduty-events",
        "trigger",
        ("payload", "severity"),
        DELETE,
        "payload.severity",
        "payload.severity: missing; expected critical, error, warning or info",
    ),
    (
        "pagerduty-events",
        "resolve",
        ("dedup_key",),
        DELETE,
        "dedup_key",
        "dedup_key: missing; resolve events must name the alert they apply to",
    ),
    (
        "pagerduty-events",
        "resolve",
        ("payload",),
        DELETE,
        "payload",
        # Without a payload a resolve is an update timed by its receipt: none was given here.
        "payload: missing, and no receive time was given to stand in for it: pass --at with "
        "the time the payload was received",
    ),
    (
        "pagerduty-events",
        "trigger",
        ("payload", "timestamp"),
        DELETE,
        "payload.timestamp",
        "payload.timestamp: missing, and no receive time was given to stand in for it: "
        "pass --at with the time the payload was received",
    ),
    (
        "pagerduty-events",
        "trigger",
        ("links", 1, "href"),
        DELETE,
        "links[1].href",
        "links[1].href: missing; expected the link's URL",
    ),
    (
        "pagerduty-webhook",
        "triggered",
        ("event", "data", "type"),
        "incident_note",
        "event.data.type",
        "event.data.type: expected 'incident', got 'incident_note'; this incident.triggered "
        "event carries no incident to convert",
    ),
    (
        "pagerduty-webhook",
        "triggered",
        ("event", "event_type"),
        "service.updated",
        "event.event_type",
        "event.event_type: expected an incident event like incident.triggered, got "
        "'service.updated'; only incident events convert",
    ),
    (
        "pagerduty-webhook",
        "triggered",
        ("event", "data", "status"),
        "snoozed",
        "event.data.status",
        "event.data.status: unknown incident status 'snoozed'; expected one of acknowledged, "
        "resolved, triggered",
    ),
    (
        "pagerduty-webhook",
        "acknowledged",
        ("event", "occurred_at"),
        "later",
        "event.occurred_at",
        "event.occurred_at: expected a timestamp like 2026-03-14T02:17:00Z or "
        "2026-03-14T03:17:00+01:00",
    ),
    (
        "pagerduty-webhook",
        "triggered",
        ("event", "data", "teams", 0),
        "Payments",
        "event.data.teams[0]",
        "event.data.teams[0]: expected a team reference, got the string 'Payments'",
    ),
    (
        "opsgenie",
        "create",
        ("alert", "createdAt"),
        "yesterday",
        "alert.createdAt",
        "alert.createdAt: expected epoch milliseconds (a number), got the string 'yesterday'",
    ),
    (
        "opsgenie",
        "create",
        ("alert", "createdAt"),
        -5,
        "alert.createdAt",
        "alert.createdAt: epoch -5 ms is out of range (years 1970-9999)",
    ),
    (
        "opsgenie",
        "create",
        ("alert", "createdAt"),
        True,
        "alert.createdAt",
        "alert.createdAt: expected epoch milliseconds (a number), got true",
    ),
    (
        "opsgenie",
        "create",
        ("alert", "tags", 1),
        7,
        "alert.tags[1]",
        "alert.tags[1]: expected a tag string like env:prod, got the number 7",
    ),
    (
        "opsgenie",
        "close",
        ("alert", "updatedAt"),
        DELETE,
        "alert.updatedAt",
        "alert.updatedAt: missing; expected epoch nanoseconds (a number)",
    ),
    (
        "datadog",
        "default-triggered",
        ("date",),
        "soon",
        "date",
        "date: expected epoch milliseconds (a number), got the string 'soon'",
    ),
    (
        "datadog",
        "extended-recovered",
        ("alert_transition",),
        "Exploded",
        "alert_transition",
        "alert_transition: unknown alert transition 'Exploded'; expected one of No Data, "
        "Re-No Data, Re-Triggered, Re-Warn, Recovered, Renotify, Triggered, Warn",
    ),
    (
        "datadog",
        "default-triggered",
        ("title",),
        "Downtime started for env:staging",
        "alert_transition",
        "alert_transition: missing, and the title has no transition like [Triggered] or "
        "[Recovered]: the notification is not a monitor's transition (a downtime or another "
        "event notice), so it is not an incident; a monitor's webhook payload should send "
        "alert_transition ($ALERT_TRANSITION)",
    ),
    (
        "datadog",
        "default-triggered",
        ("title",),
        DELETE,
        "title",
        "title: missing; expected the event title ($EVENT_TITLE)",
    ),
    (
        "datadog",
        "default-triggered",
        ("id",),
        DELETE,
        "id",
        "id: missing; expected the event id ($ID) or alert_cycle_key ($ALERT_CYCLE_KEY)",
    ),
    (
        "cloudwatch-sns",
        "alarm",
        ("Message",),
        '{"AlarmName": "checkout-alb-5xx", ',
        "Message",
        "Message: expected a JSON string holding a CloudWatch alarm, but it is not JSON: "
        "Expecting property name enclosed in double quotes (character 35)",
    ),
    (
        "cloudwatch-sns",
        "alarm",
        ("Message",),
        '["ALARM"]',
        "Message",
        "Message: expected a JSON object holding a CloudWatch alarm, got a list",
    ),
    (
        "cloudwatch-sns",
        "alarm",
        ("Message",),
        '{"Records": [{"s3": {}}]}',
        "Message.AlarmName",
        "Message.AlarmName: missing; expected the alarm name",
    ),
    (
        "cloudwatch-sns",
        "alarm",
        ("Type",),
        "SubscriptionConfirmation",
        "Type",
        "Type: expected 'Notification', got 'SubscriptionConfirmation'; only notifications "
        "carry alarms (confirm subscriptions with the SubscribeURL instead)",
    ),
    (
        "cloudwatch-sns",
        "eventbridge-single-metric",
        ("detail", "state", "value"),
        "BROKEN",
        "detail.state.value",
        "detail.state.value: unknown alarm state 'BROKEN'; expected one of ALARM, "
        "INSUFFICIENT_DATA, OK",
    ),
    (
        "cloudwatch-sns",
        "eventbridge-single-metric",
        ("detail-type",),
        "CloudWatch Alarm Configuration Change",
        "detail-type",
        "detail-type: expected 'CloudWatch Alarm State Change', got 'CloudWatch Alarm "
        "Configuration Change'; only alarm state changes are incidents (configuration changes "
        "and the rest are not)",
    ),
    (
        "cloudwatch-sns",
        "eventbridge-ok",
        ("detail", "previousState", "timestamp"),
        "2019-10-02T17:04:40.989",
        "detail.previousState.timestamp",
        "detail.previousState.timestamp: timestamp has no offset: add an offset such as Z or "
        "+01:00",
    ),
    (
        "cloudwatch-sns",
        "eventbridge-metric-math",
        ("detail", "configuration", "metrics", 1),
        "m1",
        "detail.configuration.metrics[1]",
        "detail.configuration.metrics[1]: expected a metric of the alarm, got the string 'm1'",
    ),
    (
        "cloudwatch-sns",
        "eventbridge-anomaly-detection",
        ("detail", "alarmName"),
        DELETE,
        "detail.alarmName",
        "detail.alarmName: missing; expected the alarm name",
    ),
    (
        "cloudwatch-sns",
        "eventbridge-single-metric",
        ("detail", "configuration", "metrics", 0, "metricStat", "metric", "dimensions"),
        ["InstanceId"],
        "detail.configuration.metrics[0].metricStat.metric.dimensions",
        "detail.configuration.metrics[0].metricStat.metric.dimensions: expected a mapping "
        "(JSON object), got a list",
    ),
    (
        "sentry",
        "issue-alert",
        ("action",),
        "resolved",
        "action",
        "action: expected 'triggered', got 'resolved'",
    ),
    (
        "sentry",
        "issue-alert",
        ("data", "event", "tags", 1),
        ["handled"],
        "data.event.tags[1]",
        "data.event.tags[1]: expected a [key, value] pair, got a list",
    ),
    (
        "sentry",
        "issue-alert",
        ("data", "event", "datetime"),
        "2026-03-14T02:17:03",
        "data.event.datetime",
        "data.event.datetime: timestamp has no offset: add an offset such as Z or +01:00",
    ),
    (
        "sentry",
        "fatal-epoch-timestamp",
        ("data", "event", "timestamp"),
        "nan",
        "data.event.timestamp",
        "data.event.timestamp: expected epoch seconds (a number), got the string 'nan'",
    ),
    (
        "sentry",
        "issue-created-docs",
        ("action",),
        "exploded",
        "action",
        "action: unknown issue action (or assigned, which keeps the issue's status) "
        "'exploded'; expected one of archived, created, ignored, resolved, unresolved",
    ),
    (
        "sentry",
        "issue-assigned",
        ("data", "issue", "status"),
        "snoozed",
        "data.issue.status",
        "data.issue.status: unknown issue status 'snoozed'; expected one of ignored, resolved, "
        "unresolved",
    ),
    (
        "sentry",
        "issue-created-docs",
        ("data", "issue", "firstSeen"),
        "2019-08-19 20:58",
        "data.issue.firstSeen",
        "data.issue.firstSeen: timestamp has no offset: add an offset such as Z or +01:00",
    ),
    (
        "sentry",
        "issue-created-docs",
        ("data", "issue", "id"),
        DELETE,
        "data.issue.id",
        "data.issue.id: missing; expected the issue id",
    ),
    (
        "sentry",
        "issue-resolved",
        ("action",),
        "resolved",
        "action",
        # No receive time is given here, and the payload holds no time of resolution.
        "action: an issue resolved webhook holds no time for the change it reports, and no "
        "receive time was given to stand in for it: pass --at with the time the payload was "
        "received",
    ),
    (
        "sentry",
        "metric-alert-resolved-docs",
        ("action",),
        "firing",
        "action",
        "action: unknown metric alert action 'firing'; expected one of critical, resolved, warning",
    ),
    (
        "sentry",
        "metric-alert-resolved-docs",
        ("data", "metric_alert", "date_started"),
        "13/09/2020",
        "data.metric_alert.date_started",
        "data.metric_alert.date_started: expected a timestamp like 2026-03-14T02:17:00Z or "
        "2026-03-14T03:17:00+01:00",
    ),
    (
        "sentry",
        "metric-alert-resolved-docs",
        ("data", "metric_alert", "id"),
        DELETE,
        "data.metric_alert.id",
        "data.metric_alert.id: missing; expected the metric alert's incident id",
    ),
    (
        "sentry",
        "metric-alert-warning",
        ("data", "metric_alert"),
        DELETE,
        "action",
        "action: expected 'triggered', got 'warning'; data holds no event, issue or metric_alert",
    ),
]


@pytest.mark.parametrize(
    ("fmt", "name", "steps", "value", "pointer", "message"),
    MALFORMED,
    ids=[f"{case[0]}:{case[4]}" for case in MALFORMED],
)
def test_malformed_payloads_name_the_field(
    fmt: str, name: str, steps: tuple[str | int, ...], value: Any, pointer: str, message: str
) -> None:
    with pytest.raises(AdapterError) as caught:
        convert(_mutated(f"{fmt}/{name}", steps, value), fmt)
    assert (caught.value.pointer, str(caught.value)) == (pointer, message)


def test_cloudwatch_nested_message_fields_are_named_by_path() -> None:
    alarm = {
        "AlarmName": "a",
        "NewStateValue": "ALARM",
        "StateChangeTime": "2026-03-14T02:17:00.123+0000",
        "Trigger": {"Dimensions": ["InstanceId"]},
    }
    payload = _mutated("cloudwatch-sns/alarm", ("Message",), json.dumps(alarm))
    with pytest.raises(AdapterError) as caught:
        convert(payload, "cloudwatch-sns")
    assert caught.value.pointer == "Message.Trigger.Dimensions[0]"
    assert str(caught.value) == (
        "Message.Trigger.Dimensions[0]: expected a dimension like {name, value}, "
        "got the string 'InstanceId'"
    )


WRONG_FORMAT = [
    ("alertmanager", "sentry/issue-alert", "alerts", "alerts: missing; expected a list of alerts"),
    (
        "grafana",
        "pagerduty-webhook/resolved",
        "alerts",
        "alerts: missing; expected a list of alerts",
    ),
    (
        "pagerduty-events",
        "grafana/resolved",
        "routing_key",
        "routing_key: missing; expected the integration's routing key",
    ),
    (
        "pagerduty-webhook",
        "pagerduty-events/trigger",
        "event",
        "event: missing; expected a mapping (JSON object)",
    ),
    (
        "opsgenie",
        "datadog/default-triggered",
        "action",
        "action: missing; expected an alert action like Create or Close",
    ),
    (
        "datadog",
        "cloudwatch-sns/alarm",
        "title",
        "title: missing; expected the event title ($EVENT_TITLE)",
    ),
    ("cloudwatch-sns", "opsgenie/create", "Type", "Type: missing; expected Notification"),
    (
        "sentry",
        "alertmanager/resolved",
        "action",
        "action: missing; expected a Sentry webhook action such as triggered, created or critical",
    ),
]


@pytest.mark.parametrize(("fmt", "name", "pointer", "message"), WRONG_FORMAT)
def test_a_payload_of_another_format_is_refused(
    fmt: str, name: str, pointer: str, message: str
) -> None:
    with pytest.raises(AdapterError) as caught:
        convert(_payload(name), fmt)
    assert (caught.value.pointer, str(caught.value)) == (pointer, message)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            [],
            "payload: expected an alert notification (a JSON object with alerts), got an "
            "empty list",
        ),
        (None, "payload: expected an alert notification (a JSON object with alerts), got null"),
        ("", "payload: not valid JSON: Expecting value (line 1, column 1)"),
    ],
)
def test_a_payload_that_is_not_an_object_is_refused(payload: Any, message: str) -> None:
    with pytest.raises(AdapterError) as caught:
        convert(payload, "alertmanager")
    assert (caught.value.pointer, str(caught.value)) == ("", message)


def test_truncated_json_text_is_refused_with_its_position() -> None:
    text = (DATA / "alertmanager" / "resolved.json").read_text(encoding="utf-8")
    with pytest.raises(AdapterError) as caught:
        convert(text[:200], "alertmanager")
    assert str(caught.value) == (
        "payload: not valid JSON: Unterminated string starting at (line 9, column 20)"
    )
    assert convert(text, "alertmanager") == convert(json.loads(text), "alertmanager")


# --- generic mappings --------------------------------------------------------------------

UPTIME = "generic/uptime-check"


def _uptime_mapping(**changes: Any) -> dict[str, Any]:
    mapping: dict[str, Any] = _load(DATA / f"{UPTIME}.mapping.json")
    mapping.update(changes)
    return mapping


def test_mapping_files_agree_with_the_mapping_schema() -> None:
    validator = Draft202012Validator(_load(SCHEMAS / "mapping.schema.json"))
    Draft202012Validator.check_schema(validator.schema)
    for path in DATA.glob("generic/*.mapping.json"):
        assert list(validator.iter_errors(_load(path))) == []
        assert check_mapping(_load(path)) == []


REQUIRED_ONLY = {"id": "$.a", "title": "$.b", "startedAt": "$.c"}
BAD_MAPPINGS: list[tuple[Any, str, str]] = [
    ([], "", "mapping: expected a mapping, got an empty list"),
    (
        {"title": "$.b", "startedAt": "$.c"},
        "id",
        "mapping key id: missing; every mapping says where id, title and startedAt are",
    ),
    (
        {**REQUIRED_ONLY, "urgency": "$.u"},
        "urgency",
        "mapping key urgency: unknown key; expected one of id, title, status, service, "
        "environment, severity, description, startedAt, detectedAt, acknowledgedAt, "
        "resolvedAt, customersAffected, labels, links, each, timezone, fields",
    ),
    (
        {**REQUIRED_ONLY, "id": "alert.uid"},
        "id.path",
        "mapping key id.path: invalid path 'alert.uid': a path starts with $",
    ),
    (
        {**REQUIRED_ONLY, "id": "$.a[x]"},
        "id.path",
        "mapping key id.path: invalid path '$.a[x]': unexpected '[' at character 4; "
        "expected .name, ['name'] or [index]",
    ),
    (
        {**REQUIRED_ONLY, "startedAt": {"path": "$.c", "epoch": "sec"}},
        "startedAt.epoch",
        "mapping key startedAt.epoch: expected 's' or 'ms' on a timestamp field, got 'sec'",
    ),
    (
        {**REQUIRED_ONLY, "title": {"path": "$.b", "epoch": "ms"}},
        "title.epoch",
        "mapping key title.epoch: expected 's' or 'ms' on title, not a timestamp field, got 'ms'",
    ),
    (
        {**REQUIRED_ONLY, "status": {"path": "$.s", "map": {"up": "ok"}}},
        "status.map.up",
        "mapping key status.map.up: 'ok' is not a status; expected one of triggered, "
        "acknowledged, resolved, investigating, identified, monitoring, false-alarm, duplicate, "
        "not-an-incident",
    ),
    (
        {**REQUIRED_ONLY, "severity": {"path": "$.s", "map": ["crit"]}},
        "severity.map",
        "mapping key severity.map: expected a mapping of values, got a list",
    ),
    (
        {**REQUIRED_ONLY, "id": {"path": "$.a", "value": "x"}},
        "id",
        "mapping key id: needs exactly one of path, value and concat",
    ),
    (
        {**REQUIRED_ONLY, "id": {"path": "$.a", "fallback": "x"}},
        "id.fallback",
        "mapping key id.fallback: unknown key; expected one of path, value, default, map, "
        "epoch, match, concat, format, type",
    ),
    (
        {**REQUIRED_ONLY, "id": 5},
        "id",
        "mapping key id: expected a path like $.a.b or an object, got the number 5",
    ),
    (
        {**REQUIRED_ONLY, "labels": {"team": "team"}},
        "labels.team.path",
        "mapping key labels.team.path: invalid path 'team': a path starts with $",
    ),
    (
        {**REQUIRED_ONLY, "links": [{"url": "$.u"}]},
        "links[0]",
        "mapping key links[0]: expected {title: text, url: path}, got a mapping",
    ),
    (
        {**REQUIRED_ONLY, "each": {"path": "$.items"}},
        "each",
        "mapping key each: expected a path to a list, got a mapping",
    ),
    (
        {**REQUIRED_ONLY, "customersAffected": {"value": -3}},
        "customersAffected.value",
        "mapping key customersAffected.value: expected a count of customers (a whole "
        "number >= 0) for customersAffected, got the number -3",
    ),
]


@pytest.mark.parametrize(
    ("mapping", "pointer", "message"),
    BAD_MAPPINGS,
    ids=[case[1] or "root" for case in BAD_MAPPINGS],
)
def test_a_faulty_mapping_is_reported_by_its_key(mapping: Any, pointer: str, message: str) -> None:
    problems = check_mapping(mapping)
    assert [(problem.pointer, str(problem)) for problem in problems] == [(pointer, message)]
    with pytest.raises(AdapterError) as caught:
        convert_generic(_payload(UPTIME), mapping)
    assert str(caught.value) == message
    if isinstance(mapping, dict) and pointer != "customersAffected.value":
        # The schema agrees (it cannot check a constant's value against its field).
        validator = Draft202012Validator(_load(SCHEMAS / "mapping.schema.json"))
        assert not validator.is_valid(mapping)


@pytest.mark.parametrize(
    ("changes", "payload", "pointer", "message"),
    [
        (
            {"title": "$.check.title"},
            None,
            "check.title",
            "check.title: missing (mapping key title reads $.check.title); give it a default",
        ),
        (
            {"status": "$.state"},
            None,
            "state",
            "state: status 'DOWN' is not one of triggered, acknowledged, resolved, "
            "investigating, identified, monitoring, false-alarm, duplicate, not-an-incident; "
            "add a map to mapping key status",
        ),
        (
            {"customersAffected": "$.owner"},
            None,
            "owner",
            "owner: expected a count of customers (a whole number >= 0) for "
            "customersAffected, got a mapping",
        ),
        (
            {"startedAt": "$.ts"},
            None,
            "ts",
            f"ts: expected {TIMESTAMP}, got the number 1773454620000",
        ),
        (
            {"each": "$.check"},
            None,
            "check",
            "check: expected a list (mapping key each reads $.check), got a mapping",
        ),
        (
            {"each": "$.results"},
            {"results": [{"check": {}}]},
            "results[0].check.uid",
            "results[0].check.uid: missing (mapping key id reads $.check.uid); give it a default",
        ),
        (
            {"labels": {"owner": "$.owner"}},
            None,
            "owner",
            "owner: expected a string, number or boolean, got a mapping",
        ),
    ],
)
def test_generic_payload_errors_name_the_field_and_the_mapping_key(
    changes: dict[str, Any], payload: Any, pointer: str, message: str
) -> None:
    with pytest.raises(AdapterError) as caught:
        convert_generic(payload or _payload(UPTIME), _uptime_mapping(**changes))
    assert (caught.value.pointer, str(caught.value)) == (pointer, message)


def test_generic_defaults_and_constants() -> None:
    payload = {"check": {"uid": 7, "name": "n"}, "ts": 1773454620, "state": "UP"}
    mapping = _uptime_mapping(startedAt={"path": "$.ts", "epoch": "s"})
    (incident,) = convert_generic(payload, mapping)
    assert incident["id"] == "7"
    assert incident["startedAt"] == "2026-03-14T02:17:00Z"
    assert incident["status"] == "resolved"
    assert incident["severity"] == "unknown"  # the default, not passed through the map
    assert incident["service"] == "status-page"
    assert incident["labels"] == {"tier": "1"}
    assert "links" not in incident and "customersAffected" not in incident


# --- robustness: arbitrary values anywhere in real payloads ------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _replace(name: str, pick: Callable[[list[tuple[str | int, ...]]], Any], new: Any) -> Any:
    payload = _payload(name)
    steps = pick(_paths(payload))
    return _mutated(name, steps, new)


@settings(max_examples=150, deadline=None)
@given(
    case=st.sampled_from([p for p in CASES if p.parent.name != "generic"]),
    index=st.integers(min_value=0),
    new=JSON_VALUES | st.just(DELETE),
)
def test_any_damage_to_a_payload_gives_a_result_or_an_adapter_error(
    case: Path, index: int, new: Any
) -> None:
    name = f"{case.parent.name}/{case.stem}"
    payload = _replace(name, lambda paths: paths[index % len(paths)], new)
    try:
        incidents = convert(payload, case.parent.name)
    except AdapterError as error:
        assert str(error)
        return
    for incident in incidents:
        json.dumps(incident)
        if INCIDENT_VALIDATOR is not None:
            assert INCIDENT_VALIDATOR.is_valid(incident)


# --- labels, severity, receive time, time zones ------------------------------------------


def _tool_labels(fmt: str, payload: Any, incident: dict[str, Any]) -> dict[str, str]:
    """The labels or tags the tool itself sent for `incident`, as text, read independently."""
    if fmt == "grafana" and "alerts" not in payload:  # the legacy notification: its tags
        return {key: str(value) for key, value in (payload.get("tags") or {}).items()}
    if fmt in ("alertmanager", "grafana"):
        return dict(payload["alerts"][incident["source"]["index"]].get("labels", {}))
    if fmt == "datadog":
        tags = [tag.strip() for tag in payload.get("tags", "").split(",") if tag.strip()]
        return {t.partition(":")[0]: t.partition(":")[2] if ":" in t else "true" for t in tags}
    if fmt == "opsgenie":
        tags = payload["alert"].get("tags", [])
        labels = {t.partition(":")[0]: t.partition(":")[2] if ":" in t else "true" for t in tags}
        return {**labels, **payload["alert"].get("details", {})}
    if fmt == "sentry":  # an issue alert's or a legacy alert's event has tags; others none
        event = payload["data"].get("event", {}) if "data" in payload else payload["event"]
        return {key: value for key, value in event.get("tags", [])}
    if fmt == "cloudwatch-sns" and "detail" in incident["source"]["message"]:  # EventBridge
        config = incident["source"]["message"]["detail"].get("configuration", {})
        stats = [m["metricStat"]["metric"] for m in config.get("metrics", []) if "metricStat" in m]
        return dict(stats[0].get("dimensions", {})) if stats else {}
    if fmt == "cloudwatch-sns":
        trigger = incident["source"]["message"].get("Trigger", {})
        metrics = [
            m["MetricStat"]["Metric"] for m in trigger.get("Metrics", []) if "MetricStat" in m
        ]
        dimensions = (metrics[0] if metrics else trigger).get("Dimensions", [])
        return {item["name"]: item["value"] for item in dimensions}
    if fmt == "pagerduty-events":
        details = payload.get("payload", {}).get("custom_details", {})  # an update has none
        return {
            key: value if isinstance(value, str) else json.dumps(value)
            for key, value in details.items()
            if isinstance(value, str | int | float)
        }
    assert fmt == "pagerduty-webhook", fmt
    return {}


@pytest.mark.parametrize("path", [p for p in CASES if p.parent.name != "generic"], ids=_id)
def test_the_tools_own_labels_pass_through_unchanged(path: Path) -> None:
    payload = _load(path)
    for incident in convert(payload, path.parent.name, RECEIVED):
        labels = incident.get("labels", {})
        own = {key: value for key, value in labels.items() if not key.startswith("@")}
        assert own == _tool_labels(path.parent.name, payload, incident)


def test_a_prometheus_severity_label_is_matched_as_written() -> None:
    from playbook_engine.compile.conditions import ConditionCompiler
    from playbook_engine.diagnostics import Span
    from playbook_engine.model import Leaf

    (incident,) = convert(_payload("alertmanager/resolved"), "alertmanager")
    compiler = ConditionCompiler({})

    def holds(field: str, value: str) -> bool:
        return compiler.compile(Leaf(field, "equals", value, Span("t"))).test(
            {"incident": incident}
        )

    assert holds("incident.labels.severity", "page")
    assert holds("incident.severity", "critical")  # the canonical word, top level only
    assert not holds("incident.labels.severity", "critical")


def test_labels_the_adapter_adds_never_replace_the_tools() -> None:
    payload = _payload("datadog/custom-without-date")
    (incident,) = convert(payload, "datadog", RECEIVED)
    assert incident["labels"]["host"] == "web-3"  # the tag
    assert incident["labels"]["priority"] == "urgent"  # the tag, not the monitor's P1
    assert incident["labels"]["@priority"] == "P1"
    assert incident["severity"] == "critical"
    details = {"@priority": "mine"}
    opsgenie = _mutated("opsgenie/create", ("alert", "details"), details)
    (incident,) = convert(opsgenie, "opsgenie")
    assert incident["labels"]["@priority"] == "mine"  # a free-form key of the user's wins


def test_datadog_prefers_the_event_id_and_keeps_the_dedup_key() -> None:
    (incident,) = convert(_payload("datadog/warn-numeric-date"), "datadog")
    assert incident["id"] == "7612345678900000001"
    assert incident["labels"]["@dedup_key"] == "9bd4ac313a4d1e8fae2482df7b77628"
    payload = _mutated("datadog/extended-recovered", ("id",), DELETE)
    (incident,) = convert(payload, "datadog")
    assert incident["id"] == incident["labels"]["@dedup_key"] == "2468013579246801357"


def test_opsgenie_teams_of_create_and_add_team() -> None:
    (created,) = convert(_payload("opsgenie/create"), "opsgenie")
    assert created["labels"]["@teams"] == "a1b2c3d4-0000-4000-8000-000000000001"
    payload = _mutated("opsgenie/create", ("alert", "team"), "database-reliability")
    (added,) = convert(payload, "opsgenie")
    assert added["labels"]["@teams"] == (
        "a1b2c3d4-0000-4000-8000-000000000001, database-reliability"
    )
    with pytest.raises(AdapterError) as caught:
        convert(_mutated("opsgenie/create", ("alert", "teams", 0), {"id": "x"}), "opsgenie")
    assert (caught.value.pointer, str(caught.value)) == (
        "alert.teams[0]",
        "alert.teams[0]: expected a team name or id, got a mapping",
    )


def test_grafana_values_become_metrics() -> None:
    first, second = convert(_payload("grafana/firing-two-alerts"), "grafana")
    assert first["metrics"] == {"B": 2.41, "C": 1}
    assert second["metrics"] == {"A": 18234}
    payload = _mutated("grafana/firing-two-alerts", ("alerts", 0, "values", "B"), None)
    assert convert(payload, "grafana")[0]["metrics"] == {"C": 1}
    payload = _mutated("grafana/firing-two-alerts", ("alerts", 0, "values", "B"), "2.41")
    with pytest.raises(AdapterError) as caught:
        convert(payload, "grafana")
    assert (caught.value.pointer, str(caught.value)) == (
        "alerts[0].values.B",
        "alerts[0].values.B: expected a finite number, got the string '2.41'",
    )


def test_a_receive_time_stands_in_only_for_a_missing_start_time() -> None:
    (timed,) = convert(_payload("pagerduty-events/trigger"), "pagerduty-events", RECEIVED)
    assert timed["startedAt"] == "2026-03-14T02:17:00.315Z"
    assert "receivedAt" not in timed["source"]
    payload = _payload("pagerduty-events/trigger-without-timestamp")
    (untimed,) = convert(payload, "pagerduty-events", RECEIVED)
    assert untimed["startedAt"] == untimed["source"]["receivedAt"] == "2026-03-14T02:30:00Z"
    for name, pointer in (
        ("pagerduty-events/trigger-without-timestamp", "payload.timestamp"),
        ("datadog/custom-without-date", "date"),
    ):
        with pytest.raises(AdapterError) as caught:
            convert(_payload(name), name.partition("/")[0])
        assert (caught.value.pointer, str(caught.value)) == (
            pointer,
            f"{pointer}: missing, and no receive time was given to stand in for it: "
            "pass --at with the time the payload was received",
        )


KUMA = "generic/uptime-kuma"


def _kuma(time: str, zone: str | None) -> dict[str, Any]:
    payload = _mutated(KUMA, ("heartbeat", "time"), time)
    mapping = _load(DATA / f"{KUMA}.mapping.json")
    if zone is None:
        del mapping["timezone"]
    else:
        mapping["timezone"] = zone
    (incident,) = convert_generic(payload, mapping)
    return incident


@pytest.mark.parametrize(
    ("time", "zone", "started"),
    [
        ("2026-03-14 02:17:00.000", "UTC", "2026-03-14T02:17:00Z"),
        ("2026-03-14 02:17:00.000", "Europe/Berlin", "2026-03-14T02:17:00+01:00"),
        ("2026-07-14 02:17:00", "Europe/Berlin", "2026-07-14T02:17:00+02:00"),
        # 02:30 does not exist on that day in Berlin: the offset before the change is used.
        ("2026-03-29 02:30:00", "Europe/Berlin", "2026-03-29T02:30:00+01:00"),
        # An offset in the payload wins over the mapping's zone.
        ("2026-03-14T02:17:00-05:00", "Europe/Berlin", "2026-03-14T02:17:00-05:00"),
    ],
)
def test_a_mapping_time_zone_reads_timestamps_without_an_offset(
    time: str, zone: str, started: str
) -> None:
    assert _kuma(time, zone)["startedAt"] == started


def test_timestamps_without_an_offset_need_a_mapping_time_zone() -> None:
    with pytest.raises(AdapterError) as caught:
        _kuma("2026-03-14 02:17:00.000", None)
    assert (caught.value.pointer, str(caught.value)) == (
        "heartbeat.time",
        "heartbeat.time: timestamp has no offset: add an offset such as Z or +01:00",
    )
    with pytest.raises(AdapterError) as caught:
        _kuma("2026-03-14 25:17:00", "UTC")
    assert caught.value.pointer == "heartbeat.time"


@pytest.mark.parametrize(
    ("zone", "message"),
    [
        (
            "Mars/Olympus",
            "mapping key timezone: unknown time zone 'Mars/Olympus': use an IANA name such as "
            "Europe/London or UTC",
        ),
        (
            "",
            "mapping key timezone: unknown time zone '': use an IANA name such as "
            "Europe/London or UTC",
        ),
        (1, "mapping key timezone: expected an IANA time zone name, got the number 1"),
    ],
)
def test_a_mapping_time_zone_is_validated(zone: Any, message: str) -> None:
    problems = check_mapping({**REQUIRED_ONLY, "timezone": zone})
    assert [(problem.pointer, str(problem)) for problem in problems] == [("timezone", message)]


def test_a_constant_timestamp_is_checked_with_the_mapping_time_zone() -> None:
    mapping = {**REQUIRED_ONLY, "startedAt": {"value": "2026-03-14 02:17:00"}}
    assert [str(problem) for problem in check_mapping(mapping)] == [
        "mapping key startedAt.value: timestamp has no offset: add an offset such as Z or +01:00"
    ]
    assert check_mapping({**mapping, "timezone": "UTC"}) == []


def test_epoch_nanoseconds_are_exact_above_two_to_the_53() -> None:
    from playbook_engine.adapters.common import epoch

    # 2**53 < 1741942620123456789: through a float this came out 1 µs off.
    assert epoch(1741942620123456789, "ns", "x") == "2025-03-14T08:57:00.123456Z"
    assert epoch("1741942620123456789", "ns", "x") == "2025-03-14T08:57:00.123456Z"
    assert epoch(1741942620999999999, "ns", "x") == "2025-03-14T08:57:00.999999Z"


def test_opsgenie_priority_as_the_webhook_sends_it() -> None:
    """The Opsgenie webhook sends `priority: 3` where the API says "P3": the alert is kept."""
    import json

    from playbook_engine.adapters import convert

    path = HERE / "data" / "payloads" / "opsgenie" / "create.json"
    payload = json.loads(path.read_text(encoding="utf-8"))
    payload["alert"]["priority"] = 3
    [incident] = convert(payload, "opsgenie", received_at=None)
    assert incident["labels"]["@priority"] == "P3"


def test_an_alert_without_fingerprint_gets_alertmanagers_own() -> None:
    """The id of an alert without `fingerprint` is the fingerprint Alertmanager computes from
    its labels, not its position: here a real Alertmanager payload's labels and fingerprint
    (liamkelly15-maker/pythonwebhook, docker/alert-manager-webhook/testsuites/testcurl7.sh)."""
    from playbook_engine.adapters.alertmanager import labels_fingerprint

    labels = {
        "alertname": "Deployment",
        "app_kubernetes_io_instance": "eric-oss-common-base",
        "app_kubernetes_io_managed_by": "Helm",
        "app_kubernetes_io_name": "eric-pm-kube-state-metrics",
        "app_kubernetes_io_version": "2.1.0_10",
        "chart": "eric-pm-kube-state-metrics-2.1.0_10",
        "deployment": "eric-log-transformer",
        "instance": "192.168.69.53:8080",
        "job": "eric-pm-kube-state-metrics",
        "kubernetes_name": "eric-pm-kube-state-metrics",
        "kubernetes_namespace": "eric-eo-cm-ci406",
        "namespace": "eric-eo-cm-ci406",
        "severity": "Warning",
    }
    assert labels_fingerprint(labels) == "fbab788ec4c1018b"
    assert labels_fingerprint({}) == "cbf29ce484222325"  # FNV-1a's offset basis


def test_the_id_of_an_alert_does_not_depend_on_its_position() -> None:
    import json

    from playbook_engine.adapters import convert

    path = HERE / "data" / "payloads" / "alertmanager" / "without-fingerprint.json"
    payload = json.loads(path.read_text(encoding="utf-8"))
    first = convert(payload, "alertmanager")
    payload["alerts"].insert(0, {**payload["alerts"][0], "labels": {"alertname": "Other"}})
    second = convert(payload, "alertmanager")
    assert first[0]["id"] == second[1]["id"] != second[0]["id"]


def test_pagerduty_v3_without_created_at_starts_at_the_event_and_keeps_the_client_url() -> None:
    import json

    from playbook_engine.adapters import convert

    path = next(
        p
        for p in sorted((HERE / "data" / "payloads" / "pagerduty-webhook").glob("*.json"))
        if not p.name.endswith(".expected.json")
    )
    payload = json.loads(path.read_text(encoding="utf-8"))
    del payload["event"]["data"]["created_at"]
    payload["event"]["occurred_at"] = "2026-03-14T02:20:00.123Z"
    payload["event"]["client"] = {"name": "Datadog", "url": "https://app.datadoghq.com/e/1"}
    [incident] = convert(payload, "pagerduty-webhook")
    assert incident["startedAt"] == "2026-03-14T02:20:00.123Z"
    assert {"title": "Datadog", "url": "https://app.datadoghq.com/e/1"} in incident["links"]


def test_pagerduty_acknowledge_and_resolve_without_payload_are_updates() -> None:
    """PagerDuty documents acknowledge and resolve events without a payload: they update the
    incident of their dedup_key (developer.pagerduty.com, Events API v2, Acknowledge/Resolve)."""
    from datetime import UTC, datetime

    from playbook_engine.adapters import convert, detect

    at = datetime(2026, 3, 14, 2, 30, tzinfo=UTC)
    for action, field in (("acknowledge", "acknowledgedAt"), ("resolve", "resolvedAt")):
        event = {"routing_key": "R0123", "event_action": action, "dedup_key": "srv01/mysql"}
        assert detect(event) == "pagerduty-events"
        [update] = convert(event, "pagerduty-events", received_at=at)
        assert update["id"] == "srv01/mysql" and update[field] == "2026-03-14T02:30:00Z"
        assert update["status"] == {"acknowledge": "acknowledged", "resolve": "resolved"}[action]
        assert update["source"]["update"] is True
        assert update["source"]["payload"]["routing_key"] == "[redacted]"


def test_truncated_alerts_and_unrendered_templates_are_flagged() -> None:
    import json

    from playbook_engine.adapters import convert

    path = HERE / "data" / "payloads" / "alertmanager" / "firing-two-alerts.json"
    payload = json.loads(path.read_text(encoding="utf-8"))
    payload["truncatedAlerts"] = 3
    payload["alerts"][0]["annotations"]["summary"] = "  Disk full on <no value>  "
    first, second = convert(payload, "alertmanager")
    assert first["title"] == "Disk full on <no value>"  # trimmed, kept as written
    assert first["labels"]["@warnings"] == (
        "Alertmanager left 3 more alert(s) of this group out (truncatedAlerts); "
        "title holds an unrendered template (<no value>)"
    )
    assert second["labels"]["@warnings"].startswith("Alertmanager left 3 more")


@pytest.mark.parametrize(
    "text", ["$EVENT_TITLE", "{{ .Labels.job }}", "{EVENT.NAME}", "<dedup_key>"]
)
def test_each_kind_of_residue_is_noted(text: str) -> None:
    from playbook_engine.adapters.common import _cleaned

    warnings: list[str] = []
    assert _cleaned("title", f"Problem: {text} ", warnings) == f"Problem: {text}"
    assert warnings == [f"title holds an unrendered template ({text})"]


def test_opsgenie_actions_that_carry_only_the_alert_id() -> None:
    """Escalate and other actions send the alert's id without its message or createdAt: the
    alert is kept (titled by its id, started at the receive time); AddNote keeps the note."""
    from playbook_engine.adapters import convert

    escalate = {"action": "Escalate", "alert": {"alertId": "70413a06-38d6-4c85-92b8-5ebc900d42e2"}}
    [incident] = convert(escalate, "opsgenie", received_at=RECEIVED)
    assert incident["id"] == "70413a06-38d6-4c85-92b8-5ebc900d42e2"
    assert incident["title"] == "Opsgenie alert 70413a06-38d6-4c85-92b8-5ebc900d42e2 (Escalate)"
    assert incident["startedAt"] == "2026-03-14T02:30:00Z"
    payload = _load(HERE / "data" / "payloads" / "opsgenie" / "create.json")
    payload["action"] = "AddNote"
    payload["alert"]["note"] = "Rolled back the deploy at 02:40"
    [noted] = convert(payload, "opsgenie", received_at=RECEIVED)
    assert noted["labels"]["@note"] == "Rolled back the deploy at 02:40"


def test_a_pagerduty_change_event_is_said_to_be_a_change() -> None:
    """The Change Events API v2 example of PagerDuty's documentation (its fields): a change
    record, recognised as such by --from auto and by the explicit format, never an incident."""
    from playbook_engine.adapters import AdapterError, convert, detect

    change = {
        "routing_key": "737ea619db564d41bd9824063e1f6b08",
        "payload": {
            "summary": "Build Success: Increase snapshot create timeout to 30 seconds",
            "timestamp": "2020-07-17T08:42:58.315+0000",
            "source": "acme-build-pipeline-tool-default-i-9999",
            "custom_details": {"build_state": "passed", "build_number": "2"},
        },
        "links": [{"href": "https://acme.pagerduty.dev/build/2", "text": "View more details"}],
    }
    for attempt in (lambda: detect(change), lambda: convert(change, "pagerduty-events")):
        with pytest.raises(AdapterError, match="is a PagerDuty change event"):
            attempt()


def test_a_datadog_templates_own_dedup_key_is_the_identity() -> None:
    from playbook_engine.adapters import convert

    payload = _load(
        next(
            p
            for p in sorted((HERE / "data" / "payloads" / "datadog").glob("*.json"))
            if not p.name.endswith(".expected.json")
        )
    )
    payload["dedup_key"] = "checkout-5xx-prod"
    [incident] = convert(payload, "datadog", received_at=RECEIVED)
    assert incident["id"] == "checkout-5xx-prod"
    assert incident["labels"]["@dedup_key"] == "checkout-5xx-prod"


def test_sentry_issue_webhooks_follow_the_issue_and_share_its_alerts_id() -> None:
    """Issue webhooks (getsentry/integration-platform-example's mocks): created opens, assigned
    keeps the issue's status, ignored acknowledges and resolved resolves, at the receive time;
    an issue alert for the same issue has the same id."""
    created, assigned, ignored, resolved = (
        convert(_payload(f"sentry/issue-{name}"), "sentry", RECEIVED)[0]
        for name in ("created-docs", "assigned", "ignored", "resolved")
    )
    assert (created["status"], assigned["status"]) == ("triggered", "triggered")
    assert (ignored["status"], ignored["acknowledgedAt"]) == (
        "acknowledged",
        "2026-03-14T02:30:00Z",
    )
    assert (resolved["status"], resolved["resolvedAt"]) == ("resolved", "2026-03-14T02:30:00Z")
    assert "resolvedAt" not in assigned and "acknowledgedAt" not in assigned
    assert assigned["labels"]["@assignee"] == "person@example.com"
    alert = _mutated("sentry/issue-alert", ("data", "event", "issue_id"), resolved["id"])
    assert convert(alert, "sentry")[0]["id"] == resolved["id"] == "123"
    # The same example integration's issue alert for that issue: the same incident.
    (mock_alert,) = convert(_payload("sentry/issue-alert-mock"), "sentry")
    assert mock_alert["id"] == "123" and mock_alert["environment"] == "production"
    # Assigned while resolved stays resolved (the action alone says nothing of the status).
    payload = _mutated("sentry/issue-assigned", ("data", "issue", "status"), "resolved")
    assert convert(payload, "sentry", RECEIVED)[0]["status"] == "resolved"


def test_sentry_metric_alert_webhooks_are_one_incident_from_critical_to_resolved() -> None:
    critical, warning = (
        convert(_payload(f"sentry/metric-alert-{name}"), "sentry", RECEIVED)[0]
        for name in ("critical", "warning")
    )
    assert critical["id"] == warning["id"] == "sentry-metric-alert:789"
    assert (critical["severity"], warning["severity"]) == ("critical", "warning")
    # Without dates in the payload (the mocks have none) the receive time is the start.
    assert critical["startedAt"] == critical["source"]["receivedAt"] == "2026-03-14T02:30:00Z"
    payload = _mutated(
        "sentry/metric-alert-resolved-docs",
        ("data", "metric_alert", "date_closed"),
        "2020-09-13T12:46:40.000000Z",
    )
    (resolved,) = convert(payload, "sentry")  # the payload's own close time: no --at needed
    assert (resolved["status"], resolved["resolvedAt"]) == ("resolved", "2020-09-13T12:46:40Z")
    assert resolved["startedAt"] == "2020-09-13T12:26:40Z" and "severity" not in resolved
    assert "receivedAt" not in resolved["source"]
    with pytest.raises(AdapterError) as caught:
        convert(_payload("sentry/metric-alert-critical"), "sentry")
    assert caught.value.pointer == "data.metric_alert.date_started"


def test_a_sentry_comment_webhook_is_not_taken_for_an_alert() -> None:
    """A comment webhook has `data.issue_id`, not an issue: no format claims it."""
    comment = {
        "action": "created",
        "data": {"comment_id": 456, "issue_id": "123", "comment": "this is a test comment"},
    }
    with pytest.raises(AdapterError, match="matches no known format"):
        detect(comment)
    with pytest.raises(AdapterError) as caught:
        convert(comment, "sentry")
    assert str(caught.value) == (
        "action: expected 'triggered', got 'created'; data holds no event, issue or metric_alert"
    )


def test_eventbridge_alarm_events_directly_and_through_sns() -> None:
    """The CloudWatch user guide's EventBridge examples: the alarm's ARN is the id (as for its
    SNS notifications), an OK after ALARM starts when the ALARM did, and an EventBridge rule
    with an SNS target (the event as the notification's Message) reads the same."""
    event = _payload("cloudwatch-sns/eventbridge-single-metric")
    assert detect(event) == "cloudwatch-sns"
    (alarm,) = convert(event, "cloudwatch-sns")
    (ok,) = convert(_payload("cloudwatch-sns/eventbridge-ok"), "cloudwatch-sns")
    assert (
        alarm["id"]
        == ok["id"]
        == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh"
    )
    assert ok["startedAt"] == alarm["startedAt"] == "2019-10-02T17:04:40.989Z"
    assert ok["resolvedAt"] == "2019-10-02T17:24:40.987Z"
    assert alarm["metrics"] == {"value": 99.50160229693434, "threshold": 50.0}
    notification = _mutated("cloudwatch-sns/alarm", ("Message",), json.dumps(event))
    (wrapped,) = convert(notification, "cloudwatch-sns")
    assert wrapped["source"]["payload"] == notification
    assert {k: v for k, v in wrapped.items() if k != "source"} == {
        k: v for k, v in alarm.items() if k != "source"
    }
    assert wrapped["source"]["message"] == event
    # Without previousState (or after OK) an OK starts when it happens.
    del event["detail"]["previousState"]
    event["detail"]["state"]["value"] = "OK"
    (bare,) = convert(event, "cloudwatch-sns")
    assert bare["startedAt"] == bare["resolvedAt"] == "2019-10-02T17:04:40.989Z"
    # A configuration change is recognised as CloudWatch's and refused as not an incident.
    change = {**event, "detail-type": "CloudWatch Alarm Configuration Change"}
    assert detect(change) == "cloudwatch-sns"
    with pytest.raises(AdapterError, match="only alarm state changes are incidents"):
        convert(change, "cloudwatch-sns")
    # reasonData that is not the documented JSON gives no metrics, not an error.
    event["detail"]["state"]["reasonData"] = "not json"
    assert "metrics" not in convert(event, "cloudwatch-sns")[0]


@pytest.mark.parametrize(
    ("text", "metrics"),
    [
        # Grafana 10+: type after labels (a public project's recorded payload).
        (
            "[ var='A' labels={container.name=team1-alert} type='query' value=3 ], "
            "[ var='C' labels={container.name=team1-alert} type='threshold' value=1 ]",
            {"A": 3.0, "C": 1.0},
        ),
        # Grafana 9 (play.grafana.org's example): exponent notation.
        (
            "[ var='A' labels={instance=node_exporter:9100, job=node} value=2.473545728e+09 ], "
            "[ var='minute' labels={} value=9 ]",
            {"A": 2473545728.0, "minute": 9.0},
        ),
        ("[ var='A' value=95 ]", {"A": 95.0}),  # no labels at all
        ("[ metric='foo' labels={instance=bar} value=10 ]", {"foo": 10.0}),  # Grafana 8, no var
        ("[ var='A' labels={value=3, x=y} value=4 ]", {"A": 4.0}),  # value= inside labels
        ("[ var='A' labels={} value=null ], [ var='B' labels={} value=NaN ]", {}),
        ("[ var='A' labels={} value=1 ], [ var='A' labels={} value=2 ]", {"A": 1.0}),
        ("[no value]", {}),
        ("", {}),
        ("[" * 100_000 + " value=1", {}),  # hostile text: linear time, nothing found
    ],
)
def test_grafana_value_strings_become_metrics(text: str, metrics: dict[str, float]) -> None:
    from playbook_engine.adapters.grafana import value_string_metrics

    assert value_string_metrics(text) == metrics


def test_grafana_values_win_over_the_value_string() -> None:
    payload = _mutated("grafana/resolved", ("alerts", 0, "values"), {"B": 7})
    assert convert(payload, "grafana")[0]["metrics"] == {"B": 7}
    (incident,) = convert(_payload("grafana/valuestring-grafana8-var"), "grafana")
    assert incident["metrics"] == {"B0": 86.83759366878994}


def test_a_datadog_notice_that_is_not_a_transition_is_not_an_incident() -> None:
    """The default payload template (body, last_updated, event_type, title, date, org, id)
    carrying an event that no monitor transition produced — a downtime notice, written by us
    in that template's shape: detected as Datadog, refused as not an incident, never turned
    into a triggered one. A transition in alert_transition or in the title still converts."""
    notice = {
        "body": "Downtime for scope env:staging started; it ends at 04:00 UTC.",
        "last_updated": "1773454620000",
        "event_type": "downtime_start",
        "title": "Downtime started for env:staging",
        "date": "1773454620000",
        "org": {"id": "11287", "name": "Acme"},
        "id": "7612345678900000099",
    }
    assert detect(notice) == "datadog"
    with pytest.raises(AdapterError) as caught:
        convert(notice, "datadog")
    assert caught.value.pointer == "alert_transition"
    assert "is not a monitor's transition (a downtime or another event notice)" in str(caught.value)
    assert convert({**notice, "alert_transition": "Recovered"}, "datadog")[0]["status"] == (
        "resolved"
    )
    titled = {**notice, "title": "[Re-Triggered on {env:staging}] Queue depth"}
    assert convert(titled, "datadog")[0]["labels"]["@transition"] == "Re-Triggered"


def test_a_composite_alarm_event_names_its_triggering_children() -> None:
    (incident,) = convert(_payload("cloudwatch-sns/eventbridge-composite"), "cloudwatch-sns")
    assert incident["labels"]["@triggering_alarms"] == "ServerCpuTooHigh"
    assert incident["labels"]["@alarm_rule"] == (
        "ALARM(ServerCpuTooHigh) OR ALARM(TotalNetworkTrafficTooHigh)"
    )
    assert incident["labels"]["@actions_suppressed_by"] == "WaitPeriod"
    reason = json.dumps({"triggeringAlarms": [{"arn": "arn:aws:cloudwatch:r:1:alarm:A"}, {}, 5]})
    payload = _mutated(
        "cloudwatch-sns/eventbridge-composite", ("detail", "state", "reasonData"), reason
    )
    assert convert(payload, "cloudwatch-sns")[0]["labels"]["@triggering_alarms"] == "A"


# --- mapping options for tools that say things indirectly (match, concat, format, received,
# typed fields): the errors name the field and the mapping key --------------------------


def _zabbix() -> tuple[Any, Any]:
    folder = DATA / "generic"
    return _load(folder / "zabbix-problem.json"), _load(folder / "zabbix-problem.mapping.json")


def test_a_missing_receive_time_says_to_pass_at() -> None:
    payload, mapping = _zabbix()
    payload = {**payload, "event_date": "{EVENT.DATE}"}
    with pytest.raises(AdapterError) as raised:
        convert_generic(payload, mapping)
    assert "the receive time that mapping key startedAt falls back to is not known" in str(
        raised.value
    )
    [found] = convert_generic(payload, mapping, RECEIVED)
    assert found["startedAt"] == "2026-03-14T02:30:00Z"


def test_a_null_is_not_called_missing() -> None:
    mapping = {"id": "$.id", "title": "$.title", "startedAt": "$.at"}
    with pytest.raises(AdapterError) as raised:
        convert_generic({"id": "a", "title": "t", "at": None}, mapping)
    assert str(raised.value).startswith("at: null (mapping key startedAt reads $.at)")
    with pytest.raises(AdapterError) as raised:
        convert_generic({"id": "a", "title": "t"}, mapping)
    assert str(raised.value).startswith("at: missing (mapping key startedAt reads $.at)")


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [("42", "integer", 42), ("4.5", "number", 4.5), ("yes", "boolean", True),
     ("0", "boolean", False), ("a, b,", "list", ["a", "b"]), (7, "text", "7")],
)  # fmt: skip
def test_typed_fields(value: Any, kind: str, expected: Any) -> None:
    mapping = {"id": "$.id", "title": "$.id", "startedAt": {"value": "2026-01-01T00:00:00Z"},
               "fields": {"x": {"path": "$.x", "type": kind}}}  # fmt: skip
    [found] = convert_generic({"id": "a", "x": value}, mapping)
    assert found["x"] == expected and type(found["x"]) is type(expected)


@pytest.mark.parametrize(
    ("mapping_change", "payload_change", "message"),
    [
        ({"fields": {"n": {"path": "$.n", "type": "integer"}}}, {"n": "many"},
         "n: expected a integer, got the string"),
        ({"fields": {"b": {"path": "$.b", "type": "boolean"}}}, {"b": "maybe"},
         "b: expected a yes/no value"),
        ({"startedAt": {"path": "$.d", "format": "%Y.%m.%d"}}, {"d": "15/01/2024"},
         "d: '15/01/2024' is not a time written as '%Y.%m.%d'"),
        ({"startedAt": {"path": "$.d", "format": "%Y.%m.%d"}}, {"d": "2024.01.15"},
         "d: '2024.01.15' has no offset: give the mapping a timezone"),
    ],
)  # fmt: skip
def test_mapping_option_errors_name_the_field(
    mapping_change: dict[str, Any], payload_change: dict[str, Any], message: str
) -> None:
    mapping = {"id": "$.id", "title": "$.id", "startedAt": {"value": "2026-01-01T00:00:00Z"},
               **mapping_change}  # fmt: skip
    with pytest.raises(AdapterError) as raised:
        convert_generic({"id": "a", **payload_change}, mapping)
    assert str(raised.value).startswith(message), str(raised.value)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"title": {"path": "$.t", "match": "(unclosed"}}, "title.match"),
        ({"title": {"path": "$.t", "format": "%Y"}}, "title.format"),
        ({"title": {"path": "$.t", "type": "number"}}, "title.type"),
        ({"fields": {"x": {"path": "$.x", "type": "date"}}}, "fields.x.type"),
        ({"fields": {"title": "$.x"}}, "fields.title"),
        ({"title": {"concat": []}}, "title.concat"),
        ({"title": {"path": "$.t", "default": "received"}}, "title.default"),
    ],
)
def test_faulty_mapping_options_are_reported_by_their_key(change: dict[str, Any], key: str) -> None:
    mapping = {"id": "$.id", "title": "$.t", "startedAt": "$.at", **change}
    assert key in [problem.pointer for problem in check_mapping(mapping)]


def test_the_zabbix_fixtures_use_the_bundled_mapping() -> None:
    import yaml

    bundled = yaml.safe_load((HERE.parent / "playbooks" / "mappings" / "zabbix.yaml").read_text())
    for name in ("zabbix-problem", "zabbix-recovery", "zabbix-undated"):
        assert _load(DATA / "generic" / f"{name}.mapping.json") == bundled["spec"], name


def test_a_mapping_translates_a_tools_words_into_phases_and_dispositions() -> None:
    mapping = {"id": "$.id", "title": "$.id", "startedAt": {"value": "2026-01-01T00:00:00Z"},
               "status": {"path": "$.state", "map": {"MITIGATED": "monitoring",
                                                     "NOISE": "false-alarm"}}}  # fmt: skip
    assert convert_generic({"id": "a", "state": "MITIGATED"}, mapping)[0]["status"] == "monitoring"
    assert convert_generic({"id": "a", "state": "NOISE"}, mapping)[0]["status"] == "false-alarm"


def test_pagerduty_v2_webhook_messages_are_one_incident_each() -> None:
    """A V2 webhook (zulip's recorded trigger_v2.json) posts `messages[]`; an acknowledge
    message is dated by its `created_on`, and a message that is not an incident event is
    refused by its path."""
    payload = _payload("pagerduty-webhook/zulip-trigger-v2")
    ack = copy.deepcopy(payload["messages"][0])
    ack["event"] = "incident.acknowledge"
    ack["created_on"] = "2017-09-26T15:20:00Z"
    ack["incident"]["status"] = "acknowledged"
    payload["messages"].append(ack)
    assert detect(payload) == "pagerduty-webhook"
    first, second = convert(payload, "pagerduty-webhook")
    assert first["id"] == second["id"] == "PRORDTY"
    assert first["status"] == "triggered" and "acknowledgedAt" not in first
    assert second["status"] == "acknowledged"
    assert second["acknowledgedAt"] == "2017-09-26T15:20:00Z"
    assert second["source"]["index"] == 1 and second["source"]["message"] == ack
    payload["messages"][1]["event"] = "service.updated"
    with pytest.raises(AdapterError) as caught:
        convert(payload, "pagerduty-webhook")
    assert caught.value.pointer == "messages[1].event"
    assert "only incident events convert" in str(caught.value)


def test_sentry_legacy_plugin_alerts_share_the_issue_id_and_fall_back_for_time() -> None:
    """The legacy WebHooks plugin (zulip's recorded sample_event_through_plugin.json) has no
    `action`/`data`: the issue is at the top, the event under `event`. Its id is the issue's,
    as an issue alert's `issue_id`; without `timestamp` the event's `received` dates it, and
    without either the receive time does."""
    payload = _payload("sentry/zulip-legacy-plugin")
    assert detect(payload) == "sentry"
    [alert] = convert(payload, "sentry")
    assert alert["id"] == payload["id"] and alert["startedAt"] == "2023-07-09T20:41:24.772Z"
    assert alert["labels"]["@culprit"] == "raven.scripts.runner in main"
    del payload["event"]["timestamp"]
    [alert] = convert(payload, "sentry")
    assert alert["startedAt"] == "2023-07-09T20:42:24.773181Z"
    assert "receivedAt" not in alert["source"]
    del payload["event"]["received"]
    [alert] = convert(payload, "sentry", RECEIVED)
    assert alert["startedAt"] == alert["source"]["receivedAt"] == "2026-03-14T02:30:00Z"
    with pytest.raises(AdapterError, match="pass --at"):
        convert(payload, "sentry")
    payload["triggering_rules"] = ["Send a notification for new issues"]
    payload["event"]["tags"] = [["environment", "staging"]]
    [alert] = convert(payload, "sentry", RECEIVED)
    assert alert["labels"]["@rule"] == "Send a notification for new issues"
    assert alert["environment"] == "staging"
    payload["event"]["tags"] = [{"key": "environment"}]
    with pytest.raises(AdapterError) as caught:
        convert(payload, "sentry", RECEIVED)
    assert caught.value.pointer == "event.tags[0]"


REFUSED = HERE / "data" / "refused-payloads"
# name → (its format, the field the refusal names, words of the message)
REFUSED_CASES = {
    "datadog-ilert-readme-template": (
        "datadog",
        "title",
        "'$EVENT_TITLE' is a Datadog template variable, not its value",
    ),
    "pagerduty-events-docs-change-event": (
        "pagerduty-events",
        "event_action",
        "PagerDuty change event",
    ),
    "pagerduty-webhook-docs-v1-trigger": (
        "pagerduty-webhook",
        "messages[0].event",
        "this is a V1 webhook",
    ),
    "pagerduty-webhook-docs-v3-service-updated": (
        "pagerduty-webhook",
        "event.event_type",
        "got 'service.updated'; only incident events convert",
    ),
}


def test_every_refused_payload_has_a_case() -> None:
    assert sorted(p.stem for p in REFUSED.glob("*.json")) == sorted(REFUSED_CASES)


@pytest.mark.parametrize("name", sorted(REFUSED_CASES))
@pytest.mark.parametrize("how", ["auto", "own"])
def test_public_payloads_that_are_not_incidents_are_refused_by_name(name: str, how: str) -> None:
    """A vendor's documented payload that is not an alert (a change event, a service update)
    is refused on the command line with exit 2 and a message naming the field."""
    import subprocess

    from conftest import PLAYBOOK

    fmt, pointer, words = REFUSED_CASES[name]
    path = REFUSED / f"{name}.json"
    with pytest.raises(AdapterError) as caught:
        convert(_load(path), fmt, RECEIVED)
    assert caught.value.pointer == pointer
    done = subprocess.run(
        [*PLAYBOOK, "convert", "--from", "auto" if how == "auto" else fmt, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert f"error AD101 {pointer}:" in done.stderr and words in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_an_alert_without_status_takes_alertmanagers_own_rule() -> None:
    """Older Alertmanagers sent no per-alert `status` (prometheus-msteams' recorded
    large_prom_post_request.json): a resolved notification resolves its alerts; an alert whose
    `endsAt` is set and not after the receive time is resolved; otherwise the notification's
    `firing` holds. A notification that says neither is refused at the alert's status."""
    payload = _payload("alertmanager/msteams-19-alerts")
    assert "status" not in payload["alerts"][0]
    assert {i["status"] for i in convert(payload, "alertmanager", RECEIVED)} == {"triggered"}
    ended = copy.deepcopy(payload)
    ended["alerts"][0]["endsAt"] = "2026-03-14T02:29:59Z"
    ended["alerts"][1]["endsAt"] = "2026-03-14T02:35:00Z"  # a provisional end, still firing
    first, second = convert(ended, "alertmanager", RECEIVED)[:2]
    assert (first["status"], first["resolvedAt"]) == ("resolved", "2026-03-14T02:29:59Z")
    assert second["status"] == "triggered" and "resolvedAt" not in second
    assert convert(ended, "alertmanager")[0]["status"] == "triggered"  # no receive time
    resolved = {**payload, "status": "resolved"}
    assert {i["status"] for i in convert(resolved, "alertmanager", RECEIVED)} == {"resolved"}
    with pytest.raises(AdapterError) as caught:
        convert({**payload, "status": None}, "alertmanager", RECEIVED)
    assert caught.value.pointer == "alerts[0].status"
    assert "the notification's status (missing) does not say it" in str(caught.value)


def test_a_relative_generator_url_is_resolved_against_the_external_url() -> None:
    """Grafana 12's test alert (keep's recorded shape) sends `generatorURL: "?orgId=1"`: the
    link is made absolute against `externalURL`; without one it stays as sent."""
    payload = _payload("grafana/keep-grafana12-test-alert")
    [alert] = convert(payload, "grafana")
    assert {"title": "Source", "url": "https://grafana.example.com/?orgId=1"} in alert["links"]
    del payload["externalURL"]
    [alert] = convert(payload, "grafana")
    assert {"title": "Source", "url": "?orgId=1"} in alert["links"]
    absolute = _payload("alertmanager/zulip-two-alerts")
    first = convert(absolute, "alertmanager")[0]
    assert first["links"][0]["url"] == absolute["alerts"][0]["generatorURL"]
