"""The service's Prometheus metrics, in a registry of its own (one per app)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """Counters of intake and delivery, the intake latency, and gauges read from the store."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "playbook_intake_requests",
            "Intake requests by route source and HTTP status.",
            ["source", "status"],
            registry=self.registry,
        )
        self.alerts = Counter(
            "playbook_intake_alerts", "Alerts stored.", ["source"], registry=self.registry
        )
        self.latency = Histogram(
            "playbook_intake_seconds",
            "Time from request start to the committed answer.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.timers = Counter(
            "playbook_timers", "Timers handled by outcome.", ["outcome"], registry=self.registry
        )
        self.deliveries = Counter(
            "playbook_deliveries", "Delivery attempts by state.", ["state"], registry=self.registry
        )
        self.open_incidents = Gauge(
            "playbook_open_incidents", "Open incidents.", registry=self.registry
        )
        self.store_up = Gauge(
            "playbook_store_up", "1 when the store answers.", registry=self.registry
        )
