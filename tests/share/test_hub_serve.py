"""The sector hub inside `mamori serve`: TAXII 2.1 through the real `create_app` with API
tokens, collections and campaigns kept across a restart, `mamori sector status`, and the
console's sector view (sector users only, unconsenting institutions never named)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import polars as pl
import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mamori.api.app import create_app
from mamori.api.settings import ApiSettings
from mamori.cli import main
from mamori.share.client import TaxiiPeer
from mamori.share.export import ReleasePolicy, release
from mamori.share.taxii import MEDIA_TYPE

BANKS = ("bank-a", "bank-b", "bank-c")
PASSWORD = "correct horse battery"
C2 = "185.220.101.7"
T0 = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)
POLICY = ReleasePolicy(sector="jp", salt="s", tlp={"*": "green"})


def make_app(data_dir: Path) -> FastAPI:
    return create_app(ApiSettings(data_dir, argon2_time_cost=1, argon2_memory_kib=64,
                                  secure_cookies=False, rate_per_s=10_000.0, rate_burst=10_000))


def beacon(tenant: str) -> list[dict[str, object]]:
    """What a bank releases after seeing the coordinated C2 address."""
    alerts = pl.DataFrame([{
        "alert_id": f"{tenant}-1", "tenant": tenant, "severity": "high", "time": T0,
        "title": "beacon", "attack": ["T1071.001"], "related": [f"ip:{C2}", "host:WS-1"],
    }])
    return release(alerts, POLICY, peer="hub")


@pytest.fixture
def hub_dir(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A data folder with three banks and the sector CERT; bank-a agreed to be named."""
    (tmp_path / "mamori.toml").write_text(
        '[sector]\nname = "jp"\nk = 3\nwindow_days = 3\nconsent = ["bank-a"]\n'
    )
    identity = make_app(tmp_path).state.services.identity
    tokens = {}
    for bank in BANKS:
        identity.create_tenant(bank, bank.upper())
        identity.create_user(bank, f"{bank}-feed", ["responder"], password=PASSWORD)
        tokens[bank], _ = identity.issue_token(f"{bank}-feed", "taxii")
    identity.create_user("bank-a", "viewer", ["viewer"], password=PASSWORD)
    tokens["viewer"], _ = identity.issue_token("viewer", "taxii")
    identity.create_tenant("cert", "Sector CERT", kind="sector")
    identity.create_user("cert", "cert", ["analyst"], password=PASSWORD)
    return tmp_path, tokens


def test_taxii_is_served_by_create_app_with_api_tokens(hub_dir: tuple[Path, dict[str, str]]
                                                       ) -> None:
    data_dir, tokens = hub_dir
    with TestClient(make_app(data_dir)) as client:
        assert client.get("/taxii2/").status_code == 401
        bad = client.get("/taxii2/", headers={"Authorization": "Bearer mmr_x_y"})
        assert bad.status_code == 401
        a = {"Authorization": f"Bearer {tokens['bank-a']}", "Accept": MEDIA_TYPE}
        found = client.get("/taxii2/", headers=a)
        assert found.status_code == 200 and found.headers["content-type"] == MEDIA_TYPE
        assert found.json()["api_roots"] == ["/taxii2/sector/"]
        listed = client.get("/taxii2/sector/collections/", headers=a).json()["collections"]
        rights = {c["id"]: (c["can_read"], c["can_write"]) for c in listed}
        assert rights == {"indicators": (True, True), "early-warning": (True, False)}

        status = TaxiiPeer(client, tokens["bank-a"]).push("indicators", beacon("bank-a"))
        assert status["success_count"] == len(beacon("bank-a")) and status["failure_count"] == 0
        pulled, mark = TaxiiPeer(client, tokens["bank-b"]).pull("indicators")
        assert {o["id"] for o in pulled} == {o["id"] for o in beacon("bank-a")}
        assert mark is not None and "bank-a" not in orjson.dumps(pulled).decode()

        viewer = TaxiiPeer(client, tokens["viewer"])
        post = client.post("/taxii2/sector/collections/indicators/objects/",
                           content=orjson.dumps({"objects": beacon("bank-a")}),
                           headers={**viewer.headers, "Content-Type": MEDIA_TYPE})
        assert post.status_code == 403  # a viewer may read, not release
        warn = client.post("/taxii2/sector/collections/early-warning/objects/",
                           content=b'{"objects": []}',
                           headers={**a, "Content-Type": MEDIA_TYPE})
        assert warn.status_code == 403  # only the hub writes campaigns


