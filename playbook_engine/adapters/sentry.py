"""Sentry issue alert webhook (`Sentry-Hook-Resource: event_alert`) → one incident.

Follows "Issue Alerts" of Sentry's integration platform webhook documentation
(docs.sentry.io/organization/integrations/integration-platform/webhooks/issue-alerts/):
`action` (always `triggered`), `actor`, `data.event` (the event that triggered the rule: `title`,
`level`, `datetime` (RFC 3339), `timestamp` (epoch seconds with a fraction), `event_id`,
`issue_id`, `issue_url`, `web_url`, `url`, `project`, `culprit`, `message`, `platform`,
`tags` as a list of `[key, value]` pairs), `data.triggered_rule`, `data.issue_alert`,
`installation`.

The id is the event's `issue_id` (every alert for one Sentry issue shares it), else its
`event_id`. Tags are the labels, unchanged (the `environment` tag is the environment); the
triggering rule and the project are added as `@rule` and `@project`. The severity is the
canonical level of the event's `level`.
"""

from __future__ import annotations

from typing import Any

from playbook_engine.adapters.common import (
    AdapterError,
    canonical_severity,
    epoch,
    fail,
    incident,
    join,
    link,
    mapping,
    opt_list,
    opt_str,
    req_mapping,
    req_str,
    scalar_text,
    service_and_environment,
    timestamp,
    with_derived,
)

FORMAT = "sentry"
SEVERITY = {
    "fatal": "critical",
    "error": "high",
    "warning": "warning",
    "info": "info",
    "debug": "info",
}


def convert(payload: Any) -> list[dict[str, Any]]:
    """The canonical incident of one Sentry issue alert."""
    root = mapping(payload, "", "a Sentry issue alert (a JSON object with action and data)")
    action = req_str(root, "action", "", "triggered")
    if action != "triggered":
        raise AdapterError(f"action: expected 'triggered', got {action!r}", "action")
    data = req_mapping(root, "data", "")
    event = req_mapping(data, "event", "data")
    own = _tag_labels(opt_list(event, "tags", "data.event"))
    project = event.get("project")
    derived = {
        "rule": opt_str(data, "triggered_rule", "data"),
        "project": None if project is None else scalar_text(project, "data.event.project"),
    }
    service, environment = service_and_environment(own)
    return [
        incident(
            FORMAT,
            root,
            id=_id(event),
            title=req_str(event, "title", "data.event", "the event title"),
            started_at=_started(event),
            status="triggered",
            service=service,
            environment=environment,
            severity=canonical_severity(opt_str(event, "level", "data.event"), SEVERITY),
            description=opt_str(event, "message", "data.event"),
            labels=with_derived(own, derived),
            links=[link("Sentry event", opt_str(event, "web_url", "data.event"))],
        )
    ]


def _id(event: dict[str, Any]) -> str:
    for key in ("issue_id", "event_id"):
        value = event.get(key)
        if value not in (None, ""):
            return scalar_text(value, join("data.event", key))
    raise AdapterError(
        "data.event.issue_id: missing; expected the issue id (or an event_id)",
        "data.event.issue_id",
    )


def _started(event: dict[str, Any]) -> str:
    if event.get("datetime") is not None:
        return timestamp(event["datetime"], "data.event.datetime")
    return epoch(event.get("timestamp"), "s", "data.event.timestamp")


def _tag_labels(tags: list[Any]) -> dict[str, str]:
    labels = {}
    for index, pair in enumerate(tags):
        path = join("data.event.tags", index)
        if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[0], str):
            raise fail(path, "a [key, value] pair", pair)
        if pair[1] is not None:
            labels[pair[0]] = scalar_text(pair[1], join(path, 1))
    return labels
