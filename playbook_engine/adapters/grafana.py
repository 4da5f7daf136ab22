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
the incident's `metrics`. `valueString`, the older text form of the same numbers, is not parsed.
"""

from __future__ import annotations

import math
from typing import Any

from playbook_engine.adapters.alertmanager import convert_alerts
from playbook_engine.adapters.common import fail, join, link, opt_mapping, opt_str

FORMAT = "grafana"


def convert(payload: Any) -> list[dict[str, Any]]:
    """One canonical incident per alert of a Grafana alerting webhook notification."""
    return convert_alerts(payload, FORMAT, _extras)


def _extras(
    alert: dict[str, Any], path: str
) -> tuple[list[dict[str, str] | None], dict[str, float]]:
    links = [
        link("Dashboard", opt_str(alert, "dashboardURL", path)),
        link("Panel", opt_str(alert, "panelURL", path)),
        link("Silence", opt_str(alert, "silenceURL", path)),
    ]
    return links, _metrics(opt_mapping(alert, "values", path), join(path, "values"))


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
