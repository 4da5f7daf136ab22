"""Amazon SNS notification carrying a CloudWatch alarm state change → one incident.

Follows the SNS HTTP(S) notification body (`Type: "Notification"`, `MessageId`, `TopicArn`,
`Subject`, `Message`, `Timestamp`, `SignatureVersion`, ...) and the CloudWatch alarm message
inside it as shown in the aws-lambda-go test data
(events/testdata/cloudwatch-alarm-sns-payload-single-metric.json): `Message` is a JSON *string*
holding `AlarmName`, `AlarmDescription`, `AWSAccountId`, `NewStateValue` (ALARM | OK |
INSUFFICIENT_DATA), `NewStateReason`, `StateChangeTime` (like `2015-06-03T17:43:27.123+0000`,
an offset without a colon), `Region`, `AlarmArn`, `OldStateValue`, `Trigger` (`MetricName`,
`Namespace`, `Dimensions[]` of `{name, value}`, ...).

`source.payload` is the notification as received and `source.message` the decoded alarm, so
conditions can read `incident.source.message.Trigger.Namespace`. The id is the `AlarmArn` (the
same for every state change of one alarm), else the account and alarm name. OK resolves the
incident at `StateChangeTime`; INSUFFICIENT_DATA counts as triggered, with
`labels["@state"]: INSUFFICIENT_DATA` so playbooks can tell it apart from ALARM.

An SNS alarm message holds only the time of the change it reports (`StateChangeTime`), not
when the alarm entered its previous state (EventBridge alarm events carry `previousState`; SNS
messages do not). So for an OK notification `startedAt` is the OK time too, equal to
`resolvedAt`: the incident's duration is not known from the payload.

The metric's dimensions are the labels, unchanged; the alarm's own fields are added under `@`
names (`@state`, `@old_state`, `@region`, `@account_id`, `@namespace`, `@metric_name`).
"""

from __future__ import annotations

import json
import math
from typing import Any

from playbook_engine.adapters.common import (
    AdapterError,
    choose,
    fail,
    incident,
    join,
    mapping,
    opt_list,
    opt_mapping,
    opt_str,
    req_mapping,
    req_str,
    scalar_text,
    timestamp,
    with_derived,
)

FORMAT = "cloudwatch-sns"
STATUS = {"ALARM": "triggered", "INSUFFICIENT_DATA": "triggered", "OK": "resolved"}
STATE_CHANGE = "CloudWatch Alarm State Change"


def convert(payload: Any) -> list[dict[str, Any]]:
    """The canonical incidents of a CloudWatch alarm delivered through SNS: an HTTP(S)
    notification, the Lambda event form (`Records[].Sns`, one incident per record), or raw
    message delivery (the bare alarm)."""
    root = mapping(payload, "", "an SNS notification (a JSON object with Type and Message)")
    records = root.get("Records")
    if isinstance(records, list):
        found = []
        for index, record in enumerate(records):
            path = join("Records", index)
            item = mapping(record, path, "a Lambda event record")
            found.append(_from_notification(root, _sns_of(item, path), join(path, "Sns")))
        return found
    if is_alarm_event(root):  # an EventBridge event (a rule's Lambda, HTTP or queue target)
        return [_event_incident(root, root, "")]
    if "AlarmName" in root and "NewStateValue" in root:  # raw message delivery
        return [_incident(root, root, "")]
    return [_from_notification(root, root, "")]


def is_alarm_event(data: dict[str, Any]) -> bool:
    """An EventBridge event of CloudWatch alarms (`source: aws.cloudwatch`, a `detail-type`
    such as "CloudWatch Alarm State Change")."""
    kind = data.get("detail-type")
    return (
        data.get("source") == "aws.cloudwatch"
        and isinstance(kind, str)
        and kind.startswith("CloudWatch Alarm")
    )


def _sns_of(record: dict[str, Any], path: str) -> dict[str, Any]:
    sns = record.get("Sns")
    if not isinstance(sns, dict):
        raise fail(join(path, "Sns"), "the SNS message of a Lambda event record", sns)
    return sns


def _from_notification(root: dict[str, Any], sns: dict[str, Any], path: str) -> dict[str, Any]:
    kind = req_str(sns, "Type", path, "Notification")
    where = join(path, "Type")
    if kind != "Notification":
        raise AdapterError(
            f"{where}: expected 'Notification', got {kind!r}; only notifications carry alarms "
            "(confirm subscriptions with the SubscribeURL instead)",
            where,
        )
    alarm = _alarm(req_str(sns, "Message", path, "the CloudWatch alarm as a JSON string"))
    if is_alarm_event(alarm):  # an EventBridge rule with an SNS target: the event, as JSON
        return _event_incident(root, alarm, join(path, "Message"))
    return _incident(root, alarm, join(path, "Message"))


