"""Re-release guard: what a subscriber received under TLP:AMBER never leaves it lower."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from mamori.events.schema import conform
from mamori.share.client import SharedIntel
from mamori.share.export import ReleasePolicy, object_tlp, received_levels, release

SALT = "sector-salt"
T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def seen(tenant: str, related: list[str]) -> pl.DataFrame:
    return pl.DataFrame([{"alert_id": f"{tenant}-1", "tenant": tenant, "severity": "high",
                          "time": T0, "title": "seen", "attack": ["T1071.001"],
                          "related": related}])


def test_indicator_received_under_amber_is_not_re_shared_green_or_clear() -> None:
    # bank A releases its C2 address and a mule account under AMBER to the hub
    sender = ReleasePolicy(sector="jp", salt=SALT, tlp={"*": "amber"}, amber_peers=frozenset(
        {"hub"}))
    shared = release(seen("bank-a", ["ip:185.220.101.7", "account:MULE-1"]), sender, "hub")
    assert {object_tlp(o) for o in shared if o["type"] == "indicator"} == {"amber"}

    # bank B pulls it, matches it on its own traffic, and its policy would release GREEN
    subscriber = SharedIntel(salt=SALT)
    subscriber.add(shared)
    tx = conform(pl.DataFrame({"event_id": ["t1"], "tenant": ["bank-b"], "time": [T0],
                               "customer": ["c1"], "counterparty": ["mule-1"]}), "transaction")
    matched = subscriber.process(tx)
    assert matched["related"].to_list() == [["account:mule-1"]]
    found = pl.concat([seen("bank-b", ["ip:185.220.101.7", "domain:own.example"]),
                       matched.select(seen("bank-b", []).columns)], how="vertical_relaxed")
    for level in ("green", "clear"):
        lower = ReleasePolicy(sector="jp", salt=SALT, tlp={"*": level})
        out = release(found, lower, "hub", received=subscriber.received)
        indicators = {o["pattern"]: object_tlp(o) for o in out if o["type"] == "indicator"}
        # only its own domain leaves, at its own level; the received ones do not go lower
        assert indicators == {"[domain-name:value = 'own.example']": level}
        assert release(found, lower, "hub").__len__() > len(out)  # the guard is what held

    # to a peer allowed AMBER they go out, still marked AMBER (the technique too)
    amber_ok = ReleasePolicy(sector="jp", salt=SALT, tlp={"*": "green"},
                             amber_peers=frozenset({"hub"}))
    out = release(found, amber_ok, "hub", received=subscriber.received)
    levels = {o.get("pattern", o["id"]): object_tlp(o) for o in out
              if o["type"] in ("indicator", "attack-pattern")}
    assert sorted(levels.values()) == ["amber", "amber", "amber", "green"]
    assert levels == received_levels(shared) | {"[domain-name:value = 'own.example']": "green"}
