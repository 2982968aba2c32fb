"""The kept listing pages: a write through the server shows at once, tenants never share."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from mamori.api.app import create_app
from mamori.api.listings import ListingPages
from tests.api.conftest import settings_for_tests, stuffing_lines

NDJSON = {"Content-Type": "application/x-ndjson"}


@pytest.fixture(scope="module")
def banks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict]]:
    """Two banks on a server that keeps listing pages a whole minute."""
    app = create_app(settings_for_tests(tmp_path_factory.mktemp("pages"), listing_cache_s=60))
    identity = app.state.services.identity
    headers = {}
    with TestClient(app) as client:
        for bank in ("bank-a", "bank-b"):
            identity.create_tenant(bank)
            identity.create_user(bank, f"{bank}-responder", ["responder"])
            token, _ = identity.issue_token(f"{bank}-responder", "test")
            headers[bank] = {"Authorization": f"Bearer {token}"}
        yield client, headers


def _ingest(client: TestClient, headers: dict, bank: str, prefix: str) -> None:
    answer = client.post(
        "/v1/ingest?kind=auth", content=stuffing_lines(prefix), headers={**headers[bank], **NDJSON}
    )
    assert answer.status_code == 202, answer.text
    assert client.app.state.services.intake.wait_settled(bank, 60)  # type: ignore[attr-defined]


def test_the_engine_storing_alerts_drops_the_kept_pages(banks: tuple[TestClient, dict]) -> None:
    client, headers = banks
    before = client.get("/v1/alerts?limit=50", headers=headers["bank-a"]).json()["count"]
    assert client.get("/v1/incidents", headers=headers["bank-a"]).json()["count"] == 0
    _ingest(client, headers, "bank-a", "198.51.100")
    alerts = client.get("/v1/alerts?limit=50", headers=headers["bank-a"]).json()
    incidents = client.get("/v1/incidents", headers=headers["bank-a"]).json()
    assert before == 0 and alerts["count"] > 0 and incidents["count"] > 0
    assert {a["tenant"] for a in alerts["alerts"]} == {"bank-a"}


def test_a_case_change_shows_in_the_next_listing(banks: tuple[TestClient, dict]) -> None:
    client, headers = banks
    listed = client.get("/v1/incidents", headers=headers["bank-a"]).json()["incidents"]
    assert listed, "the first test ingests bank A's incidents"
    first = listed[0]["incident_id"]
    changed = client.patch(
        f"/v1/incidents/{first}", json={"status": "investigating"}, headers=headers["bank-a"]
    )
    assert changed.status_code == 200, changed.text
    again = client.get("/v1/incidents", headers=headers["bank-a"]).json()["incidents"]
    assert {i["incident_id"]: i["status"] for i in again}[first] == "investigating"


def test_tenants_never_share_a_page(banks: tuple[TestClient, dict]) -> None:
    client, headers = banks
    a = client.get("/v1/alerts?limit=50", headers=headers["bank-a"]).json()
    b = client.get("/v1/alerts?limit=50", headers=headers["bank-b"]).json()
    assert a["count"] > 0 and b == {"alerts": [], "count": 0}
    _ingest(client, headers, "bank-b", "203.0.113")
    b = client.get("/v1/alerts?limit=50", headers=headers["bank-b"]).json()
    assert b["count"] > 0 and {x["tenant"] for x in b["alerts"]} == {"bank-b"}
    assert not {x["alert_id"] for x in a["alerts"]} & {x["alert_id"] for x in b["alerts"]}


def test_an_aged_page_is_sent_while_its_successor_is_built_in_the_background() -> None:
    pages = ListingPages(ttl_s=0.05, max_stale_s=0.5)
    built: list[bytes] = []

    def build() -> bytes:
        built.append(f"v{len(built) + 1}".encode())
        return built[-1]

    assert pages.page("bank-a", "q", build) == b"v1"
    assert pages.page("bank-a", "q", build) == b"v1" and len(built) == 1  # kept
    time.sleep(0.06)
    assert pages.page("bank-a", "q", build) == b"v1"  # aged: still sent, rebuilt behind
    deadline = time.monotonic() + 5
    while pages.cached("bank-a", "q") != b"v2" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pages.cached("bank-a", "q") == b"v2" and len(built) == 2
    pages.changed("bank-b")
    assert pages.page("bank-a", "q", build) == b"v2"  # another tenant's change: kept
    pages.changed("bank-a")
    assert pages.page("bank-a", "q", build) == b"v3"  # its own: rebuilt before answering
    pages.close()


def test_a_page_past_its_longest_staleness_is_never_sent() -> None:
    pages = ListingPages(ttl_s=0.01, max_stale_s=0.05)
    pages.page("bank-a", "q", lambda: b"old")
    time.sleep(0.06)
    assert pages.page("bank-a", "q", lambda: b"new") == b"new"
    pages.close()


def test_a_page_built_while_its_tenant_changes_is_not_kept() -> None:
    pages = ListingPages(ttl_s=60)

    def build_during_a_write() -> bytes:
        pages.changed("bank-a")  # the engine stores alerts while the page is read
        return b"old"

    assert pages.page("bank-a", "q", build_during_a_write) == b"old"
    assert pages.cached("bank-a", "q") is None
    pages.close()


def test_no_page_is_kept_with_a_zero_time() -> None:
    pages = ListingPages(ttl_s=0)
    pages.page("bank-a", "q", lambda: b"x")
    assert pages.cached("bank-a", "q") is None
    pages.close()
