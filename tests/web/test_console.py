"""The console's pages and the /v1/actions routes through the real API app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mamori.api import console
from tests.web.console_world import PASSWORD, add_incident, console_app


@pytest.fixture
def app(tmp_path: Path) -> Iterator[object]:
    application = console_app(tmp_path)
    add_incident(application, "bank-a", "inc-a", "Card testing on one card")
    add_incident(application, "bank-b", "inc-b", "Bank B's own incident")
    yield application


def login(app: object, username: str) -> tuple[TestClient, str]:
    client = TestClient(app)  # type: ignore[arg-type]
    answer = client.post(
        "/console/login",
        data={"username": username, "password": PASSWORD},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return client, client.cookies["mamori_csrf"]


def test_pages_need_a_session(app: object) -> None:
    client = TestClient(app)  # type: ignore[arg-type]
    answer = client.get("/console/incidents/inc-a", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login?next=/console/incidents/inc-a"
    assert (
        client.post("/console/login", data={"username": "aiko", "password": "nope"}).status_code
        == 401
    )


def test_overview_and_incident_page(app: object) -> None:
    client, _ = login(app, "aiko")
    page = client.get("/console/")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert 'id="institution-level">4<' in page.text
    assert "Card testing on one card" in page.text and "Bank B" not in page.text
    incident = client.get("/console/incidents/inc-a").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in incident and "<script>alert" not in incident
    assert incident.count("<circle") == 2 and incident.count("<line") == 1  # card — customer
    assert client.get("/console/incidents/inc-b").status_code == 404


def test_language_switch(app: object) -> None:
    client, _ = login(app, "aiko")
    client.get("/console/language/ja?next=/console/alerts")
    page = client.get("/console/alerts").text
    assert '<html lang="ja">' in page and "アラートキュー" in page
    client.get("/console/language/en")
    assert "Alert queue" in client.get("/console/alerts").text


def test_alert_filters(app: object) -> None:
    client, _ = login(app, "aiko")
    assert client.get("/console/alerts").text.count('<tr><td class="mono">') == 2
    high = client.get("/console/alerts", params={"severity": "high"}).text
    assert high.count('<tr><td class="mono">') == 1 and "Card testing" in high
    none = client.get("/console/alerts", params={"entity": "nothing-like-this"}).text
    assert '<tr><td class="mono">' not in none


def test_roles_gate_pages(app: object) -> None:
    viewer, _ = login(app, "vic")
    assert viewer.get("/console/audit").status_code == 403
    assert viewer.get("/console/hunt").status_code == 403
    assert viewer.get("/console/sector").status_code == 403
    auditor, _ = login(app, "kei")
    assert auditor.get("/console/audit").status_code == 200
    sector, _ = login(app, "cert")
    assert sector.get("/console/sector").status_code == 200


def test_four_eyes_through_the_api(app: object) -> None:
    aiko, aiko_csrf = login(app, "aiko")
    made = aiko.post(
        "/v1/actions",
        json={
            "action": "freeze_account",
            "target": "customer:inc-a-c9",
            "reason": "mule",
            "incident_id": "inc-a",
        },
        headers={"X-CSRF-Token": aiko_csrf},
    )
    assert made.status_code == 201, made.text
    request_id = made.json()["request_id"]
    assert aiko.post(f"/v1/actions/{request_id}/approve", json={}).status_code == 403  # no CSRF
    own = aiko.post(
        f"/v1/actions/{request_id}/approve", json={}, headers={"X-CSRF-Token": aiko_csrf}
    )
    assert own.status_code == 403
    ren, ren_csrf = login(app, "ren")
    sora, sora_csrf = login(app, "sora")
    assert (
        ren.post(
            f"/v1/actions/{request_id}/approve", json={}, headers={"X-CSRF-Token": ren_csrf}
        ).json()["status"]
        == "proposed"
    )
    assert (
        ren.post(
            f"/v1/actions/{request_id}/approve", json={}, headers={"X-CSRF-Token": ren_csrf}
        ).status_code
        == 403
    )
    assert (
        sora.post(
            f"/v1/actions/{request_id}/approve", json={}, headers={"X-CSRF-Token": sora_csrf}
        ).json()["status"]
        == "approved"
    )
    done = sora.post(f"/v1/actions/{request_id}/execute", headers={"X-CSRF-Token": sora_csrf})
    assert done.json()["status"] == "executed" and done.json()["dry_run"] is True
    bo, bo_csrf = login(app, "bo")
    assert bo.get(f"/v1/actions/{request_id}").status_code == 404
    assert (
        bo.post(
            f"/v1/actions/{request_id}/approve", json={}, headers={"X-CSRF-Token": bo_csrf}
        ).status_code
        == 404
    )
    page = ren.get("/console/incidents/inc-a").text
    assert f'id="request-{request_id}"' in page and "status executed" in page


def test_playbook_on_another_banks_incident_is_404(app: object) -> None:
    aiko, csrf = login(app, "aiko")
    other = aiko.post(
        "/v1/actions/playbooks/card_fraud",
        json={"incident_id": "inc-b", "reason": "x"},
        headers={"X-CSRF-Token": csrf},
    )
    assert other.status_code == 404
    own = aiko.post(
        "/v1/actions/playbooks/card_fraud",
        json={"incident_id": "inc-a", "reason": "card testing"},
        headers={"X-CSRF-Token": csrf},
    )
    assert [a["action_id"] for a in own.json()["actions"]] == [
        "freeze_card",
        "notify_customer",
        "open_case",
    ]


def test_viewer_cannot_propose(app: object) -> None:
    vic, csrf = login(app, "vic")
    answer = vic.post(
        "/v1/actions",
        json={"action": "block_ip", "target": "ip:1.2.3.4", "reason": "x"},
        headers={"X-CSRF-Token": csrf},
    )
    assert answer.status_code == 403


def test_live_stream_sends_new_incidents(app: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "LIVE_MAX_S", 0.5)
    monkeypatch.setattr(console, "LIVE_POLL_S", 0.05)
    client, _ = login(app, "aiko")
    add_incident(app, "bank-a", "inc-new", "Fresh incident", minute=30)
    add_incident(app, "bank-b", "inc-b2", "Not yours", minute=30)
    body = client.get("/console/live", headers={"Last-Event-ID": "2020-01-01T00:00:00+00:00"})
    assert body.headers["content-type"].startswith("text/event-stream")
    sent = [line for line in body.text.splitlines() if line.startswith('data: {"incident_id"')]
    ids = [line.split('"incident_id": "')[1].split('"')[0] for line in sent]
    assert sorted(ids) == ["inc-a", "inc-new"]


def test_static_assets_are_served_locally(app: object) -> None:
    client = TestClient(app)  # type: ignore[arg-type]
    assert client.get("/console/static/console.js").status_code == 200
    assert client.get("/console/static/..%2Fconsole.py").status_code == 404
    for page in ("console.css", "console.js"):
        assert (
            "http"
            not in client.get(f"/console/static/{page}")
            .text.replace("X-CSRF-Token", "")
            .split("//")[0]
        )
