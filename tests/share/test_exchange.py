"""Sector exchange: STIX validity, TLP enforcement, TAXII with auth, the three-bank campaign."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest
import stix2
from fastapi.testclient import TestClient

from mamori.detect.network import Beaconing
from mamori.share.campaign import campaign_alerts
from mamori.share.client import PeerError, SharedIntel, TaxiiPeer
from mamori.share.export import ReleasePolicy, bundle, object_tlp, release, salted
from mamori.share.taxii import MEDIA_TYPE, TaxiiServer
from mamori.simulate.config import SimConfig
from mamori.simulate.simulation import Simulation

BANKS = ("bank-a", "bank-b", "bank-c")

SALT = "sector-salt"
T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def alerts(**over: object) -> pl.DataFrame:
    row = {
        "alert_id": "a1", "tenant": "bank-a", "detector": "network", "severity": "high",
        "time": T0, "title": "beacon", "attack": ["T1071.001"],
        "related": ["ip:185.220.101.7", "ip:10.0.0.5", "host:WS-1", "customer:C001",
                    "account:MULE-1", "device:fp-9", "wallet:bc1qxy2k", "domain:evil.example",
                    "hash:" + "a" * 64],
    } | over
    return pl.DataFrame([row])


def test_every_emitted_object_parses_with_stix2_and_names_no_bank() -> None:
    policy = ReleasePolicy(sector="jp", salt=SALT, tlp={"*": "green"})
    objects = release(alerts(), policy, peer="hub")
    parsed = stix2.parse(bundle(objects), allow_custom=True)
    types = sorted(o.type for o in parsed.objects)
    assert types.count("indicator") == 6 and types.count("attack-pattern") == 1
    assert types.count("sighting") == 7
    text = str(objects)
    for private in ("'bank-a'", "10.0.0.5", "WS-1", "C001", "MULE-1", "fp-9"):
        assert private not in text
    assert salted(SALT, "account", "MULE-1") in text
    creators = {o.get("created_by_ref") for o in objects if o["type"] != "identity"} - {None}
    assert creators == {objects[0]["id"]} and objects[0]["name"] == "jp sector member"


def test_indicator_ids_are_the_same_at_every_bank() -> None:
    policy = ReleasePolicy(sector="jp", salt=SALT, tlp={"*": "green"})
    a = {o["id"] for o in release(alerts(), policy, "hub") if o["type"] == "indicator"}
    b = {o["id"] for o in release(alerts(tenant="bank-b", alert_id="zz"), policy, "hub")
         if o["type"] == "indicator"}
    assert a == b and len(a) == 6


def test_tlp_red_never_leaves_and_amber_only_to_allowed_peers() -> None:
    policy = ReleasePolicy(sector="jp", salt=SALT, amber_peers=frozenset({"trusted"}),
                           tlp={"*": "green", "account": "amber", "ip": "red"})
    to_trusted = release(alerts(), policy, "trusted")
    to_other = release(alerts(), policy, "other")
    levels = {object_tlp(o) for o in to_trusted} - {None}
    assert levels == {"green", "amber"}
    assert {object_tlp(o) for o in to_other} - {None} == {"green"}
    for sent in (to_trusted, to_other):
        assert not any("185.220.101.7" in str(o.get("pattern")) for o in sent)


def test_below_min_severity_releases_nothing() -> None:
    policy = ReleasePolicy(sector="jp", salt=SALT, min_severity="high")
    assert release(alerts(severity="medium"), policy, "hub") == []


def test_taxii_discovery_collections_and_auth(http: TestClient) -> None:
    assert http.get("/taxii2/").status_code == 401
    assert http.get("/taxii2/", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = http.get("/taxii2/", headers={"Authorization": "Bearer tok-bank-a"})
    assert ok.status_code == 200 and ok.headers["content-type"] == MEDIA_TYPE
    peer = TaxiiPeer(http, "tok-bank-a")
    infos = {c["id"]: c for c in peer.collections()}
    assert infos["indicators"]["can_write"] and not infos["early-warning"]["can_write"]
    viewer = TaxiiPeer(http, "tok-viewer")
    with pytest.raises(PeerError, match="403"):
        viewer.push("indicators", [])
    with pytest.raises(PeerError, match="403"):
        peer.push("early-warning", [])
    bad_type = http.post("/taxii2/sector/collections/indicators/objects/", content=b"{}",
                         headers={"Authorization": "Bearer tok-bank-a"})
    assert bad_type.status_code == 415
    assert http.get("/taxii2/sector/collections/nope/objects/",
                    headers={"Authorization": "Bearer tok-bank-a"}).status_code == 404


def test_taxii_objects_pagination_added_after_manifest_and_tlp(http: TestClient) -> None:
    policy = ReleasePolicy(sector="jp", salt=SALT, tlp={"*": "green"})
    objects = release(alerts(), policy, "hub")
    first = next(o for o in objects if o["type"] == "indicator")
    red = dict(first, id="indicator--1b0e1e1e-1111-4111-8111-111111111111",
               object_marking_refs=["marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"])
    peer = TaxiiPeer(http, "tok-bank-a")
    status = peer.push("indicators", [*objects, red, {"type": "indicator", "id": "broken"}])
    assert status["success_count"] == len(objects) and status["failure_count"] == 2
    assert "TLP:RED" in status["failures"][0]["message"]
    reader = TaxiiPeer(http, "tok-bank-b")
    got, mark = reader.pull("indicators", limit=4)  # several pages
    assert [o["id"] for o in got] == [o["id"] for o in objects]
    again, _ = reader.pull("indicators", added_after=mark)
    assert again == []
    auth = {"Authorization": "Bearer tok-bank-b"}
    manifest = http.get("/taxii2/sector/collections/indicators/manifest/?limit=3",
                        headers=auth).json()
    assert manifest["more"] and len(manifest["objects"]) == 3
    one = http.get(f"/taxii2/sector/collections/indicators/objects/{objects[3]['id']}/",
                   headers=auth).json()
    assert one["objects"] == [objects[3]]
    st = http.get(f"/taxii2/sector/status/{status['id']}/", headers=auth).json()
    assert st["total_count"] == len(objects) + 2


def _coordinated_campaign() -> tuple[dict[str, pl.DataFrame], str]:
    """Three simulated banks hit by one heist campaign from one shared C2 address."""
    cfg = SimConfig(customers=50, tenants=BANKS, scenarios=("heist_intrusion",), campaign=True)
    sim = Simulation(cfg)
    flows = pl.concat([c.batches["flow"] for c in sim.chunks()])
    c2s = {
        e[3:] for ents in sim.truth()["entities"] for e in ents
        if e.startswith("ip:") and not e.startswith("ip:10.")
    }  # fmt: skip
    assert len(c2s) == 1  # one attacker: the same address at every bank
    return {bank: flows.filter(pl.col("tenant") == bank) for bank in BANKS}, c2s.pop()


def test_without_a_campaign_each_bank_has_its_own_attacker() -> None:
    sim = Simulation(SimConfig(customers=50, tenants=BANKS, scenarios=("heist_intrusion",)))
    c2s = {
        e for ents in sim.truth()["entities"] for e in ents
        if e.startswith("ip:") and not e.startswith("ip:10.")
    }  # fmt: skip
    assert len(c2s) == len(BANKS)


def test_three_banks_one_campaign_raises_a_sector_campaign_pushed_to_all(
    http: TestClient, hub: TaxiiServer
) -> None:
    per_bank, c2 = _coordinated_campaign()
    policy = ReleasePolicy(sector="jp", salt=SALT, tlp={"*": "green"})
    for number, bank in enumerate(BANKS):
        found = Beaconing().process(per_bank[bank])  # detection at each bank
        assert any(f"ip:{c2}" in r for r in found["related"].to_list())
        status = TaxiiPeer(http, f"tok-{bank}").push("indicators", release(found, policy, "hub"))
        assert status["failure_count"] == 0
        raised = hub.watch.campaigns()  # type: ignore[attr-defined]
        assert (len([c for c in raised if c.label.endswith(f"'{c2}']")]) == 1) == (number == 2)
    about_c2 = [c for c in hub.watch.campaigns() if c2 in c.label]  # type: ignore[attr-defined]
    assert about_c2[0].institutions == 3 and about_c2[0].level == 3 and about_c2[0].named == ()
    for bank in BANKS:  # pushed back to every subscriber, as alerts of its own tenant
        pulled, _ = TaxiiPeer(http, f"tok-{bank}").pull("early-warning")
        assert not any(f"{b!r}" in str(pulled) for b in BANKS)
        warned = campaign_alerts(pulled, bank)
        mine = warned.filter(pl.col("title").str.contains(c2, literal=True))
        assert mine.height == 1 and mine["tenant"][0] == bank
        assert mine["severity"][0] == "medium" and mine["detector"][0] == "sector"


def test_indicator_released_by_a_is_matched_at_b(http: TestClient) -> None:
    per_bank, c2 = _coordinated_campaign()
    policy = ReleasePolicy(sector="jp", salt=SALT, tlp={"*": "green"})
    found = Beaconing().process(per_bank["bank-a"])
    TaxiiPeer(http, "tok-bank-a").push("indicators", release(found, policy, "hub"))
    shared = SharedIntel(salt=SALT)
    pulled, _ = TaxiiPeer(http, "tok-bank-b").pull("indicators")
    assert shared.add(pulled) >= 1
    matched = shared.process(per_bank["bank-b"])
    assert matched.filter(pl.col("title").str.contains(c2, literal=True)).height >= 1
    assert set(matched["tenant"]) == {"bank-b"}


def test_salted_mule_account_is_matched_at_another_bank() -> None:
    policy = ReleasePolicy(sector="jp", salt=SALT, tlp={"*": "green"})
    shared = SharedIntel(salt=SALT)
    shared.add(release(alerts(), policy, "hub"))
    from mamori.events.schema import conform

    tx = conform(pl.DataFrame({"event_id": ["t1", "t2"], "tenant": ["bank-b"] * 2,
                               "time": [T0, T0], "customer": ["c1", "c2"],
                               "counterparty": ["mule-1", "someone"], "device": ["x", "FP-9"]}),
                 "transaction")
    hits = shared.process(tx)
    assert sorted(hits["rule_id"].to_list()) == ["sector-account", "sector-device"]
    assert sorted(hits["entity_id"].to_list()) == ["c1", "c2"]
    assert SharedIntel(salt="other-sector").process(tx).height == 0
