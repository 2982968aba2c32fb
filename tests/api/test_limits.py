"""Request size limits, rate limits, JSON errors, health and metrics."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from mamori.api.app import create_app
from tests.api.conftest import World, settings_for_tests


def test_bodies_over_the_limit_get_413_before_being_read(tmp_path: Path) -> None:
    app = create_app(settings_for_tests(tmp_path, max_body_bytes=1000, max_ingest_bytes=5000))
    with TestClient(app) as client:
        big = client.post("/v1/auth/login", content=b"x" * 1001)
        assert big.status_code == 413 and "1,000 bytes" in big.json()["error"]["message"]
        ingest = client.post("/v1/ingest", content=b"x" * 4000)
        assert ingest.status_code == 401  # under the ingest allowance: on to authentication

        def chunks():  # no Content-Length: counted while streaming
            for _ in range(10):
                yield b"y" * 1000

        streamed = client.post("/v1/auth/login", content=chunks())
        assert streamed.status_code == 413


def test_a_caller_past_its_rate_gets_429_with_retry_after(tmp_path: Path) -> None:
    app = create_app(settings_for_tests(tmp_path, rate_per_s=1.0, rate_burst=5))
    with TestClient(app) as client:
        codes = [client.get("/healthz").status_code for _ in range(8)]
        assert codes[:5] == [200] * 5 and codes[5:] == [429] * 3
        refused = client.get("/healthz")
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["error"]["status"] == 429


def test_errors_are_json_with_a_message(world: World) -> None:
    answer = world.client.get("/v1/alerts?limit=0", headers=world.auth("bank-a-viewer"))
    assert answer.status_code == 422
    assert "limit" in answer.json()["error"]["message"]
    missing = world.client.get("/v1/nothing-here")
    assert missing.json() == {"error": {"status": 404, "message": "Not Found"}}


def test_health_and_metrics(world: World) -> None:
    assert world.client.get("/v1/health").json()["status"] == "ok"
    world.client.get("/v1/alerts", headers=world.auth("bank-a-viewer"))
    page = world.client.get("/metrics").text
    assert 'mamori_http_requests_total{method="GET",route="/v1/alerts",status="200"}' in page
    assert "bank-a" not in page
    assert 'mamori_ingest_events_total{outcome="accepted"}' in page
