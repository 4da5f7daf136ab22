"""Prometheus Alertmanager webhook (payload version 4) → one incident per alert.

Follows the `webhook_config` payload in the Prometheus documentation
(prometheus.io/docs/alerting/latest/configuration/#webhook_config) and the sample v4 payload
shipped by the `alertmanager-webhook-types` crate: top-level `receiver`, `status`, `alerts[]`,
`groupLabels`, `commonLabels`, `commonAnnotations`, `externalURL`, `version: "4"`, `groupKey`,
`truncatedAlerts`; each alert has `status` (firing | resolved), `labels`, `annotations`,
`startsAt`, `endsAt`, `generatorURL`, `fingerprint`.

A notification groups several alerts; each becomes its own incident (they may be different
problems that happen to share a route). `source.payload` is the whole notification, so
conditions can read `incident.source.payload.commonLabels.alertname`; `source.alert` is the
alert the incident came from and `source.index` its position in `alerts`.

The alert's labels are the incident's labels, unchanged; the `severity` label's word, made
canonical when it is a conventional one (`page` → `critical`), is the incident's `severity`.

An alert without `status` (Alertmanagers before per-alert status, hand-written payloads) is
resolved when the notification is, or when its `endsAt` is not after the receive time (as
Alertmanager decides), else firing as the notification says.

`endsAt` is `0001-01-01T00:00:00Z` while an alert has no known end, and Prometheus also sends
a provisional end in the future for alerts that are still firing, so `resolvedAt` is taken from
`endsAt` only when the alert's status is `resolved`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from playbook_engine.adapters.common import (
    CONVENTIONAL_SEVERITY,
    AdapterError,
    canonical_severity,
    choose,
    incident,
    join,
    link,
    mapping,
    opt_mapping,
    opt_str,
    req_list,
    req_str,
    service_and_environment,
    str_labels,
    timestamp,
)
from playbook_engine.timeparse import format_timestamp, parse_timestamp

FORMAT = "alertmanager"
STATUS = {"firing": "triggered", "resolved": "resolved"}
ZERO_TIME = "0001-01-01T00:00:00Z"

# A format's own links and metrics for one alert, given the alert and its path.
Extras = Callable[[dict[str, Any], str], tuple[list[dict[str, str] | None], dict[str, float]]]


def convert(payload: Any, received_at: datetime | None = None) -> list[dict[str, Any]]:
    """One canonical incident per alert of an Alertmanager webhook notification;
    `received_at` is the end of a resolved alert whose `endsAt` says none."""
    return convert_alerts(payload, FORMAT, _no_extras, received_at)


def _no_extras(
    alert: dict[str, Any], path: str
) -> tuple[list[dict[str, str] | None], dict[str, float]]:
    return [], {}


def convert_alerts(
    payload: Any, fmt: str, extras: Extras, received_at: datetime | None = None
) -> list[dict[str, Any]]:
    """The incidents of an Alertmanager-shaped payload (also used for Grafana's)."""
    root = mapping(payload, "", "an alert notification (a JSON object with alerts)")
    alerts = req_list(root, "alerts", "", "alerts")
    return [
        _incident(root, mapping(alert, join("alerts", i)), i, fmt, extras, received_at)
        for i, alert in enumerate(alerts)
    ]


def _incident(
    root: dict[str, Any],
    alert: dict[str, Any],
    index: int,
    fmt: str,
    extras: Extras,
    received_at: datetime | None = None,
) -> dict[str, Any]:
    path = join("alerts", index)
    labels = str_labels(opt_mapping(alert, "labels", path), join(path, "labels"))
    annotations = str_labels(opt_mapping(alert, "annotations", path), join(path, "annotations"))
    if alert.get("status") is None:
        status_word = _implied_status(root, alert, path, received_at)
    else:
        status_word = req_str(alert, "status", path, "firing or resolved")
    status = choose(status_word, STATUS, join(path, "status"), "alert status")
    # The alert's identity: its fingerprint, else the one Alertmanager computes from its
    # labels (so one alert keeps its id whatever its position in a notification).
    incident_id = opt_str(alert, "fingerprint", path) or labels_fingerprint(labels)
    title = annotations.get("summary") or labels.get("alertname")
    if not title:
        raise AdapterError(
            f"{join(path, 'labels.alertname')}: missing; expected annotations.summary or "
            "labels.alertname for the title",
            join(path, "labels.alertname"),
        )
    resolved_at = None
    if status == "resolved":
        ends = alert.get("endsAt")
        if ends is not None and ends != ZERO_TIME:
            resolved_at = timestamp(ends, join(path, "endsAt"))
        elif received_at is not None:  # resolved, with no end said: when we heard of it
            resolved_at = format_timestamp(received_at)
    service, environment = service_and_environment(labels)
    generator = _absolute(opt_str(alert, "generatorURL", path), root)
    links, metrics = extras(alert, path)
    return incident(
        fmt,
        root,
        id=incident_id,
        title=title,
        started_at=timestamp(alert.get("startsAt"), join(path, "startsAt")),
        resolvedAt=resolved_at,
        status=status,
        service=service,
        environment=environment,
        severity=canonical_severity(labels.get("severity") or None, CONVENTIONAL_SEVERITY),
        description=annotations.get("description") or annotations.get("message"),
        metrics=metrics or None,
        labels=labels,
        links=[
            link("Source", generator),
            link("Runbook", annotations.get("runbook_url")),
            *links,
        ],
        extra_source={"alert": alert, "index": index},
        warnings=_truncated(root),
    )


def _absolute(url: str | None, root: dict[str, Any]) -> str | None:
    """`url` made absolute against the notification's `externalURL` when it is relative
    (Grafana 12's test alerts send `generatorURL: "?orgId=1"`); kept as sent when absolute or
    when there is no `externalURL` to resolve it against."""
    if url is None or urlsplit(url).scheme:
        return url
    base = root.get("externalURL")
    if not isinstance(base, str) or not urlsplit(base).scheme:
        return url
    return urljoin(base, url)


def _implied_status(
    root: dict[str, Any], alert: dict[str, Any], path: str, received_at: datetime | None
) -> str:
    """The status of an alert that states none (older Alertmanagers sent none per alert, and
    hand-written payloads often leave it out), by Alertmanager's own rules: a notification
    whose `status` is `resolved` has only resolved alerts; an alert whose `endsAt` is set and
    not after the receive time is resolved; otherwise it fires as the notification says."""
    group = root.get("status")
    if group == "resolved":
        return "resolved"
    ends = alert.get("endsAt")
    if received_at is not None and ends not in (None, ZERO_TIME):
        if parse_timestamp(timestamp(ends, join(path, "endsAt"))) <= received_at:
            return "resolved"
    if group == "firing":
        return "firing"
    raise AdapterError(
        f"{join(path, 'status')}: missing, and the notification's status "
        f"({'missing' if group is None else repr(group)}) does not say it; expected firing or "
        "resolved",
        join(path, "status"),
    )


def _truncated(root: dict[str, Any]) -> list[str]:
    """A note when Alertmanager dropped alerts of the group (`truncatedAlerts`, with the
    receiver's `max_alerts`): the plan must not look complete."""
    count = root.get("truncatedAlerts")
    if isinstance(count, int) and not isinstance(count, bool) and count > 0:
        return [f"Alertmanager left {count} more alert(s) of this group out (truncatedAlerts)"]
    return []


_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_SEPARATOR = 0xFF


def labels_fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's fingerprint of a label set (prometheus/common `model.LabelSet.
    Fingerprint`): 64-bit FNV-1a over the sorted names and values, each followed by 0xff,
    as 16 hex digits. It equals the `fingerprint` Alertmanager sends (checked against a
    real payload in tests/test_adapters.py)."""
    value = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in (*part.encode("utf-8"), _SEPARATOR):
                value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{value:016x}"


# Canonical severities, worst first: a group is as severe as its worst alert.
_SEVERITY_ORDER = ("critical", "high", "warning", "info")


def group_incident(incidents: list[dict[str, Any]], payload: Any, fmt: str) -> dict[str, Any]:
    """One incident for a whole notification (an Alertmanager or Grafana group): the group's
    identity (its `groupKey`), the common labels, the earliest start, the worst severity,
    triggered while any alert fires, and its alerts listed in `source.alerts`."""
    root = payload if isinstance(payload, dict) else {}
    key = root.get("groupKey") if isinstance(root.get("groupKey"), str) else None
    if not key:  # no groupKey: the alerts' own ids, sorted, name the group
        key = "\n".join(sorted(str(i["id"]) for i in incidents))
    common = root.get("commonLabels")
    labels = (
        {str(k): v for k, v in common.items() if isinstance(v, str)}
        if isinstance(common, dict)
        else {}
    )
    annotations = root.get("commonAnnotations")
    annotations = annotations if isinstance(annotations, dict) else {}
    first = min(incidents, key=lambda i: (i["startedAt"], i["id"]))
    title = annotations.get("summary") or labels.get("alertname") or first["title"]
    if len(incidents) > 1:
        title = f"{title} ({len(incidents)} alerts)"
    firing = [i for i in incidents if i.get("status") != "resolved"]
    severities = [i["severity"] for i in incidents if i.get("severity") in _SEVERITY_ORDER]
    resolved = [i.get("resolvedAt") for i in incidents]
    service, environment = service_and_environment(labels)
    return incident(
        fmt,
        payload,
        id=f"{fmt}-group:{hashlib.sha256(key.encode()).hexdigest()[:16]}",
        title=str(title),
        started_at=first["startedAt"],
        status="triggered" if firing else "resolved",
        resolvedAt=None if firing or not all(resolved) else max(str(r) for r in resolved),
        severity=min(severities, key=_SEVERITY_ORDER.index) if severities else None,
        service=service,
        environment=environment,
        labels=labels,
        extra_source={
            "groupKey": key,
            "alerts": [
                {
                    name: i[name]
                    for name in ("id", "title", "status", "startedAt", "severity")
                    if name in i
                }
                for i in incidents
            ],
        },
    )