def test_collections_and_campaigns_survive_a_restart(hub_dir: tuple[Path, dict[str, str]]
                                                     ) -> None:
    data_dir, tokens = hub_dir
    with TestClient(make_app(data_dir)) as client:
        for bank in BANKS:
            TaxiiPeer(client, tokens[bank]).push("indicators", beacon(bank))
        before, mark = TaxiiPeer(client, tokens["bank-b"]).pull("early-warning")
    assert sum(o["type"] == "campaign" for o in before) == 2  # the address and the technique

    app = make_app(data_dir)  # a restart: a new process over the same data folder
    with TestClient(app) as client:
        campaigns = app.state.sector_hub.watch.campaigns()
        about = {c.label: (c.institutions, c.level, c.named) for c in campaigns}
        assert about[f"[ipv4-addr:value = '{C2}']"] == (3, 3, ("bank-a",))
        peer = TaxiiPeer(client, tokens["bank-c"])
        again, _ = peer.pull("early-warning")
        assert again == before
        assert peer.pull("early-warning", added_after=mark) == ([], mark)
        # a bank repeating itself raises nothing new: the watch was rebuilt, not reset
        TaxiiPeer(client, tokens["bank-a"]).push("indicators", beacon("bank-a"))
        assert peer.pull("early-warning", added_after=mark)[0] == []
        assert len(peer.pull("indicators")[0]) == 4 * len(beacon("bank-a"))

    shown = CliRunner().invoke(main, ["sector", "status", "--data-dir", str(data_dir)])
    assert shown.exit_code == 0, shown.output
    status = orjson.loads(shown.output)
    assert (status["level"], status["k"], status["sector"]) == (3, 3, "jp")
    assert [c["institutions"] for c in status["campaigns"]] == [3, 3]
    assert all(c["named"] == ["bank-a"] for c in status["campaigns"])
    assert "bank-b" not in shown.output and "bank-c" not in shown.output


def test_sector_status_refuses_a_folder_without_a_hub(tmp_path: Path) -> None:
    shown = CliRunner().invoke(main, ["sector", "status", "--data-dir", str(tmp_path)])
    assert shown.exit_code != 0 and "no hub database" in shown.output


def _login(client: TestClient, username: str) -> None:
    answer = client.post("/console/login", data={"username": username, "password": PASSWORD},
                         follow_redirects=False)
    assert answer.status_code == 303


def test_console_sector_view_shows_campaigns_to_sector_users_only(
        hub_dir: tuple[Path, dict[str, str]]) -> None:
    data_dir, tokens = hub_dir
    with TestClient(make_app(data_dir)) as client:
        for bank in BANKS:
            TaxiiPeer(client, tokens[bank]).push("indicators", beacon(bank))
        _login(client, "cert")
        page = client.get("/console/sector")
        assert page.status_code == 200
        assert 'id="sector-campaigns"' in page.text and C2 in page.text
        assert 'id="sector-warning"' in page.text and "Elevated" in page.text
        assert page.text.count('<span class="tag">bank-a</span>') == 2
        assert "bank-b" not in page.text and "bank-c" not in page.text

    with TestClient(make_app(data_dir)) as client:
        _login(client, "bank-b-feed")
        page = client.get("/console/sector")
        assert page.status_code == 403
        assert C2 not in page.text and "sector-campaigns" not in page.text


def test_taxii_posts_are_held_to_the_limit_the_api_root_advertises(
        hub_dir: tuple[Path, dict[str, str]]) -> None:
    data_dir, tokens = hub_dir
    headers = {"Authorization": f"Bearer {tokens['bank-a']}", "Accept": MEDIA_TYPE,
               "Content-Type": MEDIA_TYPE}
    addresses = [f"ip:185.{i // 250}.{i % 250}.7" for i in range(4_000)]
    alerts = pl.DataFrame([{"alert_id": "a-1", "tenant": "bank-a", "severity": "high",
                            "time": T0, "title": "c2", "attack": [], "related": addresses}])
    body = orjson.dumps({"objects": release(alerts, POLICY, peer="hub")})
    assert 1 << 20 < len(body) < 10 << 20  # above the API's 1 MiB, below TAXII's 10 MiB
    url = "/taxii2/sector/collections/indicators/objects/"
    with TestClient(make_app(data_dir)) as client:
        limit = client.get("/taxii2/sector/", headers=headers).json()["max_content_length"]
        assert limit == 10 << 20
        posted = client.post(url, content=body, headers=headers)
        assert posted.status_code == 202, posted.text[:300]
        assert posted.json()["failure_count"] == 0
        too_big = client.post(url, content=b" " * (limit + 1), headers=headers)
        assert too_big.status_code == 413
