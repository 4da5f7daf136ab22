"""PagerDuty webhook v3 incident event → one incident.

Follows "Webhook Payload" and "Event Data Types" of the PagerDuty developer documentation
(developer.pagerduty.com, docs/webhooks/01-Overview.md): `event.id`, `event.event_type`
(`incident.triggered`, `incident.acknowledged`, `incident.resolved`, `incident.reopened`, ...),
`event.resource_type`, `event.occurred_at`, `event.agent`, `event.data`; for incident events
`event.data` is the incident: `id`, `number`, `title`, `status`, `created_at`, `urgency`,
`priority.summary`, `service.summary`, `escalation_policy.summary`, `teams[]`, `html_url`.

Only events whose `data` is an incident convert: notes, responder requests, status updates and
service events carry no incident start time. The status is the incident's `status`; the time
of an `incident.acknowledged` or `incident.resolved` event (`occurred_at`) becomes
`acknowledgedAt` or `resolvedAt`.

The severity is the canonical level of the priority when it is P1..P5, else of the urgency
(`high` → `high`, `low` → `info`). A v3 incident has no labels of its own: the adapter's are
`@urgency`, `@priority`, `@escalation_policy`, `@teams` and `@event_type`.
"""

from __future__ import annotations

from typing import Any

from playbook_engine.adapters.common import (
    PRIORITY_SEVERITY,
    AdapterError,
    choose,
    incident,
    join,
    link,
    mapping,
    opt_list,
    opt_mapping,
    opt_str,
    req_mapping,
    req_str,
    timestamp,
    with_derived,
)

FORMAT = "pagerduty-webhook"
STATUS = {"triggered": "triggered", "acknowledged": "acknowledged", "resolved": "resolved"}
URGENCY_SEVERITY = {"high": "high", "low": "info"}


def convert(payload: Any) -> list[dict[str, Any]]:
    """The canonical incident of one v3 webhook incident event."""
    root = mapping(payload, "", "a v3 webhook payload (a JSON object with an event)")
    event = req_mapping(root, "event", "")
    event_type = req_str(event, "event_type", "event", "an event type like incident.triggered")
    if not event_type.startswith("incident."):
        raise AdapterError(
            f"event.event_type: expected an incident event like incident.triggered, got "
            f"{event_type!r}; only incident events convert",
            "event.event_type",
        )
    data = req_mapping(event, "data", "event")
    data_type = opt_str(data, "type", "event.data")
    if data_type not in (None, "incident"):
        raise AdapterError(
            f"event.data.type: expected 'incident', got {data_type!r}; this {event_type} event "
            "carries no incident to convert",
            "event.data.type",
        )
    status = choose(
        req_str(data, "status", "event.data", "triggered, acknowledged or resolved"),
        STATUS,
        "event.data.status",
        "incident status",
    )
    occurred = event.get("occurred_at")
    acknowledged_at = resolved_at = None
    if event_type == "incident.acknowledged":
        acknowledged_at = timestamp(occurred, "event.occurred_at")
    elif event_type == "incident.resolved":
        resolved_at = timestamp(occurred, "event.occurred_at")
    urgency = opt_str(data, "urgency", "event.data")
    priority = _summary(data, "priority")
    derived = {
        "urgency": urgency,
        "priority": priority,
        "escalation_policy": _summary(data, "escalation_policy"),
        "teams": ", ".join(_team_names(data)) or None,
        "event_type": event_type,
    }
    # The priority (P1..P5) is the finer scale; accounts with custom priority names fall back
    # to the urgency.
    severity = PRIORITY_SEVERITY.get((priority or "").lower()) or URGENCY_SEVERITY.get(
        urgency or "", urgency
    )
    return [
        incident(
            FORMAT,
            root,
            id=req_str(data, "id", "event.data", "the incident id"),
            title=req_str(data, "title", "event.data", "the incident title"),
            # Some event types omit the incident's created_at: the event's time stands in.
            started_at=timestamp(data["created_at"], "event.data.created_at")
            if data.get("created_at") is not None
            else timestamp(occurred, "event.occurred_at"),
            acknowledgedAt=acknowledged_at,
            resolvedAt=resolved_at,
            status=status,
            service=_summary(data, "service"),
            severity=severity,
            labels=with_derived({}, derived),
            links=[
                link("PagerDuty incident", opt_str(data, "html_url", "event.data")),
                *_client_link(event),
            ],
        )
    ]


def _summary(data: dict[str, Any], key: str) -> str | None:
    """The `summary` of a reference object such as `priority` or `service`."""
    return opt_str(opt_mapping(data, key, "event.data"), "summary", join("event.data", key))


def _team_names(data: dict[str, Any]) -> list[str]:
    names = []
    for index, team in enumerate(opt_list(data, "teams", "event.data")):
        path = join("event.data.teams", index)
        name = opt_str(mapping(team, path, "a team reference"), "summary", path)
        if name is not None:
            names.append(name)
    return names


def _client_link(event: dict[str, Any]) -> list[dict[str, str] | None]:
    """The monitoring tool's page an event came from (`event.client`: name and url)."""
    client = event.get("client")
    if not isinstance(client, dict):
        return []
    name = opt_str(client, "name", "event.client") or "Source"
    return [link(name, opt_str(client, "url", "event.client"))]
