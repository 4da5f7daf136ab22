"""Sentry webhooks → one incident: issue alerts, issues, metric alerts, legacy plugin alerts.

Three resources of Sentry's integration platform (docs.sentry.io/organization/integrations/
integration-platform/webhooks/), told apart by what `data` holds:

- **issue alert** (`Sentry-Hook-Resource: event_alert`): `action` (always `triggered`),
  `data.event` (the event that triggered the rule: `title`, `level`, `datetime` (RFC 3339),
  `timestamp` (epoch seconds with a fraction), `event_id`, `issue_id`, `web_url`, `project`,
  `message`, `tags` as a list of `[key, value]` pairs), `data.triggered_rule`,
  `data.issue_alert`. The id is the event's `issue_id` (every alert for one Sentry issue shares
  it), else its `event_id`; tags are the labels, unchanged; the `environment` tag (else the
  event's `environment`) is the environment.
- **issue** (`issue`): `action` (`created`, `resolved`, `assigned`, `ignored`, `archived`,
  `unresolved`) and `data.issue` (`id`, `shortId`, `title`, `level`, `status`, `substatus`,
  `firstSeen`, `lastSeen`, `project`, `assignedTo`, `web_url`, `permalink`, ...). The id is the
  issue's `id`, the same as an issue alert's `issue_id`, so an alert and the issue's later
  `resolved` webhook are one incident. The payload holds no resolution time: `resolvedAt` (and
  the `acknowledgedAt` of an ignored issue) is the receive time.
- **metric alert** (`metric_alert`): `action` (`critical`, `warning`, `resolved`),
  `data.metric_alert` (the Sentry incident: `id`, `identifier`, `title`, `date_started`,
  `date_detected`, `date_closed`, `alert_rule` with `name`, `aggregate`, `query`, `dataset`,
  `environment`, `triggers`), `data.description_text`, `data.description_title`,
  `data.web_url`. The id is `sentry-metric-alert:` + the incident's `id`, shared by its
  critical, warning and resolved webhooks.

- **legacy plugin alert** (the "WebHooks" legacy integration, `?referrer=webhooks_plugin` in
  its `url`): no `action` nor `data`, but the issue at the top (`id`, `project`,
  `project_name`, `level`, `culprit`, `message`, `url`, `triggering_rules`) and the event
  under `event` (`event_id`, `title`, `timestamp` or `datetime`, `received`, `environment`,
  `tags` as `[key, value]` pairs). The id is the issue's `id`, as an issue alert's `issue_id`.

The field-by-field mapping of each is in docs/adapters.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from playbook_engine.adapters.common import (
    AdapterError,
    canonical_severity,
    choose,
    epoch,
    fail,
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

FORMAT = "sentry"
SEVERITY = {
    "fatal": "critical",
    "error": "high",
    "warning": "warning",
    "info": "info",
    "debug": "info",
}
# The status an issue webhook's action implies; `assigned` keeps the issue's own status.
ISSUE_ACTION_STATUS = {
    "created": "triggered",
    "unresolved": "triggered",
    "resolved": "resolved",
    "ignored": "acknowledged",
    "archived": "acknowledged",
}
ISSUE_STATUS = {"unresolved": "triggered", "resolved": "resolved", "ignored": "acknowledged"}
METRIC_STATUS = {"critical": "triggered", "warning": "triggered", "resolved": "resolved"}
METRIC_SEVERITY = {"critical": "critical", "warning": "warning"}


def is_sentry(data: dict[str, Any]) -> bool:
    """`action` and a `data` object holding an `event`, `issue` or `metric_alert` object; or a
    legacy plugin alert."""
    body = data.get("data")
    return (
        "action" in data
        and isinstance(body, dict)
        and any(isinstance(body.get(key), dict) for key in ("event", "issue", "metric_alert"))
    ) or is_legacy(data)


def is_legacy(data: dict[str, Any]) -> bool:
    """A legacy plugin alert: `project`, an `event` object and `triggering_rules` or
    `culprit`, with neither `action` nor `data`."""
    return (
        "action" not in data
        and "data" not in data
        and "project" in data
        and isinstance(data.get("event"), dict)
        and ("triggering_rules" in data or "culprit" in data)
    )


def convert(payload: Any, received_at: datetime | None = None) -> list[dict[str, Any]]:
    """The canonical incident of one Sentry webhook; `received_at` times what the payload does
    not (a resolution, a metric alert without dates)."""
    root = mapping(payload, "", "a Sentry webhook (a JSON object with action and data)")
    if is_legacy(root):
        return [_legacy(root, received_at)]
    action = req_str(
        root, "action", "", "a Sentry webhook action such as triggered, created or critical"
    )
    data = req_mapping(root, "data", "")
    if isinstance(data.get("issue"), dict):
        return [_issue(root, action, data, received_at)]
    if isinstance(data.get("metric_alert"), dict):
        return [_metric_alert(root, action, data, received_at)]
    if action != "triggered":
        raise AdapterError(
            f"action: expected 'triggered', got {action!r}"
            + ("" if "event" in data else "; data holds no event, issue or metric_alert"),
            "action",
        )
    return [_event_alert(root, data)]


def _event_alert(root: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    event = req_mapping(data, "event", "data")
    own = _tag_labels(opt_list(event, "tags", "data.event"))
    project = event.get("project")
    rule = opt_str(data, "triggered_rule", "data") or opt_str(
        opt_mapping(data, "issue_alert", "data"), "title", "data.issue_alert"
    )
    derived = {
        "rule": rule,
        "project": None if project is None else scalar_text(project, "data.event.project"),
    }
    service, environment = service_and_environment(own)
    environment = environment or opt_str(event, "environment", "data.event")
    return incident(
        FORMAT,
        root,
        id=_event_id(event),
        title=req_str(event, "title", "data.event", "the event title"),
        started_at=_event_started(event),
        status="triggered",
        service=service,
        environment=environment,
        severity=canonical_severity(opt_str(event, "level", "data.event"), SEVERITY),
        description=opt_str(event, "message", "data.event"),
        labels=with_derived(own, derived),
        links=[link("Sentry event", opt_str(event, "web_url", "data.event"))],
    )


def _legacy(root: dict[str, Any], received_at: datetime | None) -> dict[str, Any]:
    """A legacy plugin alert: the issue at the top, the event that fired under `event`."""
    event = req_mapping(root, "event", "")
    own = _tag_labels(opt_list(event, "tags", "event"), "event.tags")
    rules = [
        scalar_text(rule, join("triggering_rules", index))
        for index, rule in enumerate(opt_list(root, "triggering_rules", ""))
        if rule not in (None, "")
    ]
    project = root.get("project_slug") or root.get("project")
    derived = {
        "rule": ", ".join(rules) or None,
        "project": None if project is None else scalar_text(project, "project"),
        "culprit": opt_str(root, "culprit", ""),
    }
    service, environment = service_and_environment(own)
    environment = environment or opt_str(event, "environment", "event")
    title = (
        opt_str(event, "title", "event")
        or opt_str(root, "message", "")
        or opt_str(root, "culprit", "")
    )
    if title is None:
        raise AdapterError(
            "event.title: missing, and no message or culprit to stand in; expected the title "
            "of the event",
            "event.title",
        )
    message = opt_str(root, "message", "")
    issue_id = root.get("id")
    return incident(
        FORMAT,
        root,
        id=scalar_text(issue_id, "id") if issue_id not in (None, "") else _event_id(event, "event"),
        title=title,
        started_at=_event_started(event, "event", received_at),
        extra_source=None if _dated(event) else {"receivedAt": _received(received_at)},
        status="triggered",
        service=service,
        environment=environment,
        severity=canonical_severity(
            opt_str(root, "level", "") or opt_str(event, "level", "event"), SEVERITY
        ),
        description=message if message != title else None,
        labels=with_derived(own, derived),
        links=[link("Sentry issue", opt_str(root, "url", ""))],
    )


def _issue(
    root: dict[str, Any], action: str, data: dict[str, Any], received_at: datetime | None
) -> dict[str, Any]:
    path = "data.issue"
    issue = req_mapping(data, "issue", "data")
    word = opt_str(issue, "status", path)
    if action == "assigned":
        status = choose(word, ISSUE_STATUS, join(path, "status"), "issue status") if word else None
    else:
        status = choose(
            action,
            ISSUE_ACTION_STATUS,
            "action",
            "issue action (or assigned, which keeps the issue's status)",
        )
    status = status or "triggered"
    ident = scalar_text(_required(issue, "id", path, "the issue id"), join(path, "id"))
    extra_source: dict[str, Any] = {}
    if issue.get("firstSeen") is None:
        started = received(join(path, "firstSeen"), received_at)
        extra_source["receivedAt"] = started
    else:
        started = timestamp(issue["firstSeen"], join(path, "firstSeen"))
    resolved_at = acknowledged_at = None
    if status in ("resolved", "acknowledged"):
        # The webhook holds no time for the change it reports: it is the time of receipt.
        if received_at is None:
            raise AdapterError(
                f"action: an issue {action} webhook holds no time for the change it reports, "
                "and no receive time was given to stand in for it: pass --at with the time "
                "the payload was received",
                "action",
            )
        now = received("action", received_at)
        extra_source["receivedAt"] = now
        resolved_at = now if status == "resolved" else None
        acknowledged_at = now if status == "acknowledged" else None
    project = opt_mapping(issue, "project", path)
    assignee = opt_mapping(issue, "assignedTo", path)
    derived = {
        "action": action,
        "status": word,
        "substatus": opt_str(issue, "substatus", path),
        "short_id": opt_str(issue, "shortId", path),
        "project": opt_str(project, "slug", join(path, "project"))
        or opt_str(project, "name", join(path, "project")),
        "assignee": opt_str(assignee, "email", join(path, "assignedTo"))
        or opt_str(assignee, "name", join(path, "assignedTo")),
        "culprit": opt_str(issue, "culprit", path),
    }
    return incident(
        FORMAT,
        root,
        id=ident,
        title=req_str(issue, "title", path, "the issue title"),
        started_at=started,
        status=status,
        acknowledgedAt=acknowledged_at,
        resolvedAt=resolved_at,
        severity=canonical_severity(opt_str(issue, "level", path), SEVERITY),
        labels=with_derived({}, derived),
        links=[
            link(
                "Sentry issue",
                opt_str(issue, "web_url", path) or opt_str(issue, "permalink", path),
            )
        ],
        extra_source=extra_source,
    )


def _metric_alert(
    root: dict[str, Any], action: str, data: dict[str, Any], received_at: datetime | None
) -> dict[str, Any]:
    path = "data.metric_alert"
    alert = req_mapping(data, "metric_alert", "data")
    status = choose(action, METRIC_STATUS, "action", "metric alert action")
    ident = _required(alert, "id", path, "the metric alert's incident id")
    rule_path = join(path, "alert_rule")
    rule = opt_mapping(alert, "alert_rule", path)
    extra_source: dict[str, Any] = {}
    started_key = next(
        (key for key in ("date_started", "date_detected", "date_created") if alert.get(key)),
        None,
    )
    if started_key is None:
        started = received(join(path, "date_started"), received_at)
        extra_source["receivedAt"] = started
    else:
        started = timestamp(alert[started_key], join(path, started_key))
    detected = alert.get("date_detected")
    resolved_at = None
    if status == "resolved":
        if alert.get("date_closed") is not None:
            resolved_at = timestamp(alert["date_closed"], join(path, "date_closed"))
        else:
            resolved_at = received(join(path, "date_closed"), received_at)
            extra_source["receivedAt"] = resolved_at
    projects = [
        scalar_text(item, join(join(path, "projects"), index))
        for index, item in enumerate(opt_list(alert, "projects", path))
    ]
    derived = {
        "action": action,
        "rule": opt_str(rule, "name", rule_path),
        "aggregate": opt_str(rule, "aggregate", rule_path),
        "query": opt_str(rule, "query", rule_path),
        "dataset": opt_str(rule, "dataset", rule_path),
        "projects": ", ".join(projects) or None,
        "identifier": _text(alert, "identifier", path),
    }
    title = (
        opt_str(rule, "name", rule_path)
        or opt_str(alert, "title", path)
        or opt_str(data, "description_title", "data")
    )
    if title is None:
        raise AdapterError(
            f"{rule_path}.name: missing; expected the alert rule's name (or "
            "data.metric_alert.title) for the title",
            f"{rule_path}.name",
        )
    return incident(
        FORMAT,
        root,
        id="sentry-metric-alert:" + scalar_text(ident, join(path, "id")),
        title=title,
        started_at=started,
        detectedAt=None if detected is None else timestamp(detected, join(path, "date_detected")),
        resolvedAt=resolved_at,
        status=status,
        environment=opt_str(rule, "environment", rule_path),
        severity=METRIC_SEVERITY.get(action),
        description=opt_str(data, "description_text", "data"),
        labels=with_derived({}, derived),
        links=[link("Sentry alert", opt_str(data, "web_url", "data"))],
        extra_source=extra_source,
    )


def _required(obj: dict[str, Any], key: str, path: str, expected: str) -> Any:
    value = obj.get(key)
    if value is None or value == "":
        raise AdapterError(f"{join(path, key)}: missing; expected {expected}", join(path, key))
    return value


def _text(obj: dict[str, Any], key: str, path: str) -> str | None:
    value = obj.get(key)
    return None if value in (None, "") else scalar_text(value, join(path, key))


def _event_id(event: dict[str, Any], path: str = "data.event") -> str:
    for key in ("issue_id", "event_id"):
        value = event.get(key)
        if value not in (None, ""):
            return scalar_text(value, join(path, key))
    raise AdapterError(
        f"{path}.issue_id: missing; expected the issue id (or an event_id)",
        f"{path}.issue_id",
    )


def _dated(event: dict[str, Any]) -> bool:
    return any(event.get(key) is not None for key in ("datetime", "timestamp", "received"))


def _received(received_at: datetime | None) -> str:
    return received("event.timestamp (the event carries no time)", received_at)


def _event_started(
    event: dict[str, Any], path: str = "data.event", received_at: datetime | None = None
) -> str:
    """The event's `datetime`, else its `timestamp` (epoch seconds); a legacy plugin event
    (`path` "event") may instead have only `received`, or no time (the receive time)."""
    if event.get("datetime") is not None:
        return timestamp(event["datetime"], join(path, "datetime"))
    if path == "event" and event.get("timestamp") is None:
        if event.get("received") is not None:
            return epoch(event["received"], "s", "event.received")
        return _received(received_at)
    return epoch(event.get("timestamp"), "s", join(path, "timestamp"))


def _tag_labels(tags: list[Any], at: str = "data.event.tags") -> dict[str, str]:
    labels = {}
    for index, pair in enumerate(tags):
        path = join(at, index)
        if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[0], str):
            raise fail(path, "a [key, value] pair", pair)
        if pair[1] is not None:
            labels[pair[0]] = scalar_text(pair[1], join(path, 1))
    return labels
