"""Every route of the API with the permission it needs, for the role and isolation suites."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # {alert}, {incident}, {token} are filled with a tenant's ids
    permission: str | None  # None: any authenticated caller
    json: Any = None
    content: bytes | None = None
    content_type: str | None = None


ROUTES = (
    Route("GET", "/v1/auth/me", None),
    Route("GET", "/v1/auth/tokens", None),
    Route("POST", "/v1/auth/tokens", None, json={"name": "t"}),
    Route("DELETE", "/v1/auth/tokens/{token}", "manage_users"),
    Route("GET", "/v1/users", "manage_users"),
    Route("POST", "/v1/users", "manage_users", json={"username": "x{n}", "roles": ["viewer"]}),
    Route(
        "POST",
        "/v1/ingest?kind=flow",
        "ingest",
        content=b'{"time": "2026-11-02T10:00:00Z", "src_ip": "10.9.9.9"}',
        content_type="application/x-ndjson",
    ),
    Route("GET", "/v1/ingest/status", "ingest"),
    Route("GET", "/v1/alerts", "read"),
    Route("GET", "/v1/alerts/{alert}", "read"),
    Route("GET", "/v1/incidents", "read"),
    Route("GET", "/v1/incidents/{incident}", "read"),
    Route("PATCH", "/v1/incidents/{incident}", "work_cases", json={"status": "investigating"}),
    Route("PATCH", "/v1/incidents/{incident}", "release", json={"released": True}),
    Route("GET", "/v1/incidents/{incident}/comments", "read"),
    Route("POST", "/v1/incidents/{incident}/comments", "work_cases", json={"body": "seen"}),
    Route("GET", "/v1/entities/ip/198.51.100.1", "read"),
    Route("POST", "/v1/hunt", "hunt", json={"sql": "SELECT count(*) AS n FROM auth"}),
    Route("GET", "/report", "read"),
    Route("POST", "/v1/incidents/{incident}/triage", "work_cases", json={"provider": "offline"}),
    Route("GET", "/v1/incidents/{incident}/triage", "read"),
    Route("GET", "/v1/audit", "read_audit"),
    Route("GET", "/v1/audit/verify", "read_audit"),
)
