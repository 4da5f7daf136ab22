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
    req_str,
    scalar_text,
    timestamp,
    with_derived,
)

FORMAT = "cloudwatch-sns"
STATUS = {"ALARM": "triggered", "INSUFFICIENT_DATA": "triggered", "OK": "resolved"}


def convert(payload: Any) -> list[dict[str, Any]]:
    """The canonical incident of one SNS notification of a CloudWatch alarm."""
    root = mapping(payload, "", "an SNS notification (a JSON object with Type and Message)")
    kind = req_str(root, "Type", "", "Notification")
    if kind != "Notification":
        raise AdapterError(
            f"Type: expected 'Notification', got {kind!r}; only notifications carry alarms "
            "(confirm subscriptions with the SubscribeURL instead)",
            "Type",
        )
    alarm = _alarm(req_str(root, "Message", "", "the CloudWatch alarm as a JSON string"))
    name = req_str(alarm, "AlarmName", "Message", "the alarm name")
    state = req_str(alarm, "NewStateValue", "Message", "ALARM, OK or INSUFFICIENT_DATA")
    status = choose(state, STATUS, "Message.NewStateValue", "alarm state")
    changed = timestamp(alarm.get("StateChangeTime"), "Message.StateChangeTime")
    account = opt_str(alarm, "AWSAccountId", "Message")
    reason = opt_str(alarm, "NewStateReason", "Message")
    summary = opt_str(alarm, "AlarmDescription", "Message")
    return [
        incident(
            FORMAT,
            root,
            id=opt_str(alarm, "AlarmArn", "Message") or f"cloudwatch:{account or 'unknown'}:{name}",
            title=name,
            started_at=changed,
            resolvedAt=changed if status == "resolved" else None,
            status=status,
            description="\n\n".join(text for text in (summary, reason) if text) or None,
            labels=_labels(alarm, state, account),
            extra_source={"message": alarm},
        )
    ]


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


def _labels(alarm: dict[str, Any], state: str, account: str | None) -> dict[str, str]:
    trigger = opt_mapping(alarm, "Trigger", "Message")
    derived = {
        "state": state,
        "old_state": opt_str(alarm, "OldStateValue", "Message"),
        "region": opt_str(alarm, "Region", "Message"),
        "account_id": account,
        "namespace": opt_str(trigger, "Namespace", "Message.Trigger"),
        "metric_name": opt_str(trigger, "MetricName", "Message.Trigger"),
    }
    dimensions = {}
    for index, dimension in enumerate(opt_list(trigger, "Dimensions", "Message.Trigger")):
        path = join("Message.Trigger.Dimensions", index)
        entry = mapping(dimension, path, "a dimension like {name, value}")
        value = entry.get("value")
        if value is not None:
            dimensions[req_str(entry, "name", path, "the dimension name")] = scalar_text(
                value, join(path, "value")
            )
    return with_derived(dimensions, derived)
