"""Datadog webhook (the integration's default payload, plus common variables) → one incident.

Follows the Datadog Webhooks integration documentation (docs.datadoghq.com/integrations/
webhooks/). The default payload template is
`{"body": "$EVENT_MSG", "last_updated": "$LAST_UPDATED", "event_type": "$EVENT_TYPE",
"title": "$EVENT_TITLE", "date": "$DATE", "org": {"id": "$ORG_ID", "name": "$ORG_NAME"},
"id": "$ID"}`; `$DATE` is documented as epoch milliseconds (e.g. 1406662672000) and, being
quoted in the template, arrives as a string of digits. Teams commonly add `alert_id`
($ALERT_ID), `alert_cycle_key`, `aggreg_key`, `alert_transition` (Triggered / Re-Triggered,
Recovered, Warn / Re-Warn, No Data / Re-No Data, Renotify), `alert_priority` (P1..P5),
`alert_type`, `alert_title`, `alert_metric`, `hostname`, `tags` ($TAGS, comma-separated
`key:value`) and `link`; those keys are read when present.

The id is `alert_cycle_key` (shared by every notification from trigger to recovery), else
`aggreg_key`, else the event `id`. Without `alert_transition` the transition is read from the
title's `[Triggered]` / `[Recovered]` / ... prefix. Datadog sends no start time with a
recovery: `startedAt` is the notification's `date`, which is also `resolvedAt` for Recovered.
"""

from __future__ import annotations

import re
from typing import Any

from .common import (
    PRIORITY_SEVERITY,
    AdapterError,
    choose,
    epoch,
    incident,
    link,
    mapping,
    opt_mapping,
    opt_str,
    scalar_text,
    service_and_environment,
    severity_labels,
    tag_labels,
)

FORMAT = "datadog"
STATUS = {
    "Triggered": "triggered",
    "Re-Triggered": "triggered",
    "Warn": "triggered",
    "Re-Warn": "triggered",
    "No Data": "triggered",
    "Re-No Data": "triggered",
    "Renotify": "triggered",
    "Recovered": "resolved",
}
_TITLE_TRANSITION = re.compile(r"\[(" + "|".join(re.escape(word) for word in STATUS) + r")\b")
# Variables copied into labels under a shorter name, when the template includes them.
_LABEL_KEYS = {
    "alert_id": "monitor_id",
    "alert_type": "alert_type",
    "alert_metric": "metric",
    "event_type": "event_type",
    "hostname": "host",
}


def convert(payload: Any) -> list[dict[str, Any]]:
    """The canonical incident of one Datadog webhook notification."""
    root = mapping(payload, "", "a Datadog webhook payload (a JSON object)")
    title = opt_str(root, "title", "") or opt_str(root, "alert_title", "")
    if title is None:
        raise AdapterError("title: missing; expected the event title ($EVENT_TITLE)", "title")
    transition = opt_str(root, "alert_transition", "")
    if transition is None:
        found = _TITLE_TRANSITION.search(title)
        transition = found.group(1) if found else "Triggered"
        status = STATUS[transition]
    else:
        status = choose(transition, STATUS, "alert_transition", "alert transition")
    date_key = "date" if root.get("date") not in (None, "") else "last_updated"
    started_at = epoch(root.get(date_key), "ms", date_key)
    labels = _labels(root)
    labels["transition"] = transition
    priority = opt_str(root, "alert_priority", "")
    if priority is not None:
        labels["priority"] = priority
    severity = priority.lower() if priority is not None else None
    service, environment = service_and_environment(labels)
    return [
        incident(
            FORMAT,
            root,
            id=_id(root),
            title=title,
            started_at=started_at,
            resolvedAt=started_at if status == "resolved" else None,
            status=status,
            service=service,
            environment=environment,
            severity=severity,
            description=opt_str(root, "body", ""),
            labels=severity_labels(labels, severity, PRIORITY_SEVERITY),
            links=[link("Datadog", opt_str(root, "link", ""))],
        )
    ]


def _id(root: dict[str, Any]) -> str:
    for key in ("alert_cycle_key", "aggreg_key", "id"):
        value = root.get(key)
        if value not in (None, ""):
            return scalar_text(value, key)
    raise AdapterError(
        "id: missing; expected the event id ($ID) or alert_cycle_key ($ALERT_CYCLE_KEY)", "id"
    )


def _labels(root: dict[str, Any]) -> dict[str, str]:
    tags = opt_str(root, "tags", "")
    labels = tag_labels(tags.split(","), "tags") if tags else {}
    for key, name in _LABEL_KEYS.items():
        value = root.get(key)
        if value not in (None, ""):
            labels[name] = scalar_text(value, key)
    org = opt_str(opt_mapping(root, "org", ""), "name", "org")
    if org is not None:
        labels["org"] = org
    return labels
