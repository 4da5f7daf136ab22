"""Opsgenie webhook integration (alert action data) → one incident.

Follows Opsgenie's "Webhook Integration" and "Alert Action Data" documentation
(docs.opsgenie.com/docs/webhook-integration, docs.opsgenie.com/docs/marid-alert-action-data):
`action` (Create, Acknowledge, UnAcknowledge, Close, Delete, AddNote, ...), `alert` with
`alertId`, `message`, `tags[]`, `tinyId`, `alias`, `entity`, `source`, `username`,
`createdAt` (epoch milliseconds, e.g. 1420452191104), `updatedAt` (epoch nanoseconds, e.g.
1420452193166002000), `teams` (the teams assigned, on Create), `team` (the team an AddTeam action
added) and, when the integration sends them, `priority` (P1..P5), `description`, `details`
(string map); top-level `source`, `integrationId`, `integrationName`.

The action sets the status; actions that do not change it (AddNote, AddTags, Escalate, ...)
take it from the alert's `status: closed` / `acknowledged: true` when present. The moment of an
Acknowledge or Close action (the alert's `updatedAt`) becomes `acknowledgedAt` / `resolvedAt`.
Tags `key:value` become labels (a bare tag `t` becomes `t: "true"`), then `details` entries,
unchanged. The adapter adds `@priority`, `@entity`, `@teams` (comma-joined, as for PagerDuty),
`@dedup_key` (the `alias`, Opsgenie's de-duplication key), `@escalation` (an Escalate's
top-level `escalationName`) and `@recipient` (an AddRecipient's `alert.recipient`); the
severity is the canonical level of the priority.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from playbook_engine.adapters.common import (
    PRIORITY_SEVERITY,
    canonical_severity,
    epoch,
    fail,
    incident,
    join,
    mapping,
    opt_list,
    opt_mapping,
    opt_str,
    received,
    req_mapping,
    req_str,
    service_and_environment,
    str_labels,
    tag_labels,
    with_derived,
)

FORMAT = "opsgenie"
STATUS = {
    "Create": "triggered",
    "UnAcknowledge": "triggered",
    "Acknowledge": "acknowledged",
    "Close": "resolved",
    "Delete": "resolved",
}


def convert(payload: Any, received_at: datetime | None = None) -> list[dict[str, Any]]:
    """The canonical incident of one Opsgenie webhook alert action. An action whose alert
    carries only its `alertId` (Escalate and others send no message or `createdAt`) is titled
    by the id and starts at the receive time."""
    root = mapping(payload, "", "an Opsgenie alert action (a JSON object with action and alert)")
    action = req_str(root, "action", "", "an alert action like Create or Close")
    alert = req_mapping(root, "alert", "")
    status = STATUS.get(action) or _status_of(alert)
    acknowledged_at = resolved_at = None
    if action == "Acknowledge":
        acknowledged_at = epoch(alert.get("updatedAt"), "ns", "alert.updatedAt")
    elif status == "resolved" and action in STATUS:
        resolved_at = epoch(alert.get("updatedAt"), "ns", "alert.updatedAt")
    own = tag_labels(opt_list(alert, "tags", "alert"), "alert.tags")
    own.update(str_labels(opt_mapping(alert, "details", "alert"), "alert.details"))
    entity = opt_str(alert, "entity", "alert")
    priority = _priority(alert)
    derived = {
        "note": opt_str(alert, "note", "alert"),  # an AddNote action's text
        "priority": priority,
        "entity": entity,
        "teams": ", ".join(_teams(alert)) or None,
        "dedup_key": opt_str(alert, "alias", "alert"),
        "escalation": opt_str(root, "escalationName", ""),  # an Escalate action's policy
        "recipient": opt_str(alert, "recipient", "alert"),  # whom AddRecipient added
    }
    service, environment = service_and_environment(own)
    return [
        incident(
            FORMAT,
            root,
            id=req_str(alert, "alertId", "alert", "the alert id"),
            title=opt_str(alert, "message", "alert")
            or f"Opsgenie alert {req_str(alert, 'alertId', 'alert', 'the alert id')} ({action})",
            started_at=epoch(alert["createdAt"], "ms", "alert.createdAt")
            if alert.get("createdAt") is not None
            else received("alert.createdAt", received_at),
            acknowledgedAt=acknowledged_at,
            resolvedAt=resolved_at,
            status=status,
            service=service or entity,
            environment=environment,
            severity=canonical_severity(priority, PRIORITY_SEVERITY),
            description=opt_str(alert, "description", "alert"),
            labels=with_derived(own, derived),
        )
    ]


def _teams(alert: dict[str, Any]) -> list[str]:
    """The alert's teams (`teams` on Create), then the one an AddTeam action added (`team`)."""
    names = []
    for index, team in enumerate(opt_list(alert, "teams", "alert")):
        if not isinstance(team, str):
            raise fail(join("alert.teams", index), "a team name or id", team)
        if team:
            names.append(team)
    added = opt_str(alert, "team", "alert")
    if added is not None and added not in names:
        names.append(added)
    return names


def _status_of(alert: dict[str, Any]) -> str:
    if alert.get("status") == "closed":
        return "resolved"
    return "acknowledged" if alert.get("acknowledged") is True else "triggered"


def _priority(alert: dict[str, Any]) -> str | None:
    """`P1`..`P5`: the API writes the word, the webhook sends the number (`3`)."""
    value = alert.get("priority")
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5:
        return f"P{value}"
    return opt_str(alert, "priority", "alert")
