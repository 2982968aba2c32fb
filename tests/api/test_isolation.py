"""Two banks: every route tried by bank A's users on bank B's ids. Nothing of B may come
back, and nothing of B may change."""

from __future__ import annotations

import pytest

from mamori.govern.identity import ROLES
from tests.api.conftest import World
from tests.api.routes import ROUTES


def _secrets_of(world: World, tenant: str) -> list[str]:
    """Strings that only tenant's data contains: its ids and its users' names."""
    ids = world.alerts[tenant] + world.incidents[tenant]
    ids += [v for k, v in world.token_ids.items() if k.startswith(tenant)]
    return ids + [f"{tenant}-{role}" for role in ROLES]


@pytest.mark.parametrize("role", ROLES)
def test_bank_a_reads_and_writes_nothing_of_bank_b(world: World, role: str) -> None:
    services = world.client.app.state.services  # type: ignore[attr-defined]
    cases_before = services.cases.cases("bank-b", world.incidents["bank-b"])
    comments_before = services.cases.comments("bank-b", world.incidents["bank-b"][0])
    tokens_before = services.identity.tokens("bank-b")
    secrets = _secrets_of(world, "bank-b")
    for route in ROUTES:
        path = route.path.format(
            alert=world.alerts["bank-b"][0],
            incident=world.incidents["bank-b"][0],
            token=world.token_ids["bank-b-viewer"],
        )
        answer = world.client.request(
            route.method,
            path,
            json=route.json if route.json is None or "username" not in route.json
            else {**route.json, "username": f"iso-{role}-{route.method}"},
            content=route.content,
            headers={**world.auth(f"bank-a-{role}"),
                     **({"Content-Type": route.content_type} if route.content_type else {})},
        )
        # an id the caller sent may be echoed in the error; anything else of B is a leak
        leaked = [s for s in secrets if s in answer.text and s not in path]
        assert not leaked, (route, leaked)
        if "{" in route.path:  # a B id in the path: B's object is not there for A
            assert answer.status_code in (403, 404), (route, answer.status_code)
    assert services.cases.cases("bank-b", world.incidents["bank-b"]) == cases_before
    assert services.cases.comments("bank-b", world.incidents["bank-b"][0]) == comments_before
    assert services.identity.tokens("bank-b") == tokens_before


def test_hunting_cannot_reach_another_banks_files(world: World) -> None:
    services = world.client.app.state.services  # type: ignore[attr-defined]
    other = services.lake.root / "kind=auth" / "tenant=bank-b"
    for sql in (
        f"SELECT * FROM read_parquet('{other}/*/*.parquet')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "COPY (SELECT 1) TO '/tmp/x.csv'",
    ):
        answer = world.client.post(
            "/v1/hunt", json={"sql": sql}, headers=world.auth("bank-a-analyst")
        )
        assert answer.status_code == 400, sql
    answer = world.client.post(
        "/v1/hunt",
        json={"sql": "SELECT DISTINCT tenant FROM auth"},
        headers=world.auth("bank-a-analyst"),
    )
    assert [r["tenant"] for r in answer.json()["rows"]] == ["bank-a"]


def test_the_sector_sees_only_released_incidents_without_naming_the_bank(world: World) -> None:
    incident = world.incidents["bank-b"][0]
    sector = world.client.get("/v1/sector/incidents", headers=world.auth("sector-viewer"))
    assert incident not in sector.text
    answer = world.client.patch(
        f"/v1/incidents/{incident}", json={"released": True}, headers=world.auth("bank-b-admin")
    )
    assert answer.status_code == 200
    shared = world.client.get("/v1/sector/incidents", headers=world.auth("sector-viewer")).json()
    assert incident in [i["incident_id"] for i in shared["incidents"]]
    assert "bank-b" not in str(shared) and "cust-" not in str(shared)
    bank = world.client.get("/v1/sector/incidents", headers=world.auth("bank-a-admin"))
    assert bank.status_code == 403