def _incident(root: dict[str, Any], alarm: dict[str, Any], at: str) -> dict[str, Any]:
    """The incident of one alarm message found at `at` ("" for a bare alarm)."""
    name = req_str(alarm, "AlarmName", at, "the alarm name")
    state = req_str(alarm, "NewStateValue", at, "ALARM, OK or INSUFFICIENT_DATA")
    status = choose(state, STATUS, join(at, "NewStateValue"), "alarm state")
    changed = timestamp(alarm.get("StateChangeTime"), join(at, "StateChangeTime"))
    account = opt_str(alarm, "AWSAccountId", at)
    reason = opt_str(alarm, "NewStateReason", at)
    summary = opt_str(alarm, "AlarmDescription", at)
    rule = opt_str(alarm, "AlarmRule", at)  # a composite alarm's expression over its children
    return incident(
        FORMAT,
        root,
        id=opt_str(alarm, "AlarmArn", at) or f"cloudwatch:{account or 'unknown'}:{name}",
        title=name,
        started_at=changed,
        resolvedAt=changed if status == "resolved" else None,
        status=status,
        description="\n\n".join(text for text in (summary, reason) if text) or None,
        labels=_labels(alarm, state, account, at, rule),
        extra_source={"message": alarm},
    )


def _alarm(message: str) -> dict[str, Any]:
    try:
        alarm = json.loads(message)
    except json.JSONDecodeError as exc:
        raise AdapterError(
            f"Message: expected a JSON string holding a CloudWatch alarm, but it is not JSON: "
            f"{exc.msg} (character {exc.pos + 1})",
            "Message",
        ) from None
    if not isinstance(alarm, dict):
        raise fail("Message", "a JSON object holding a CloudWatch alarm", alarm)
    return alarm


def _labels(
    alarm: dict[str, Any], state: str, account: str | None, at: str, rule: str | None
) -> dict[str, str]:
    trigger_path = join(at, "Trigger")
    trigger = opt_mapping(alarm, "Trigger", at)
    # A metric-math alarm names its metrics in Trigger.Metrics[]; a single-metric alarm's
    # Trigger is its metric.
    found, found_path, expression = _stat_metric(trigger, trigger_path, _SNS_NAMES)
    metric, metric_path = (trigger, trigger_path) if found is None else (found, found_path)
    derived = {
        "state": state,
        "old_state": opt_str(alarm, "OldStateValue", at),
        "region": opt_str(alarm, "Region", at),
        "account_id": account,
        "namespace": opt_str(metric, "Namespace", metric_path),
        "metric_name": opt_str(metric, "MetricName", metric_path),
        "expression": expression,
        "alarm_rule": rule,
    }
    dimensions = {}
    for index, dimension in enumerate(opt_list(metric, "Dimensions", metric_path)):
        path = join(join(metric_path, "Dimensions"), index)
        entry = mapping(dimension, path, "a dimension like {name, value}")
        value = entry.get("value")
        if value is not None:
            dimensions[req_str(entry, "name", path, "the dimension name")] = scalar_text(
                value, join(path, "value")
            )
    return with_derived(dimensions, derived)


def _event_incident(root: dict[str, Any], event: dict[str, Any], at: str) -> dict[str, Any]:
    """The incident of an EventBridge "CloudWatch Alarm State Change" event found at `at`.

    Follows "Alarm events and EventBridge" of the CloudWatch user guide: `detail-type`,
    `source`, `account`, `time`, `region`, `resources` (the alarm's ARN), `detail.alarmName`,
    `detail.state` and `detail.previousState` (`value`, `reason`, `reasonData`, `timestamp`),
    `detail.configuration` (`description`, `metrics[]` with `metricStat.metric`
    `{namespace, name, dimensions}` or an `expression`, `alarmRule` for a composite alarm).
    Unlike an SNS alarm message it says when the previous state began: an OK event after ALARM
    (or INSUFFICIENT_DATA) starts at the previous state's timestamp.
    """
    kind = req_str(event, "detail-type", at, STATE_CHANGE)
    if kind != STATE_CHANGE:
        where = join(at, "detail-type")
        raise AdapterError(
            f"{where}: expected {STATE_CHANGE!r}, got {kind!r}; only alarm state changes are "
            "incidents (configuration changes and the rest are not)",
            where,
        )
    d = join(at, "detail")
    detail = req_mapping(event, "detail", at)
    name = req_str(detail, "alarmName", d, "the alarm name")
    state_path = join(d, "state")
    state = req_mapping(detail, "state", d)
    value = req_str(state, "value", state_path, "ALARM, OK or INSUFFICIENT_DATA")
    status = choose(value, STATUS, join(state_path, "value"), "alarm state")
    if state.get("timestamp") is not None:
        changed = timestamp(state["timestamp"], join(state_path, "timestamp"))
    else:
        changed = timestamp(event.get("time"), join(at, "time"))
    previous_path = join(d, "previousState")
    previous = opt_mapping(detail, "previousState", d)
    old = opt_str(previous, "value", previous_path)
    started = changed
    if status == "resolved" and STATUS.get(old or "") == "triggered":
        if previous.get("timestamp") is not None:
            started = timestamp(previous["timestamp"], join(previous_path, "timestamp"))
    config_path = join(d, "configuration")
    config = opt_mapping(detail, "configuration", d)
    account = opt_str(event, "account", at)
    resources = opt_list(event, "resources", at)
    arn = next(
        (r for r in resources if isinstance(r, str) and r.startswith("arn:aws:cloudwatch:")), None
    )
    summary = opt_str(config, "description", config_path)
    reason = opt_str(state, "reason", state_path)
    dimensions, derived = _event_metric(config, config_path)
    derived.update(
        {
            "state": value,
            "old_state": old,
            "region": opt_str(event, "region", at),
            "account_id": account,
            "alarm_rule": opt_str(config, "alarmRule", config_path),
            "triggering_alarms": _triggering(state.get("reasonData")),
            "actions_suppressed_by": opt_str(state, "actionsSuppressedBy", state_path),
        }
    )
    return incident(
        FORMAT,
        root,
        id=arn or f"cloudwatch:{account or 'unknown'}:{name}",
        title=name,
        started_at=started,
        resolvedAt=changed if status == "resolved" else None,
        status=status,
        description="\n\n".join(text for text in (summary, reason) if text) or None,
        metrics=_reason_metrics(state.get("reasonData")),
        labels=with_derived(dimensions, derived),
        extra_source={"message": event},
    )


