"""Grafana unified alerting webhook → one incident per alert.

Follows the "Webhook JSON payload" example of Grafana's webhook notifier documentation
(grafana.com/docs/grafana/latest/alerting/configure-notifications/manage-contact-points/
integrations/webhook-notifier/): Alertmanager's shape (`receiver`, `status`, `alerts[]`,
`groupLabels`, `commonLabels`, `commonAnnotations`, `externalURL`, `groupKey`,
`truncatedAlerts`) plus `orgId`, `title`, `state`, `message`, and per alert `silenceURL`,
`dashboardURL`, `panelURL`, `values` / `valueString`.

The mapping is Alertmanager's (see `alertmanager.py`): one incident per alert, status from the
alert's `status`, `resolvedAt` from `endsAt` only when resolved. Grafana's own URLs become links
(empty strings, which Grafana sends for alerts without a dashboard, are skipped), and the
alert's `values` (the number each query or expression gave, by its ref id: `{"B": 44.2}`) become
the incident's `metrics`. An alert without `values` (Grafana 8 sends only the text form) has
its `valueString` read instead: `[ var='B' labels={instance=a} value=97.5 ], [ ... ]` gives
`{"B": 97.5}`; an entry with a `metric='name'` and no `var` is named by its metric.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from playbook_engine.adapters.alertmanager import convert_alerts
from playbook_engine.adapters.common import (
    choose,
    fail,
    incident,
    join,
    link,
    mapping,
    opt_list,
    opt_mapping,
    opt_str,
    received,
    req_str,
    str_labels,
    with_derived,
)

FORMAT = "grafana"


def convert(payload: Any, received_at: datetime | None = None) -> list[dict[str, Any]]:
    """One canonical incident per alert of a Grafana alerting webhook notification; a legacy
    (before Grafana 8) notification gives one incident, started at its receive time."""
    if isinstance(payload, dict) and "alerts" not in payload and "ruleName" in payload:
        return [_legacy(payload, received_at)]
    return convert_alerts(payload, FORMAT, _extras, received_at)


LEGACY_STATUS = {
    "alerting": "triggered",
    "no_data": "triggered",
    "pending": "triggered",
    "ok": "resolved",
    "paused": "resolved",
}


def _legacy(root: dict[str, Any], received_at: datetime | None) -> dict[str, Any]:
    """The legacy webhook (Grafana 4-7; docs.grafana.org/alerting/notifications/#webhook):
    `title`, `ruleId`, `ruleName`, `ruleUrl`, `state`, `imageUrl`, `message`, `evalMatches[]`
    (`metric`, `value`, `tags`), `tags`. It carries no time: the receive time is the start (and
    the resolution of an `ok`). `evalMatches` become metrics by their metric name; `tags`
    (a map) become labels; the id is the rule's (`grafana-rule:` + `ruleId`, else its URL or
    name), so an alerting and the later ok notification are one incident."""
    state = req_str(root, "state", "", "alerting, ok, no_data, pending or paused")
    status = choose(state, LEGACY_STATUS, "state", "legacy alert state")
    name = req_str(root, "ruleName", "", "the alert rule's name")
    now = received("startedAt (the legacy webhook carries no time)", received_at)
    rule_id = root.get("ruleId")
    ident = (
        f"grafana-rule:{rule_id}"
        if isinstance(rule_id, int) and not isinstance(rule_id, bool) and rule_id > 0
        else opt_str(root, "ruleUrl", "") or f"grafana-rule:{name}"
    )
    metrics: dict[str, float] = {}
    for index, match in enumerate(opt_list(root, "evalMatches", "")):
        entry = mapping(match, join("evalMatches", index), "a match like {metric, value}")
        value, metric = entry.get("value"), entry.get("metric")
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if isinstance(metric, str) and metric and math.isfinite(value):
            metrics[metric] = float(value)
    tags = root.get("tags")
    labels = str_labels(tags, "tags") if isinstance(tags, dict) else {}
    return incident(
        FORMAT,
        root,
        id=ident,
        title=name,
        started_at=now,
        resolvedAt=now if status == "resolved" else None,
        status=status,
        description=opt_str(root, "message", ""),
        metrics=metrics or None,
        labels=with_derived(labels, {"state": state}),
        links=[
            link("Alert rule", opt_str(root, "ruleUrl", "")),
            link("Panel image", opt_str(root, "imageUrl", "")),
        ],
        extra_source={"receivedAt": now},
    )


def _extras(
    alert: dict[str, Any], path: str
) -> tuple[list[dict[str, str] | None], dict[str, float]]:
    links = [
        link("Dashboard", opt_str(alert, "dashboardURL", path)),
        link("Panel", opt_str(alert, "panelURL", path)),
        link("Silence", opt_str(alert, "silenceURL", path)),
    ]
    values = opt_mapping(alert, "values", path)
    if values:
        return links, _metrics(values, join(path, "values"))
    return links, value_string_metrics(opt_str(alert, "valueString", path) or "")


# One `[ ... ]` entry of a valueString (no brackets inside: linear time on any text), ending in
# `value=N`; before it `var='B'`, `metric='name'`, `labels={...}` and, since Grafana 10,
# `type='query'`, in any order.
_VALUE_ENTRY = re.compile(r"\[([^\[\]]*)\]")
_VALUE = re.compile(r"(?:^|\s)value=(\S+)\s*$")
_VALUE_NAME = re.compile(r"(?:^|\s)(?P<key>var|metric)='(?P<name>[^']*)'")


def value_string_metrics(text: str) -> dict[str, float]:
    """The numbers of a Grafana `valueString`, by the entry's `var` (else its `metric`); an
    entry without a finite number (`value=null`, `NaN`) or a name is skipped, and the first
    of two entries with one name is kept. Text of another form gives no metrics."""
    metrics: dict[str, float] = {}
    for entry in _VALUE_ENTRY.finditer(text):
        found = _VALUE.search(entry[1])
        if found is None:
            continue
        names = {m["key"]: m["name"] for m in _VALUE_NAME.finditer(entry[1])}
        name = names.get("var") or names.get("metric")
        try:
            number = float(found[1])
        except ValueError:
            continue
        if name and math.isfinite(number) and name not in metrics:
            metrics[name] = number
    return metrics


def _metrics(values: dict[str, Any], path: str) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for ref, value in values.items():
        if value is None:
            continue  # a query that returned no number
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value):
            raise fail(join(path, ref), "a finite number", value)
        metrics[ref] = value
    return metrics
