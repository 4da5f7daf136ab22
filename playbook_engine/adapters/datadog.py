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

The id is a template's own `dedup_key` when it sends one, else the event `id` ($ID, in the
default payload: the number in the event's Datadog link), else `alert_cycle_key`, else
`aggreg_key` (opaque hashes nobody recognises). The de-duplication
key, `alert_cycle_key` (shared by every notification from trigger to recovery) else `aggreg_key`,
is kept as the label `@dedup_key`. Without `alert_transition` the transition is read from the
title's `[Triggered]` / `[Recovered]` / ... prefix; a notification with neither is not a
monitor's transition (a downtime notice, another event) and is refused, not made a triggered
incident. Datadog sends no start time with a
recovery: `startedAt` is the notification's `date` (else `last_updated`), which is also
`resolvedAt` for Recovered. A custom payload with neither takes the time it was received
(`received_at`), and `source.receivedAt` says so.

A payload whose title, transition, date or id is still a bare `$VARIABLE` is the webhook's
template itself (pasted from the integration's settings or its documentation), never sent by
Datadog: it is refused by that field, with a message saying so.

The `tags` are the labels, unchanged; the other variables are added under `@` names
(`@transition`, `@priority`, `@monitor_id`, ...), and the severity is the canonical level of the
priority.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from playbook_engine.adapters.common import (
    PRIORITY_SEVERITY,
    AdapterError,
    canonical_severity,
    choose,
    epoch,
    incident,
    link,
    mapping,
    opt_mapping,
    opt_str,
    received,
    scalar_text,
    service_and_environment,
    tag_labels,
    with_derived,
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
NOT_A_TRANSITION = (
    "alert_transition: missing, and the title has no transition like [Triggered] or "
    "[Recovered]: the notification is not a monitor's transition (a downtime or another "
    "event notice), so it is not an incident; a monitor's webhook payload should send "
    "alert_transition ($ALERT_TRANSITION)"
)
_TITLE_TRANSITION = re.compile(r"\[(" + "|".join(re.escape(word) for word in STATUS) + r")\b")
# Variables copied into `@` labels under a shorter name, when the template includes them.
_DERIVED_KEYS = {
    "alert_id": "monitor_id",
    "alert_type": "alert_type",
    "alert_metric": "metric",
    "event_type": "event_type",
    "hostname": "host",
}


def convert(payload: Any, received_at: datetime | None = None) -> list[dict[str, Any]]:
    """The canonical incident of one Datadog webhook notification; `received_at` is its time
    when the payload carries neither `date` nor `last_updated`."""
    root = mapping(payload, "", "a Datadog webhook payload (a JSON object)")
    _refuse_a_template(root)
    title = opt_str(root, "title", "") or opt_str(root, "alert_title", "")
    if title is None:
        raise AdapterError("title: missing; expected the event title ($EVENT_TITLE)", "title")
    transition = opt_str(root, "alert_transition", "")
    if transition is None:
        found = _TITLE_TRANSITION.search(title)
        if found is None:
            raise AdapterError(NOT_A_TRANSITION, "alert_transition")
        transition = found.group(1)
        status = STATUS[transition]
    else:
        status = choose(transition, STATUS, "alert_transition", "alert transition")
    date_key = next(
        (key for key in ("date", "last_updated") if root.get(key) not in (None, "")), None
    )
    extra_source = {}
    if date_key is None:
        started_at = received("date", received_at)
        extra_source["receivedAt"] = started_at
    else:
        started_at = epoch(root[date_key], "ms", date_key)
    tags = opt_str(root, "tags", "")
    own = tag_labels(tags.split(","), "tags") if tags else {}
    priority = opt_str(root, "alert_priority", "")
    derived = {"transition": transition, "priority": priority, **_derived(root)}
    service, environment = service_and_environment(own)
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
            severity=canonical_severity(priority, PRIORITY_SEVERITY),
            description=opt_str(root, "body", ""),
            labels=with_derived(own, derived),
            links=[link("Datadog", opt_str(root, "link", ""))],
            extra_source=extra_source,
        )
    ]


# A value that is nothing but a Datadog template variable: `$EVENT_TITLE`, `$DATE`.
_VARIABLE = re.compile(r"\$[A-Z][A-Z0-9_]*")


def _refuse_a_template(root: dict[str, Any]) -> None:
    """Refuse the webhook's payload template pasted as a payload: Datadog replaces every
    `$VARIABLE` when it sends, so a title, transition or date that is still one was never
    sent by Datadog (a variable left inside longer text is only noted, as elsewhere)."""
    for key in ("title", "alert_title", "alert_transition", "date", "last_updated", "id"):
        value = root.get(key)
        if isinstance(value, str) and _VARIABLE.fullmatch(value.strip()):
            raise AdapterError(
                f"{key}: {value.strip()!r} is a Datadog template variable, not its value: this is "
                "the webhook's payload template, not a notification Datadog sent (Datadog "
                "replaces each $VARIABLE when it sends); use a payload Datadog delivered, "
                "e.g. from the monitor's Test Notifications",
                key,
            )


def _first(root: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = root.get(key)
        if value not in (None, ""):
            return scalar_text(value, key)
    return None


def _id(root: dict[str, Any]) -> str:
    # A template's own `dedup_key` is the team's chosen identity: it comes first.
    found = _first(root, ("dedup_key", "id", "alert_cycle_key", "aggreg_key"))
    if found is None:
        raise AdapterError(
            "id: missing; expected the event id ($ID) or alert_cycle_key ($ALERT_CYCLE_KEY)", "id"
        )
    return found


def _derived(root: dict[str, Any]) -> dict[str, str | None]:
    derived = {name: _first(root, (key,)) for key, name in _DERIVED_KEYS.items()}
    derived["org"] = opt_str(opt_mapping(root, "org", ""), "name", "org")
    derived["dedup_key"] = _first(root, ("dedup_key", "alert_cycle_key", "aggreg_key"))
    return derived
