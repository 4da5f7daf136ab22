"""PagerDuty webhook v3 incident event → one incident; a v2 webhook → one per message.

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

V2 webhooks (retired by PagerDuty in 2022, still sent by old set-ups and quoted in examples)
post `{"messages": [...]}`; each message has `event` (`incident.trigger`, `incident.acknowledge`,
`incident.resolve`, `incident.assign`, ...), `created_on` and `incident`, the incident as the
REST API shows it (`incident_number`, `service.summary`, ...). Each message is one incident,
read as a v3 event's `data`, with `created_on` as the event's time.
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
    req_list,
    req_mapping,
    req_str,
    timestamp,
    with_derived,
)

FORMAT = "pagerduty-webhook"
STATUS = {"triggered": "triggered", "acknowledged": "acknowledged", "resolved": "resolved"}
URGENCY_SEVERITY = {"high": "high", "low": "info"}


def convert(payload: Any) -> list[dict[str, Any]]:
    """The canonical incident of one v3 webhook incident event, or those of a v2 webhook."""
    root = mapping(payload, "", "a webhook payload (a JSON object with an event)")
    if "event" not in root and "messages" in root:
        return _convert_v2(root)
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
    ended = {"incident.acknowledged": "acknowledged", "incident.resolved": "resolved"}
    return [
        _incident(
            root,
            data,
            "event.data",
            event_type,
            ended.get(event_type),
            (event.get("occurred_at"), "event.occurred_at"),
            _client_link(event),
            None,
        )
    ]


def _convert_v2(root: dict[str, Any]) -> list[dict[str, Any]]:
    """One incident per message of a v2 webhook (`messages[i].incident`)."""
    messages = req_list(root, "messages", "", "v2 webhook messages")
    ended = {"incident.acknowledge": "acknowledged", "incident.resolve": "resolved"}
    result = []
    for index, item in enumerate(messages):
        path = join("messages", index)
        message = mapping(item, path, "a v2 webhook message")
        if "event" not in message and "type" in message and "data" in message:
            raise AdapterError(f"{path}.event: {V1_WEBHOOK}", f"{path}.event")
        event_type = req_str(message, "event", path, "an event like incident.trigger")
        if not event_type.startswith("incident."):
            raise AdapterError(
                f"{path}.event: expected an incident event like incident.trigger, got "
                f"{event_type!r}; only incident events convert",
                f"{path}.event",
            )
        data = req_mapping(message, "incident", path)
        result.append(
            _incident(
                root,
                data,
                f"{path}.incident",
                event_type,
                ended.get(event_type),
                (message.get("created_on"), f"{path}.created_on"),
                [],
                {"message": message, "index": index},
            )
        )
    return result


def _incident(
    root: dict[str, Any],
    data: dict[str, Any],
    path: str,
    event_type: str,
    ended: str | None,
    occurred: tuple[Any, str],
    client_links: list[dict[str, str] | None],
    extra_source: dict[str, Any] | None,
) -> dict[str, Any]:
    """The incident of `data` (a v3 event's `data`, a v2 message's `incident`) at `path`;
    `ended` says whether the event acknowledged or resolved it, at the time `occurred`."""
    status = choose(
        req_str(data, "status", path, "triggered, acknowledged or resolved"),
        STATUS,
        join(path, "status"),
        "incident status",
    )
    acknowledged_at = resolved_at = None
    if ended == "acknowledged":
        acknowledged_at = timestamp(*occurred)
    elif ended == "resolved":
        resolved_at = timestamp(*occurred)
    urgency = opt_str(data, "urgency", path)
    priority = _summary(data, "priority", path)
    derived = {
        "urgency": urgency,
        "priority": priority,
        "escalation_policy": _summary(data, "escalation_policy", path),
        "teams": ", ".join(_team_names(data, path)) or None,
        "event_type": event_type,
    }
    # The priority (P1..P5) is the finer scale; accounts with custom priority names fall back
    # to the urgency.
    severity = PRIORITY_SEVERITY.get((priority or "").lower()) or URGENCY_SEVERITY.get(
        urgency or "", urgency
    )
    return incident(
        FORMAT,
        root,
        id=req_str(data, "id", path, "the incident id"),
        title=req_str(data, "title", path, "the incident title"),
        # Some event types omit the incident's created_at: the event's time stands in.
        started_at=timestamp(data["created_at"], join(path, "created_at"))
        if data.get("created_at") is not None
        else timestamp(*occurred),
        extra_source=extra_source,
        acknowledgedAt=acknowledged_at,
        resolvedAt=resolved_at,
        status=status,
        service=_summary(data, "service", path),
        severity=severity,
        labels=with_derived({}, derived),
        links=[link("PagerDuty incident", opt_str(data, "html_url", path)), *client_links],
    )


V1_WEBHOOK = (
    "missing, and the message has type and data: this is a V1 webhook (messages[].type, "
    "data.incident), which PagerDuty retired; only V3 webhooks (and the retired V2) are read: "
    "subscribe a V3 webhook instead"
)


def is_v1(data: dict[str, Any]) -> bool:
    """Whether `data` looks like a retired V1 webhook: `messages` with `type` and `data`."""
    messages = data.get("messages")
    return (
        isinstance(messages, list)
        and bool(messages)
        and all(isinstance(m, dict) and "type" in m and "data" in m for m in messages)
    )


def is_v2(data: dict[str, Any]) -> bool:
    """Whether `data` looks like a v2 webhook: `messages` of incident events."""
    messages = data.get("messages")
    return (
        isinstance(messages, list)
        and bool(messages)
        and all(
            isinstance(m, dict) and "event" in m and isinstance(m.get("incident"), dict)
            for m in messages
        )
    )


def _summary(data: dict[str, Any], key: str, path: str) -> str | None:
    """The `summary` of a reference object such as `priority` or `service`."""
    return opt_str(opt_mapping(data, key, path), "summary", join(path, key))


def _team_names(data: dict[str, Any], path: str) -> list[str]:
    names = []
    for index, team in enumerate(opt_list(data, "teams", path)):
        item = join(join(path, "teams"), index)
        name = opt_str(mapping(team, item, "a team reference"), "summary", item)
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
