"""HTTP ingest: validation and quarantine counts, JSON and JSON lines, engine results."""

from __future__ import annotations

import orjson

from tests.api.conftest import World, stuffing_lines


def _post(world: World, body: bytes, user: str = "bank-a-analyst", **params: str):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return world.client.post(
        f"/v1/ingest?{query}",
        content=body,
        headers={**world.auth(user), "Content-Type": "application/x-ndjson"},
    )


def test_the_engine_turned_the_burst_into_alerts_and_an_incident(world: World) -> None:
    services = world.client.app.state.services  # type: ignore[attr-defined]
    alerts = services.store.alerts("bank-a")
    assert "MR-AUTH-001" in alerts["rule_id"].to_list()
    assert services.lake.count("auth", "bank-a") == 24
    status = world.client.get("/v1/ingest/status", headers=world.auth("bank-a-analyst")).json()
    assert status["processed_events"] >= 24 and status["pending_events"] == 0


def test_counts_add_up_with_bad_lines_quarantined_by_position(world: World) -> None:
    lines = stuffing_lines(prefix="203.0.113", users=2, tries=1).split(b"\n")
    body = b"\n".join([lines[0], b'{"time": "yesterday", "user": "x"}', b"not json", lines[1]])
    answer = _post(world, body, kind="auth").json()
    assert (answer["read"], answer["accepted"], answer["quarantined"]) == (4, 2, 2)
    assert answer["by_reason"] == {"unparseable_time": 1, "broken_json": 1}
    assert answer["by_kind"] == {"auth": 2}


def test_records_naming_another_tenant_are_quarantined_not_stored(world: World) -> None:
    services = world.client.app.state.services  # type: ignore[attr-defined]
    before = services.lake.count("flow", "bank-b")
    event = {"time": "2026-11-02T10:00:00Z", "kind": "flow", "src_ip": "10.0.0.1"}
    body = orjson.dumps({**event, "tenant": "bank-b"}) + b"\n" + orjson.dumps(event)
    answer = _post(world, body).json()
    assert answer["by_reason"] == {"foreign_tenant": 1}
    assert (answer["read"], answer["accepted"]) == (2, 1)
    assert services.intake.wait_settled("bank-a", 30)
    assert services.lake.count("flow", "bank-b") == before
    quarantined = (services.settings.data_dir / "quarantine" / "api-bank-a.jsonl").read_text()
    assert '"line":1,"reason":"foreign_tenant"' in quarantined


def test_a_json_array_is_read_like_lines(world: World) -> None:
    events = [{"time": "2026-11-02T10:00:00Z", "src_ip": "10.0.0.2", "dst_port": 443}] * 3
    answer = world.client.post(
        "/v1/ingest?kind=flow",
        content=orjson.dumps(events),
        headers={**world.auth("bank-a-analyst"), "Content-Type": "application/json"},
    ).json()
    assert (answer["read"], answer["accepted"]) == (3, 3)


def test_unknown_kind_and_wrong_media_type_are_clear_errors(world: World) -> None:
    answer = _post(world, b'{"time": "2026-11-02T10:00:00Z"}')
    assert answer.status_code == 422 and "kind" in answer.json()["error"]["message"]
    answer = world.client.post(
        "/v1/ingest", content=b"x", headers={**world.auth("bank-a-analyst"),
                                             "Content-Type": "text/csv"}
    )
    assert answer.status_code == 415
