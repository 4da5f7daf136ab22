"""Alert payloads → the alerts of incident groups (`AlertIn`), ready for the store.

Grouping: an Alertmanager or Grafana notification carries `groupKey`, the group its route made;
every alert of that group belongs to one incident, as Alertmanager groups them. Other formats
have no groups: each alert (its adapter id: dedup key, alert id, issue id) is its own group.
Canonical incidents posted to `/v1/incidents` are grouped by their `id`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from playbook_engine.serve.ports import AlertIn

GROUPED_FORMATS = ("alertmanager", "grafana")
MAX_ALERTS = 1000
"""Alerts per payload; more is refused (Alertmanager's own default `max_alerts` is 0 = all, but
a notification of a thousand alerts is a bug or an attack)."""


class PayloadError(ValueError):
    """A payload that cannot be taken: the message says what and where (answered with 4xx)."""


def receipt_key(route: str, body: bytes) -> str:
    """The idempotency key of a delivery: the same body to the same route is a repeat."""
    return hashlib.sha256(route.encode() + b"\0" + body).hexdigest()


def alerts_of(
    fmt: str,
    body: bytes,
    mappings: Mapping[str, Any],
    received_at: datetime,
    grouped: bool = False,
) -> list[AlertIn]:
    """The alerts of a payload in format `fmt` (a built-in format or a mapping id); `grouped`
    makes an Alertmanager or Grafana notification one alert (the library's alertGrouping)."""
    from playbook_engine import adapters

    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PayloadError(f"payload: not valid JSON: {exc}") from None
    try:
        if fmt in mappings:
            converted = adapters.convert_generic(payload, mappings[fmt], received_at)
        elif fmt in adapters.FORMATS:
            converted = adapters.convert(payload, fmt, received_at, grouped)
        else:
            known = ", ".join([*adapters.FORMATS, *sorted(mappings)])
            raise PayloadError(f"unknown format {fmt!r}; one of: {known}")
    except adapters.AdapterError as exc:
        raise PayloadError(str(exc)) from None
    if len(converted) > MAX_ALERTS:
        raise PayloadError(f"payload: {len(converted)} alerts; at most {MAX_ALERTS} at once")
    group_key = payload.get("groupKey") if isinstance(payload, dict) else None
    # Each alert keeps its whole `source` (the notification too): conditions and templates
    # read `incident.source.payload` as in `playbook run --from`. Only an incident's first
    # alert is stored as its data, so a big notification is kept once per incident.
    alerts = []
    for data in converted:
        if fmt in GROUPED_FORMATS and isinstance(group_key, str) and group_key:
            group = f"{fmt}:{group_key}"
        else:
            group = f"{fmt}:{data['id']}"
        firing = data.get("status") != "resolved"
        alerts.append(AlertIn(group, str(data["id"]), firing, data))
    return alerts


def canonical_alerts(body: bytes) -> list[AlertIn]:
    """The alerts of a canonical incident, or a JSON list of them (`POST /v1/incidents`)."""
    from playbook_engine.diagnostics import InputError
    from playbook_engine.load.incident import build_incident, pointer_span

    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PayloadError(f"incident: not valid JSON: {exc}") from None
    items = payload if isinstance(payload, list) else [payload]
    if len(items) > MAX_ALERTS:
        raise PayloadError(f"incidents: {len(items)}; at most {MAX_ALERTS} at once")
    alerts = []
    for index, item in enumerate(items):
        where = f"incident[{index}]" if isinstance(payload, list) else "incident"
        if not isinstance(item, dict):
            raise PayloadError(f"{where}: expected a JSON object")
        try:
            build_incident(dict(item), pointer_span(where))
        except InputError as exc:
            messages = "; ".join(f"{d.message}" for d in exc.diagnostics)
            raise PayloadError(f"{where}: {messages}") from None
        ident = str(item["id"])
        alerts.append(AlertIn(f"incident:{ident}", ident, item.get("status") != "resolved", item))
    return alerts