def _event_metric(
    config: dict[str, Any], path: str
) -> tuple[dict[str, str], dict[str, str | None]]:
    """The dimensions of the first metric with a `metricStat`, and its namespace, name and
    the first math `expression` as derived labels."""
    found, metric_path, expression = _stat_metric(config, path, _EVENT_NAMES)
    metric = found or {}
    dims_path = join(metric_path, "dimensions")
    dimensions = {
        key: scalar_text(item, join(dims_path, key))
        for key, item in opt_mapping(metric, "dimensions", metric_path).items()
        if item is not None
    }
    derived = {
        "namespace": opt_str(metric, "namespace", metric_path),
        "metric_name": opt_str(metric, "name", metric_path),
        "expression": expression,
    }
    return dimensions, derived


# The keys of an alarm's metric list, as SNS messages (PascalCase) and EventBridge events
# (camelCase) spell them: the list, a math expression, a metric's stat, the stat's metric.
_SNS_NAMES = ("Metrics", "Expression", "MetricStat", "Metric")
_EVENT_NAMES = ("metrics", "expression", "metricStat", "metric")


def _stat_metric(
    container: dict[str, Any], path: str, names: tuple[str, str, str, str]
) -> tuple[dict[str, Any] | None, str, str | None]:
    """The first metric with a stat in `container`'s metric list (None if none) and its path,
    and the list's first math expression."""
    list_key, expression_key, stat_key, metric_key = names
    metric: dict[str, Any] | None = None
    metric_path = path
    expression = None
    for index, entry in enumerate(opt_list(container, list_key, path)):
        entry_path = join(join(path, list_key), index)
        item = mapping(entry, entry_path, "a metric of the alarm")
        expression = expression or opt_str(item, expression_key, entry_path)
        stat = item.get(stat_key)
        if metric is None and isinstance(stat, dict) and isinstance(stat.get(metric_key), dict):
            metric, metric_path = stat[metric_key], join(entry_path, f"{stat_key}.{metric_key}")
    return metric, metric_path, expression


def _reason_data(text: Any) -> dict[str, Any]:
    """The state's `reasonData`, a JSON string; informational, so text that is not the
    documented JSON object gives an empty one rather than an error."""
    if not isinstance(text, str):
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def _triggering(reason_data: Any) -> str | None:
    """The names of the children that set a composite alarm's state (`triggeringAlarms` of its
    `reasonData`, each an ARN ending `:alarm:<name>`), comma-joined."""
    entries = _reason_data(reason_data).get("triggeringAlarms")
    if not isinstance(entries, list):
        return None
    names = [
        entry["arn"].rpartition(":alarm:")[2] or entry["arn"]
        for entry in entries
        if isinstance(entry, dict) and isinstance(entry.get("arn"), str) and entry["arn"]
    ]
    return ", ".join(names) or None


def _reason_metrics(reason_data: Any) -> dict[str, float] | None:
    """The latest datapoint and the threshold of the state's `reasonData` (a JSON string) as
    `metrics.value` and `metrics.threshold`; None when it holds neither. It is informational,
    so text that is not the documented JSON is left alone rather than refused."""
    data = _reason_data(reason_data)
    metrics: dict[str, float] = {}
    points = data.get("recentDatapoints")
    if isinstance(points, list) and points and _finite(points[-1]):
        metrics["value"] = float(points[-1])
    if _finite(data.get("threshold")):
        metrics["threshold"] = float(data["threshold"])
    return metrics or None


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
