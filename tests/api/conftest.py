"""Two banks and a sector on one API server, with a user and token for every role.

Each bank ingests the same credential-stuffing burst (so each has alerts and an incident),
through the HTTP ingest route, and the engine is waited for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from mamori.api.app import create_app
from mamori.api.settings import ApiSettings
from mamori.govern.identity import ROLES

BANKS = ("bank-a", "bank-b")
PASSWORD = "correct horse battery"
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def stuffing_lines(prefix: str = "198.51.100", users: int = 8, tries: int = 3) -> bytes:
    """Failed logins for many customers from one /24: MR-AUTH-001 fires."""
    events = []
    for i in range(users * tries):
        events.append(
            {
                "time": (T0 + dt.timedelta(seconds=10 * i)).isoformat(),
                "user": f"cust-{i % users}",
                "app": "online_banking",
                "action": "login",
                "outcome": "failure",
                "src_ip": f"{prefix}.{1 + i % 5}",
                "device": f"dev-{i % users}",
                "country": "JP",
            }
        )
    return b"\n".join(orjson.dumps(e) for e in events)


def settings_for_tests(data_dir: Path, **overrides: object) -> ApiSettings:
    """Settings for tests: cheap argon2, plain-HTTP cookies, fast engine turns."""
    values: dict[str, object] = {
        "argon2_time_cost": 1,
        "argon2_memory_kib": 64,
        "secure_cookies": False,
        "incident_every_s": 0.1,
        "checkpoint_every_s": 0.1,
        "rate_per_s": 10_000.0,
        "rate_burst": 10_000,
    }
    values.update(overrides)
    return ApiSettings(data_dir, **values)  # type: ignore[arg-type]


@dataclass
class World:
    """The server and what each bank holds."""

    client: TestClient
    tokens: dict[str, str] = field(default_factory=dict)  # username -> token
    token_ids: dict[str, str] = field(default_factory=dict)
    alerts: dict[str, list[str]] = field(default_factory=dict)  # tenant -> alert ids
    incidents: dict[str, list[str]] = field(default_factory=dict)

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("api")
    app = create_app(settings_for_tests(data_dir))
    services = app.state.services
    identity = services.identity
    with TestClient(app) as client:
        found = World(client)
        identity.create_tenant("sector", "Sector CERT", kind="sector")
        identity.create_user("sector", "sector-viewer", ["viewer"], password=PASSWORD)
        token, record = identity.issue_token("sector-viewer", "test")
        found.tokens["sector-viewer"], found.token_ids["sector-viewer"] = token, record["token_id"]
        for bank in BANKS:
            identity.create_tenant(bank)
            for role in ROLES:
                name = f"{bank}-{role}"
                identity.create_user(bank, name, [role], password=PASSWORD)
                token, record = identity.issue_token(name, "test")
                found.tokens[name], found.token_ids[name] = token, record["token_id"]
            answer = client.post(
                "/v1/ingest?kind=auth",
                content=stuffing_lines(),
                headers={**found.auth(f"{bank}-analyst"), "Content-Type": "application/x-ndjson"},
            )
            assert answer.status_code == 202, answer.text
            assert services.intake.wait_settled(bank, 60)
            found.alerts[bank] = [a["alert_id"] for a in services.store.alerts(bank).to_dicts()]
            found.incidents[bank] = services.store.incidents(bank)["incident_id"].to_list()
            assert found.alerts[bank] and found.incidents[bank]
        yield found
