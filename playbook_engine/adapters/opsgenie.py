"""Opsgenie webhook integration (alert action data) → one incident.

Follows Opsgenie's "Webhook Integration" and "Alert Action Data" documentation
(docs.opsgenie.com/docs/webhook-integration, docs.opsgenie.com/docs/marid-alert-action-data):
`action` (Create, Acknowledge, UnAcknowledge, Close, Delete, AddNote, ...), `alert` with
`alertId`, `message`, `tags[]`, `tinyId`, `alias`, `entity`, `source`, `username`,
`createdAt` (epoch milliseconds, e.g. 1420452191104), `updatedAt` (epoch nanoseconds, e.g.
1420452193166002000) and, when the integration sends them, `priority` (P1..P5), `description`,
`details` (string map); top-level `source`, `integrationId`, `integrationName`.

The action sets the status; actions that do not change it (AddNote, AddTags, Escalate, ...)
take it from the alert's `status: closed` / `acknowledged: true` when present. The moment of an
Acknowledge or Close action (the alert's `updatedAt`) becomes `acknowledgedAt` / `resolvedAt`.
Tags `key:value` become labels (a bare tag `t` becomes `t: "true"`), then `details` entries.
"""

from __future__ import annotations

from typing import Any

from .common import (
    PRIORITY_SEVERITY,
    epoch,
    incident,
    mapping,
    opt_list,
    opt_mapping,
    opt_str,
    req_mapping,
    req_str,
    service_and_environment,
    severity_labels,
    str_labels,
    tag_labels,
)

FORMAT = "opsgenie"
STATUS = {
    "Create": "triggered",
    "UnAcknowledge": "triggered",
    "Acknowledge": "acknowledged",
    "Close": "resolved",
    "Delete": "resolved",
}


def convert(payload: Any) -> list[dict[str, Any]]:
    """The canonical incident of one Opsgenie webhook alert action."""
    root = mapping(payload, "", "an Opsgenie alert action (a JSON object with action and alert)")
    action = req_str(root, "action", "", "an alert action like Create or Close")
    alert = req_mapping(root, "alert", "")
    status = STATUS.get(action) or _status_of(alert)
    acknowledged_at = resolved_at = None
    if action == "Acknowledge":
        acknowledged_at = epoch(alert.get("updatedAt"), "ns", "alert.updatedAt")
    elif status == "resolved" and action in STATUS:
        resolved_at = epoch(alert.get("updatedAt"), "ns", "alert.updatedAt")
    labels = tag_labels(opt_list(alert, "tags", "alert"), "alert.tags")
    labels.update(str_labels(opt_mapping(alert, "details", "alert"), "alert.details"))
    entity = opt_str(alert, "entity", "alert")
    priority = opt_str(alert, "priority", "alert")
    if entity is not None:
        labels["entity"] = entity
    if priority is not None:
        labels["priority"] = priority
    severity = priority.lower() if priority is not None else None
    service, environment = service_and_environment(labels)
    return [
        incident(
            FORMAT,
            root,
            id=req_str(alert, "alertId", "alert", "the alert id"),
            title=req_str(alert, "message", "alert", "the alert message"),
            started_at=epoch(alert.get("createdAt"), "ms", "alert.createdAt"),
            acknowledgedAt=acknowledged_at,
            resolvedAt=resolved_at,
            status=status,
            service=service or entity,
            environment=environment,
            severity=severity,
            description=opt_str(alert, "description", "alert"),
            labels=severity_labels(labels, severity, PRIORITY_SEVERITY),
        )
    ]


def _status_of(alert: dict[str, Any]) -> str:
    if alert.get("status") == "closed":
        return "resolved"
    return "acknowledged" if alert.get("acknowledged") is True else "triggered"
