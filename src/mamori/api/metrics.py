"""Prometheus metrics of one API server, in its own registry (served at ``/metrics``).

No label names a tenant, so the page can be scraped without leaking who the bank's peers
are; per-tenant figures are in each tenant's own ``/v1/ingest/status``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["ApiMetrics"]


class ApiMetrics:
    """Request counts and latencies, and ingest counts."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mamori_http_requests",
            "HTTP requests by route template, method and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mamori_http_request_seconds",
            "HTTP request latency by route template",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
            registry=self.registry,
        )
        self.ingested = Counter(
            "mamori_ingest_events",
            "Events received over HTTP by outcome (accepted, quarantined)",
            ["outcome"],
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def ingest(self, accepted: int, quarantined: int) -> None:
        """Count one ingest batch's events."""
        self.ingested.labels("accepted").inc(accepted)
        self.ingested.labels("quarantined").inc(quarantined)

    def page(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)
