"""Console login: cookie flags, CSRF on changes, logout."""

from __future__ import annotations

from fastapi.testclient import TestClient

from mamori.api.app import create_app
from tests.api.conftest import PASSWORD, World, settings_for_tests


def _login(world: World, username: str) -> TestClient:
    client = TestClient(world.client.app)
    answer = client.post("/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return client


def test_a_change_without_the_csrf_token_is_refused(world: World) -> None:
    client = _login(world, "bank-a-analyst")
    incident = world.incidents["bank-a"][0]
    assert client.get("/v1/incidents").status_code == 200  # reads need no token
    refused = client.post(f"/v1/incidents/{incident}/comments", json={"body": "x"})
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]["message"]
    wrong = client.post(
        f"/v1/incidents/{incident}/comments", json={"body": "x"}, headers={"X-CSRF-Token": "no"}
    )
    assert wrong.status_code == 403
    csrf = client.cookies["mamori_csrf"]
    done = client.post(
        f"/v1/incidents/{incident}/comments", json={"body": "x"}, headers={"X-CSRF-Token": csrf}
    )
    assert done.status_code == 201


def test_logout_ends_the_session(world: World) -> None:
    client = _login(world, "bank-a-viewer")
    csrf = client.cookies["mamori_csrf"]
    assert client.post("/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert client.get("/v1/alerts").status_code == 401


def test_wrong_passwords_and_unknown_users_get_the_same_answer(world: World) -> None:
    for username in ("bank-a-viewer", "nobody"):
        answer = world.client.post(
            "/v1/auth/login", json={"username": username, "password": "wrong password"}
        )
        assert answer.status_code == 401
        assert answer.json()["error"]["message"] == "wrong username or password"


def test_session_cookie_is_secure_httponly_and_strict(tmp_path) -> None:  # noqa: ANN001
    app = create_app(settings_for_tests(tmp_path, secure_cookies=True))
    identity = app.state.services.identity
    identity.create_tenant("bank-c")
    identity.create_user("bank-c", "c-viewer", ["viewer"], password=PASSWORD)
    with TestClient(app) as client:
        answer = client.post("/v1/auth/login", json={"username": "c-viewer", "password": PASSWORD})
    cookies = answer.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("mamori_session="))
    assert "HttpOnly" in session and "Secure" in session and "SameSite=strict" in session
    csrf = next(c for c in cookies if c.startswith("mamori_csrf="))
    assert "HttpOnly" not in csrf and "Secure" in csrf
