"""PagerDuty Events API v2 alert event → one incident.

Follows "Send an Alert Event" of the PagerDuty developer documentation
(developer.pagerduty.com, docs/events-API-v2/02-Trigger-Events.md): `routing_key`,
`event_action` (trigger | acknowledge | resolve), `dedup_key`, `payload.summary`,
`payload.source`, `payload.severity` (critical | error | warning | info), `payload.timestamp`,
`payload.component`, `payload.group`, `payload.class`, `payload.custom_details`, `links[]`
(`href`, `text`), `client`, `client_url`.

The incident id is the `dedup_key`. A trigger may omit it (PagerDuty then makes one up on
receipt); the id is then derived from a hash of the event, so the same event always gets the
same id. Acknowledge and resolve events need their `dedup_key`, and since the incident needs a
title, a trigger must carry `payload.summary`. Acknowledge and resolve events without a payload
(PagerDuty's documented form) are updates of the incident with that `dedup_key`: status and
`acknowledgedAt`/`resolvedAt` from the receive time, `source.update: true`. `payload.timestamp`
is optional in the API and often left out: the time the event was received (`received_at`) then
stands in for it, and `source.receivedAt` says so. The `routing_key` is a credential and is
replaced by `[redacted]` in `source.payload`.

Scalar `custom_details` are the labels, unchanged; `payload.source`, `component`, `group` and
`class` are added as `@source`, `@component`, `@group`, `@class`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from playbook_engine.adapters.common import (
    AdapterError,
    canonical_severity,
    choose,
    incident,
    join,
    link,
    mapping,
    opt_list,
    opt_mapping,
    opt_str,
    received,
    req_mapping,
    req_str,
    scalar_text,
    service_and_environment,
    timestamp,
    with_derived,
)

FORMAT = "pagerduty-events"
STATUS = {"trigger": "triggered", "acknowledge": "acknowledged", "resolve": "resolved"}
REDACTED = "[redacted]"
SEVERITY = {"critical": "critical", "error": "high", "warning": "warning", "info": "info"}


CHANGE_EVENT = (
    "event_action: missing, and the payload is a PagerDuty change event (routing_key and a "
    "payload, no event_action): it records a change, such as a deploy, not an incident; only "
    "alert events (trigger, acknowledge, resolve) open or update incidents"
)


def is_change_event(data: dict[str, Any]) -> bool:
    """A Change Events API v2 event: `routing_key` and a `payload` with a `summary`, and no
    `event_action` (developer.pagerduty.com, "Send a Change Event")."""
    body = data.get("payload")
    return (
        "routing_key" in data
        and "event_action" not in data
        and isinstance(body, dict)
        and "summary" in body
    )


def convert(payload: Any, received_at: datetime | None = None) -> list[dict[str, Any]]:
    """The canonical incident of one Events API v2 event; `received_at` is its start time when
    the event carries no `payload.timestamp`."""
    root = mapping(payload, "", "an Events API v2 event (a JSON object)")
    req_str(root, "routing_key", "", "the integration's routing key")
    if is_change_event(root):
        raise AdapterError(CHANGE_EVENT, "event_action")
    action = req_str(root, "event_action", "", "trigger, acknowledge or resolve")
    status = choose(action, STATUS, "event_action", "event action")
    dedup_key = opt_str(root, "dedup_key", "")
    if dedup_key is None and action != "trigger":
        raise AdapterError(
            f"dedup_key: missing; {action} events must name the alert they apply to",
            "dedup_key",
        )
    if action != "trigger" and root.get("payload") is None:
        return [_update(root, action, status, dedup_key or "", received_at)]
    body = req_mapping(root, "payload", "")
    severity = req_str(body, "severity", "payload", "critical, error, warning or info")
    own = _custom_labels(opt_mapping(body, "custom_details", "payload"))
    derived = {
        key: opt_str(body, key, "payload") for key in ("source", "component", "group", "class")
    }
    service, environment = service_and_environment(own)
    extra_source = {}
    if body.get("timestamp") is None:
        started_at = received("payload.timestamp", received_at)
        extra_source["receivedAt"] = started_at
    else:
        started_at = timestamp(body["timestamp"], "payload.timestamp")
    return [
        incident(
            FORMAT,
            {**root, "routing_key": REDACTED},
            id=dedup_key or _derived_id(root),
            title=req_str(body, "summary", "payload", "a one-line summary"),
            started_at=started_at,
            status=status,
            service=service,
            environment=environment,
            severity=canonical_severity(severity, SEVERITY),
            labels=with_derived(own, derived),
            links=[
                *_links(root),
                link(opt_str(root, "client", "") or "Client", opt_str(root, "client_url", "")),
            ],
            extra_source=extra_source,
        )
    ]


def _custom_labels(details: dict[str, Any]) -> dict[str, str]:
    # Only scalar details become labels; nested ones stay reachable under source.payload.
    return {
        key: scalar_text(value, join("payload.custom_details", key))
        for key, value in details.items()
        if isinstance(value, str | int | float | bool)
    }


def _links(root: dict[str, Any]) -> list[dict[str, str] | None]:
    result = []
    for index, item in enumerate(opt_list(root, "links", "")):
        entry = mapping(item, join("links", index), "a link like {href, text}")
        href = req_str(entry, "href", join("links", index), "the link's URL")
        result.append(link(opt_str(entry, "text", join("links", index)) or href, href))
    return result


def _derived_id(root: dict[str, Any]) -> str:
    # Canonical JSON so that key order and spacing do not change the id.
    text = json.dumps(root, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "pd-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _update(
    root: dict[str, Any], action: str, status: str, dedup_key: str, received_at: datetime | None
) -> dict[str, Any]:
    """An acknowledge or resolve event without a payload (PagerDuty's documented form): an
    update of the incident with that `dedup_key`, its time the receive time. `source.update`
    marks it: a store applies it to the open incident of that id (README, serve)."""
    now = received("payload", received_at)
    return incident(
        FORMAT,
        {**root, "routing_key": REDACTED},
        id=dedup_key,
        title=f"{dedup_key} ({action}d in PagerDuty)",
        started_at=now,
        status=status,
        links=[*_links(root)],
        extra_source={"receivedAt": now, "update": True},
        acknowledgedAt=now if status == "acknowledged" else None,
        resolvedAt=now if status == "resolved" else None,
    )
