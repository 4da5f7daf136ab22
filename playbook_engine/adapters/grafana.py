"""Grafana unified alerting webhook → one incident per alert.

Follows the "Webhook JSON payload" example of Grafana's webhook notifier documentation
(grafana.com/docs/grafana/latest/alerting/configure-notifications/manage-contact-points/
integrations/webhook-notifier/): Alertmanager's shape (`receiver`, `status`, `alerts[]`,
`groupLabels`, `commonLabels`, `commonAnnotations`, `externalURL`, `groupKey`,
`truncatedAlerts`) plus `orgId`, `title`, `state`, `message`, and per alert `silenceURL`,
`dashboardURL`, `panelURL`, `values` / `valueString`.

The mapping is Alertmanager's (see `alertmanager.py`): one incident per alert, status from the
alert's `status`, `resolvedAt` from `endsAt` only when resolved. Grafana's own URLs become links
(empty strings, which Grafana sends for alerts without a dashboard, are skipped).
"""

from __future__ import annotations

from typing import Any

from .alertmanager import convert_alerts
from .common import link, opt_str

FORMAT = "grafana"


def convert(payload: Any) -> list[dict[str, Any]]:
    """One canonical incident per alert of a Grafana alerting webhook notification."""
    return convert_alerts(payload, FORMAT, _links)


def _links(alert: dict[str, Any], path: str) -> list[dict[str, str] | None]:
    return [
        link("Dashboard", opt_str(alert, "dashboardURL", path)),
        link("Panel", opt_str(alert, "panelURL", path)),
        link("Silence", opt_str(alert, "silenceURL", path)),
    ]
