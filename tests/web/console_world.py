"""A bank for console tests: the real API app, demo users of every role, and incidents
written to the store as the engine would."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl

from mamori.api.app import create_app
from mamori.api.settings import ApiSettings
from mamori.events.schema import conform_alerts

PASSWORD = "correct horse battery"
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
#: username -> (tenant, roles)
USERS = {
    "aiko": ("bank-a", ["analyst"]),
    "ren": ("bank-a", ["responder"]),
    "sora": ("bank-a", ["responder"]),
    "kei": ("bank-a", ["auditor"]),
    "vic": ("bank-a", ["viewer"]),
    "bo": ("bank-b", ["responder"]),
    "cert": ("sector", ["analyst"]),
}


def console_app(data_dir: Path, **overrides: Any) -> Any:
    """The API app with cheap argon2, plain-HTTP cookies and the demo users."""
    values: dict[str, Any] = {
        "argon2_time_cost": 1,
        "argon2_memory_kib": 64,
        "secure_cookies": False,
        "rate_per_s": 10_000.0,
        "rate_burst": 10_000,
    }
    values.update(overrides)
    app = create_app(ApiSettings(data_dir, **values))
    identity = app.state.services.identity
    identity.create_tenant("bank-a", "Bank A")
    identity.create_tenant("bank-b", "Bank B")
    identity.create_tenant("sector", "Sector CERT", kind="sector")
    for name, (tenant, roles) in USERS.items():
        identity.create_user(tenant, name, roles, password=PASSWORD)
    return app


def add_incident(
    app: Any, tenant: str, incident_id: str, title: str, *, level: int = 4, minute: int = 0
) -> None:
    """One incident of two alerts (a card and its customer, linked) as the engine stores it."""
    store = app.state.services.store
    time = T0 + dt.timedelta(minutes=minute)
    alerts = conform_alerts(
        pl.DataFrame(
            {
                "alert_id": [f"{incident_id}-a1", f"{incident_id}-a2"],
                "tenant": [tenant, tenant],
                "time": [time, time + dt.timedelta(minutes=3)],
                "detector": ["fraud", "rules"],
                "rule_id": ["FR-1", "MR-CARD-2"],
                "title": ["Card testing <script>alert(1)</script>", "Burst of declines"],
                "severity": ["high", "medium"],
                "score": [0.91, 0.6],
                "entity_type": ["card", "customer"],
                "entity_id": [f"{incident_id}-4111", f"{incident_id}-c9"],
                "related": [[f"customer:{incident_id}-c9"], [f"card:{incident_id}-4111"]],
                "attack": [["T1110"], []],
                "explanation": ["12 declines in 3 minutes", "declines on 4 merchants"],
            }
        )
    )
    store.add_alerts(alerts)
    risk = {1: 10, 2: 30, 3: 50, 4: 70, 5: 90}[level]
    incidents = pl.DataFrame(
        {
            "incident_id": [incident_id],
            "tenant": [tenant],
            "first_seen": [time],
            "last_seen": [time + dt.timedelta(minutes=3)],
            "title": [title],
            "risk": [risk],
            "level": [level],
            "stages": [["card_testing"]],
            "entities": [[f"card:{incident_id}-4111", f"customer:{incident_id}-c9"]],
            "reasons": [["high fraud alert: 55"]],
            "alert_count": [2],
            "detectors": [["fraud", "rules"]],
            "updated_at": [dt.datetime.now(dt.UTC)],
        }
    )
    links = pl.DataFrame(
        {"incident_id": [incident_id] * 2, "alert_id": [f"{incident_id}-a1", f"{incident_id}-a2"]}
    )
    store.upsert_incidents(incidents, links)
