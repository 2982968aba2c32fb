"""A bank's `mamori serve` following the sector hub: indicators another bank released are
matched on the bank's own traffic, and a sector campaign becomes an alert (and an incident)
of the bank's own tenant, without anyone pulling by hand. The hub is a real `create_app`
under uvicorn on loopback; the bank is another `create_app` with a ``[follow]`` table."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from mamori.api.app import create_app
from mamori.localhost import free_port, serving
from mamori.share.client import TaxiiPeer
from mamori.share.follow import FollowError, FollowSettings, SectorFollower
from tests.api.conftest import settings_for_tests
from tests.share.test_hub_serve import BANKS, C2, PASSWORD, beacon

TOKEN_ENV = "MAMORI_TEST_SECTOR_TOKEN"


def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The sector hub (k = 3) served on a loopback port; each bank's feed token."""
    data_dir = tmp_path / "hub"
    data_dir.mkdir()
    (data_dir / "mamori.toml").write_text('[sector]\nname = "jp"\nk = 3\n')
    app = create_app(settings_for_tests(data_dir))
    identity = app.state.services.identity
    tokens = {}
    for bank in BANKS:
        identity.create_tenant(bank, bank.upper())
        identity.create_user(bank, f"{bank}-feed", ["responder"], password=PASSWORD)
        tokens[bank], _ = identity.issue_token(f"{bank}-feed", "taxii")
    with serving(app) as url:
        yield url, tokens


def bank_b_app(tmp_path: Path, url: str):  # noqa: ANN201 - a FastAPI app
    data_dir = tmp_path / "bank-b"
    data_dir.mkdir()
    (data_dir / "mamori.toml").write_text(
        f'[follow]\nurl = "{url}"\ntenant = "bank-b"\ntoken_env = "{TOKEN_ENV}"\nevery_s = 0.1\n'
    )
    app = create_app(settings_for_tests(data_dir))
    identity = app.state.services.identity
    identity.create_tenant("bank-b", "BANK-B")
    identity.create_user("bank-b", "analyst", ["analyst"], password=PASSWORD)
    token, _ = identity.issue_token("analyst", "test")
    return app, {"Authorization": f"Bearer {token}"}


