"""Roles on every route: each role gets exactly what `PERMISSIONS` grants it."""

from __future__ import annotations

import itertools

import pytest

from mamori.govern.identity import PERMISSIONS, ROLES
from tests.api.conftest import World
from tests.api.routes import ROUTES, Route

_counter = itertools.count()


def call(world: World, user: str, route: Route, tenant: str) -> int:
    """Call a route as `user` with `tenant`'s ids filled in; the status code."""
    path = route.path.format(
        alert=world.alerts[tenant][0],
        incident=world.incidents[tenant][0],
        token=world.token_ids[f"{tenant}-viewer"],
    )
    json = route.json
    if json is not None and "username" in json:
        json = {**json, "username": json["username"].format(n=next(_counter))}
    headers = world.auth(user)
    if route.content_type:
        headers["Content-Type"] = route.content_type
    answer = world.client.request(
        route.method, path, json=json, content=route.content, headers=headers
    )
    return answer.status_code


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path} {r.permission}")
def test_each_role_gets_what_its_permissions_say(world: World, role: str, route: Route) -> None:
    if route.method == "DELETE":  # revoke a throwaway token, not the fixtures' own
        return
    allowed = route.permission is None or role in PERMISSIONS[route.permission]
    status = call(world, f"bank-a-{role}", route, "bank-a")
    if allowed:
        assert status < 400, (role, route, status)
    else:
        assert status == 403, (role, route, status)


def test_no_credentials_get_401_on_every_route(world: World) -> None:
    for route in ROUTES:
        path = route.path.format(alert="a", incident="i", token="t")
        answer = world.client.request(route.method, path, json=route.json)
        assert answer.status_code == 401, route
        assert answer.json()["error"]["status"] == 401


def test_a_revoked_token_stops_working_at_once(world: World) -> None:
    token, record = world.client.app.state.services.identity.issue_token(  # type: ignore[attr-defined]
        "bank-a-viewer", "short-lived"
    )
    headers = {"Authorization": f"Bearer {token}"}
    assert world.client.get("/v1/alerts", headers=headers).status_code == 200
    answer = world.client.delete(
        f"/v1/auth/tokens/{record['token_id']}", headers=world.auth("bank-a-admin")
    )
    assert answer.status_code == 200
    assert world.client.get("/v1/alerts", headers=headers).status_code == 401