def test_a_following_bank_matches_shared_indicators_and_stores_sector_campaigns(
    tmp_path: Path, hub: tuple[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, tokens = hub
    monkeypatch.setenv(TOKEN_ENV, tokens["bank-b"])
    app, analyst = bank_b_app(tmp_path, url)
    found = app.state.services
    with TestClient(app) as client, httpx.Client(base_url=url) as http:
        follower = found.follower
        assert follower is not None and follower.settings.tenant == "bank-b"
        TaxiiPeer(http, tokens["bank-a"]).push("indicators", beacon("bank-a"))
        wait_until(lambda: follower.status.indicators >= 1)

        # bank B's own traffic to the address bank A released is matched at bank B
        flow = {"time": "2026-11-02T10:00:00Z", "kind": "flow", "src_ip": "10.1.2.3",
                "dst_ip": C2, "dst_port": 443, "protocol": "tcp"}
        answer = client.post("/v1/ingest?kind=flow", content=orjson.dumps(flow),
                             headers={**analyst, "Content-Type": "application/x-ndjson"})
        assert answer.status_code == 202, answer.text
        assert found.intake.wait_settled("bank-b", 30)
        shared = found.store.alerts("bank-b").filter(detector="intel")
        assert shared.height == 1 and shared["related"][0].to_list() == [f"ip:{C2}"]
        assert "Sector-reported" in shared["title"][0] and "TLP:GREEN" in shared["explanation"][0]

        # two more banks report it: a sector campaign, pushed into bank B's own alerts
        for bank in ("bank-b", "bank-c"):
            TaxiiPeer(http, tokens[bank]).push("indicators", beacon(bank))
        wait_until(lambda: follower.status.campaign_alerts >= 2)  # the address, the technique
        assert found.intake.wait_settled("bank-b", 30)
        campaigns = found.store.alerts("bank-b").filter(rule_id="sector-campaign")
        assert campaigns.height == 2 and set(campaigns["tenant"]) == {"bank-b"}
        assert set(campaigns["severity"]) == {"medium"}  # level 3 at k institutions
        text = orjson.dumps(campaigns.to_dicts()).decode()
        assert "bank-a" not in text and "bank-c" not in text  # nobody consented
        linked = found.store.incident_links("bank-b")["alert_id"].to_list()
        assert set(campaigns["alert_id"]) <= set(linked)  # grouped into incidents

        # pulled again from the start (a restart): stored once
        follower.status.marks = dict.fromkeys(follower.COLLECTIONS)
        assert follower.pull_once() > 0
        assert found.intake.wait_settled("bank-b", 30)
        assert found.store.alerts("bank-b").filter(rule_id="sector-campaign").height == 2
        page = client.get("/v1/alerts", params={"detector": "sector"}, headers=analyst).json()
        assert page["count"] == 2 and {a["rule_id"] for a in page["alerts"]} == {"sector-campaign"}


def test_a_hub_that_is_down_is_reported_and_retried_without_the_token(
    tmp_path: Path, hub: tuple[str, dict[str, str]]
) -> None:
    url, tokens = hub
    closed = f"http://127.0.0.1:{free_port()}"
    settings = FollowSettings(url=closed, tenant="bank-b", token=tokens["bank-b"],
                              every_s=0.05)
    taken: list[int] = []

    class Target:
        def share(self, objects, alerts) -> None:  # noqa: ANN001
            taken.append(len(objects))

    follower = SectorFollower(settings, Target)
    follower.start()
    wait_until(lambda: follower.status.last_error is not None)
    follower.close()
    assert "ConnectError" in follower.status.last_error
    assert tokens["bank-b"] not in follower.status.last_error
    assert follower.status.rounds == 0 and taken == []
    assert follower.status.marks == {"indicators": None, "early-warning": None}

    # the same follower against the live hub catches up from the start
    with httpx.Client(base_url=url) as http:
        TaxiiPeer(http, tokens["bank-a"]).push("indicators", beacon("bank-a"))
    live = SectorFollower(FollowSettings(url=url, tenant="bank-b", token=tokens["bank-b"]),
                          Target)
    assert live.pull_once() == len(beacon("bank-a")) and taken == [len(beacon("bank-a"))]
    assert live.pull_once() == 0 and taken == [len(beacon("bank-a"))]  # nothing new
    live.close()


@pytest.mark.parametrize(
    ("table", "environ", "message"),
    [
        ({"tenant": "bank-b"}, {TOKEN_ENV: "t"}, "needs url"),
        ({"url": "http://hub"}, {TOKEN_ENV: "t"}, "needs tenant"),
        ({"url": "http://hub", "tenant": "b", "token_env": TOKEN_ENV}, {}, "token is not set"),
        ({"url": "http://hub", "tenant": "b", "token_env": TOKEN_ENV, "every_s": "x"},
         {TOKEN_ENV: "t"}, "not a number"),
        ({"url": "http://hub", "tenant": "b", "token_env": TOKEN_ENV, "every_s": 0},
         {TOKEN_ENV: "t"}, "must be positive"),
    ],
)
def test_follow_settings_refuse_what_cannot_work(table, environ, message) -> None:  # noqa: ANN001
    with pytest.raises(FollowError, match=message):
        FollowSettings.from_table(table, environ=environ)


def test_a_bad_follow_table_stops_the_server_with_the_reason(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    (tmp_path / "mamori.toml").write_text(
        f'[follow]\nurl = "http://hub"\ntenant = "bank-b"\ntoken_env = "{TOKEN_ENV}"\n'
    )
    with pytest.raises(FollowError, match=f"mamori.toml.*{TOKEN_ENV}"):
        create_app(settings_for_tests(tmp_path))
    assert repr(FollowSettings("http://hub", "b", token="s3cret")).count("s3cret") == 0
