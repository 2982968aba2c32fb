"""Fraud scoring over HTTP: decisions stored and replayed, 422s that store nothing,
duplicates, late payments, tenant isolation, restart."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from mamori.api.app import create_app
from mamori.api.scoring import MAX_BATCH
from mamori.detect.fraud.decision_log import DECISIONS_TABLE
from mamori.detect.fraud.features import FEATURES
from mamori.detect.fraud.model import train
from mamori.detect.fraud.registry import ModelRegistry
from tests.api.conftest import settings_for_tests

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
T0 = NOW - dt.timedelta(days=2)


@dataclass
class Server:
    client: TestClient
    data_dir: Path
    tokens: dict[str, str]

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def score(self, user: str, **tx: Any) -> dict[str, Any]:
        r = self.client.post("/v1/score/transaction", headers=self.auth(user), json=_tx(**tx))
        assert r.status_code == 200, r.text
        return dict(r.json())

    def stored(self, tenant: str) -> int:
        """Decisions of `tenant` in the table, after the writer has committed them."""
        desk = self.client.app.state.fraud_desk  # type: ignore[attr-defined]
        while desk.log.waiting():
            time.sleep(0.001)
        t = DECISIONS_TABLE
        query = sa.select(sa.func.count()).select_from(t).where(t.c.tenant == tenant)
        with self.client.app.state.services.engine.connect() as c:  # type: ignore[attr-defined]
            return int(c.execute(query).scalar_one())


def _tx(minutes: float = 0, **fields: Any) -> dict[str, Any]:
    tx = {"time": (T0 + dt.timedelta(minutes=minutes)).isoformat(), "amount": 20.0,
          "currency": "EUR", "card": "K1"}
    return {**tx, **fields}


def _serve(data_dir: Path) -> TestClient:
    return TestClient(create_app(settings_for_tests(data_dir)))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("scoring")
    client = _serve(data_dir)
    identity = client.app.state.services.identity  # type: ignore[attr-defined]
    tokens = {}
    for bank in ("bank-a", "bank-b"):
        identity.create_tenant(bank, bank)
        for role in ("analyst", "viewer"):
            user = f"{bank}-{role}"
            identity.create_user(bank, user, [role])
            tokens[user], _ = identity.issue_token(user, "t")
    with client:
        yield Server(client, data_dir, tokens)


A, B = "bank-a-analyst", "bank-b-analyst"


def test_a_payment_gets_a_decision_that_is_stored_with_its_inputs(server: Server) -> None:
    out = server.score(A, event_id="one-1", card="C-one", amount=42.5, channel="online")
    assert out["decision"] in ("approve", "review", "decline")
    assert out["model_version"] == "rules-only"  # no registry for bank-a yet
    assert out["duplicate"] is False and out["late"] is False
    assert 0.0 <= out["score"] <= 1.0
    stored = server.client.get(f"/v1/score/decisions/{out['decision_id']}", headers=server.auth(A))
    assert stored.status_code == 200
    body = stored.json()
    assert body["decision"] == out["decision"] and body["event_id"] == "one-1"
    assert body["transaction"]["amount"] == 42.5 and body["transaction"]["channel"] == "online"
    assert set(body["features"]) == set(FEATURES) and body["features"]["payer_count_1h"] == 1.0


def test_the_rules_decide_without_a_model_and_say_which_fired(server: Server) -> None:
    outs = [server.score(A, event_id=f"burst-{i}", card="C-burst", minutes=i) for i in range(6)]
    assert outs[0]["rules"] == [] and outs[0]["decision"] == "approve"
    assert outs[-1]["rules"] == ["card-burst"] and outs[-1]["decision"] == "review"


BAD = {
    "missing amount": {"amount": None},
    "missing time": {"time": None},
    "negative amount": {"amount": -5.0},
    "amount as text": {"amount": "12.50"},
    "amount not a number": {"amount": "twelve"},
    "unknown currency": {"currency": "ABC"},
    "no-currency code": {"currency": "XXX"},
    "lower-case currency": {"currency": "eur"},
    "timestamp without offset": {"time": "2026-11-01T10:00:00"},
    "timestamp not a date": {"time": "yesterday"},
    "timestamp far ahead": {"time": (NOW + dt.timedelta(days=30)).isoformat()},
    "tenant in the body": {"tenant": "bank-b"},
    "no payer": {"card": None},
    "bad ip": {"ip": "300.1.1.1"},
}


@pytest.mark.parametrize("change", BAD.values(), ids=BAD.keys())
def test_a_bad_payment_gets_422_with_the_field_and_nothing_is_stored(
    server: Server, change: dict[str, Any]
) -> None:
    before = server.stored("bank-a")
    tx = {k: v for k, v in {**_tx(event_id="bad-1"), **change}.items() if v is not None}
    r = server.client.post("/v1/score/transaction", headers=server.auth(A), json=tx)
    assert r.status_code == 422, r.text
    problems = r.json()["error"]["problems"]
    field = next(iter(change))
    assert any(field in p for p in problems) or (field == "card" and "payer" in problems[0])
    assert server.stored("bank-a") == before


def test_an_oversized_or_malformed_body_gets_422(server: Server) -> None:
    before = server.stored("bank-a")
    big = orjson.dumps(_tx(event_id="big")) + b" " * 20_000
    for body in (big, b"{not json", b""):
        r = server.client.post("/v1/score/transaction", content=body,
                               headers={**server.auth(A), "Content-Type": "application/json"})
        assert r.status_code == 422, r.text
    too_many = [_tx(minutes=i, event_id=f"many-{i}") for i in range(MAX_BATCH + 1)]
    r = server.client.post("/v1/score/transactions", headers=server.auth(A), json=too_many)
    assert r.status_code == 422
    assert server.stored("bank-a") == before


def test_a_batch_with_one_bad_payment_is_refused_whole(server: Server) -> None:
    before = server.stored("bank-a")
    batch = [_tx(minutes=i, event_id=f"half-{i}", card="C-half") for i in range(4)]
    batch[2]["amount"] = -1
    r = server.client.post("/v1/score/transactions", headers=server.auth(A), json=batch)
    assert r.status_code == 422
    assert any(p.startswith("body.2.amount") for p in r.json()["error"]["problems"])
    lines = b"\n".join(orjson.dumps(tx) for tx in batch)
    r = server.client.post("/v1/score/transactions", content=lines,
                           headers={**server.auth(A), "Content-Type": "application/x-ndjson"})
    assert r.status_code == 422
    assert any(p.startswith("body.2.amount") for p in r.json()["error"]["problems"])
    assert server.stored("bank-a") == before
    fresh = server.score(A, event_id="half-0", card="C-half")  # half-0 was never scored
    assert fresh["duplicate"] is False and fresh["rules"] == []


def test_a_batch_as_json_lines_or_array_is_scored_in_order(server: Server) -> None:
    batch = [_tx(minutes=i, event_id=f"nd-{i}", card="C-nd") for i in range(3)]
    lines = b"\n".join(orjson.dumps(tx) for tx in batch)
    r = server.client.post("/v1/score/transactions", content=lines,
                           headers={**server.auth(A), "Content-Type": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    assert [d["event_id"] for d in r.json()["decisions"]] == ["nd-0", "nd-1", "nd-2"]
    more = [_tx(minutes=3 + i, event_id=f"nd-{3 + i}", card="C-nd") for i in range(2)]
    r = server.client.post("/v1/score/transactions", headers=server.auth(A), json=more)
    assert r.json()["count"] == 2 and r.json()["duplicates"] == 0
    last = server.client.get(f"/v1/score/decisions/{r.json()['decisions'][-1]['decision_id']}",
                             headers=server.auth(A)).json()
    assert last["features"]["payer_count_1h"] == 5.0  # the batches saw each other


def test_a_duplicate_answers_the_stored_decision_and_is_not_counted_twice(
    server: Server,
) -> None:
    first = server.score(A, event_id="dup-1", card="C-dup", amount=10.0)
    before = server.stored("bank-a")
    again = server.score(A, event_id="dup-1", card="C-dup", amount=99_999.0, minutes=1)
    assert again["duplicate"] is True
    assert {k: v for k, v in again.items() if k != "duplicate"} == {
        k: v for k, v in first.items() if k != "duplicate"}
    r = server.client.post("/v1/score/transactions", headers=server.auth(A),
                           json=[_tx(event_id="dup-1", card="C-dup"),
                                 _tx(event_id="dup-1", card="C-dup")])
    assert r.json()["duplicates"] == 2
    nxt = server.score(A, event_id="dup-2", card="C-dup", minutes=2)
    got = server.client.get(f"/v1/score/decisions/{nxt['decision_id']}", headers=server.auth(A))
    assert got.json()["features"]["payer_count_1h"] == 2.0  # dup-1 once, and dup-2
    assert server.stored("bank-a") == before + 1
    # without an event id, the same fields make the same id: a resend is a duplicate
    plain = _tx(card="C-noid", minutes=5)
    ids = [server.client.post("/v1/score/transaction", headers=server.auth(A), json=plain).json()
           for _ in range(2)]
    assert ids[0]["event_id"] == ids[1]["event_id"] and ids[1]["duplicate"] is True


def test_a_late_payment_is_scored_as_of_its_own_time(server: Server) -> None:
    server.score(A, event_id="late-0", card="C-late", minutes=600)
    server.score(A, event_id="late-2", card="C-late", minutes=640)
    late = server.score(A, event_id="late-1", card="C-late", minutes=620)
    assert late["late"] is True
    feats = server.client.get(f"/v1/score/decisions/{late['decision_id']}",
                              headers=server.auth(A)).json()["features"]
    assert feats["payer_count_1h"] == 2.0  # late-0 and itself; late-2 is after it
    assert feats["payer_seconds_since_last"] == 20 * 60.0
    after = server.score(A, event_id="late-3", card="C-late", minutes=650)
    feats = server.client.get(f"/v1/score/decisions/{after['decision_id']}",
                              headers=server.auth(A)).json()["features"]
    assert after["late"] is False and feats["payer_count_1h"] == 4.0


def test_decisions_are_the_tenants_own(server: Server) -> None:
    a = server.score(A, event_id="shared-1", card="C-shared")
    b = server.score(B, event_id="shared-1", card="C-shared")
    assert b["duplicate"] is False and a["decision_id"] != b["decision_id"]
    for path in (f"/v1/score/decisions/{a['decision_id']}",):
        assert server.client.get(path, headers=server.auth(B)).status_code == 404
        assert server.client.post(path + "/replay", headers=server.auth(B)).status_code == 404
        got = server.client.get(path, headers=server.auth(A))
        assert got.status_code == 200 and got.json()["event_id"] == "shared-1"
    b_card = server.client.get(f"/v1/score/decisions/{b['decision_id']}", headers=server.auth(B))
    assert b_card.json()["features"]["payer_count_1h"] == 1.0  # bank-a's payment not seen


def test_roles_and_tokens(server: Server) -> None:
    viewer = server.client.post("/v1/score/transaction", headers=server.auth("bank-a-viewer"),
                                json=_tx(event_id="v-1"))
    assert viewer.status_code == 403
    assert server.client.post("/v1/score/transaction", json=_tx()).status_code == 401


def test_replay_of_a_rules_only_decision_is_the_same(server: Server) -> None:
    out = server.score(A, event_id="rp-5", card="C-burst", minutes=7)
    assert out["rules"] == ["card-burst"]
    r = server.client.post(f"/v1/score/decisions/{out['decision_id']}/replay",
                           headers=server.auth(A))
    assert r.status_code == 200
    assert r.json()["same"] is True and r.json()["replayed"]["rules"] == ["card-burst"]
    assert server.client.post("/v1/score/decisions/fd-nothing/replay",
                              headers=server.auth(A)).status_code == 404


def _tiny_model(seed: int) -> Any:
    """A model that has learned: big amounts are fraud."""
    rng = np.random.default_rng(seed)
    n = 3_000
    X = rng.random((n, len(FEATURES)))
    X[:, FEATURES.index("amount")] = rng.exponential(100.0, n)
    y = (X[:, FEATURES.index("amount")] > 250).astype(np.int64)
    start = int((T0 - dt.timedelta(days=60)).timestamp() * 1e6)
    times = start + np.arange(n, dtype=np.int64) * 60_000_000
    cut = dt.datetime.fromtimestamp((start + 2_400 * 60_000_000) / 1e6, dt.UTC)
    return train(X, y, times, validate_from=cut, max_trees=15,
                 params={"min_data_in_leaf": 20})


def test_with_a_model_replay_uses_the_stored_version_and_restart_keeps_state(
    tmp_path: Path,
) -> None:
    registry = ModelRegistry(tmp_path / "fraud-models" / "bank-a")
    first, second = _tiny_model(1), _tiny_model(2)
    registry.add(first)
    registry.promote(first.version)
    client = _serve(tmp_path)
    identity = client.app.state.services.identity  # type: ignore[attr-defined]
    identity.create_tenant("bank-a", "A")
    identity.create_user("bank-a", "u", ["analyst"])
    token, _ = identity.issue_token("u", "t")
    auth = {"Authorization": f"Bearer {token}"}
    with client:
        big = client.post("/v1/score/transaction", headers=auth,
                          json=_tx(event_id="m-1", amount=5_000.0)).json()
        small = client.post("/v1/score/transaction", headers=auth,
                            json=_tx(event_id="m-2", amount=5.0, minutes=1)).json()
    assert big["model_version"] == first.version
    assert big["model_score"] > 0.5 > small["model_score"]
    assert big["reasons"] and big["reasons"][0].startswith("amount=")
    registry.add(second)
    registry.promote(second.version)  # a new production model after the decisions
    with _serve(tmp_path) as again:  # a restart: the scorer is rebuilt from the log
        replay = again.post(f"/v1/score/decisions/{big['decision_id']}/replay",
                            headers=auth).json()
        assert replay["same"] is True and replay["replayed"]["model_version"] == first.version
        assert replay["replayed"]["reasons"] == big["reasons"]
        dup = again.post("/v1/score/transaction", headers=auth, json=_tx(event_id="m-1")).json()
        assert dup["duplicate"] is True and dup["decision_id"] == big["decision_id"]
        nxt = again.post("/v1/score/transaction", headers=auth,
                         json=_tx(event_id="m-3", minutes=2)).json()
        assert nxt["model_version"] == second.version
        feats = again.get(f"/v1/score/decisions/{nxt['decision_id']}", headers=auth).json()
        assert feats["features"]["payer_count_1h"] == 3.0  # m-1 and m-2 from before the restart


def test_a_batch_is_scored_at_once_as_one_by_one_with_late_and_repeated_payments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mamori.detect.fraud import serving
    from mamori.detect.fraud.serving import ScoringDesk
    from mamori.store.migrations import upgrade

    monkeypatch.setattr(serving, "BATCH_AT_LEAST", 10)  # runs of 20 here

    rng = np.random.default_rng(3)
    minutes = np.sort(rng.uniform(0, 600, 60))
    payments = [{"event_id": f"b{i}", "time": T0 + dt.timedelta(minutes=float(m)),
                 "amount": float(rng.lognormal(3, 1)), "currency": "EUR",
                 "card": f"K{rng.integers(0, 4)}", "terminal": f"T{rng.integers(0, 3)}",
                 "channel": "online"} for i, m in enumerate(minutes)]
    payments.insert(40, {**payments[10], "event_id": "b-late"})  # 30 payments late
    payments.insert(20, payments[5])  # sent twice within the batch

    def desk(name: str) -> ScoringDesk:
        engine = sa.create_engine(f"sqlite:///{tmp_path / name}.db")
        upgrade(engine)
        return ScoringDesk(engine, tmp_path / "models")

    alone, batched = desk("alone"), desk("batched")
    one_by_one = [alone.score("bank-a", [tx])[0] for tx in payments]
    scorer = batched.tenant("bank-a").scorer
    calls = {"batch": 0, "one": 0}
    for name, key in (("score_batch", "batch"), ("score_one", "one")):
        method = getattr(scorer, name)

        def counted(*args: Any, _m: Any = method, _k: str = key) -> Any:
            calls[_k] += 1
            return _m(*args)

        setattr(scorer, name, counted)
    at_once = batched.score("bank-a", payments)
    assert calls == {"batch": 3, "one": 1}  # runs split by the repeat and the late payment
    assert at_once == one_by_one
    assert [d["late"] for d in at_once].count(True) == 1 and at_once[20]["duplicate"]
    for d in at_once:
        assert batched.get("bank-a", d["decision_id"])["features"] == pytest.approx(
            alone.get("bank-a", d["decision_id"])["features"], nan_ok=True)
    alone.close()
    batched.close()


def test_survivors_are_frozen_out_of_full_collections_every_period() -> None:
    import asyncio
    import contextlib
    import gc

    from mamori.api.scoring import keep_survivors_frozen

    async def run_a_while() -> None:
        steward = asyncio.create_task(keep_survivors_frozen(0.01))
        await asyncio.sleep(0.05)
        steward.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await steward

    assert gc.get_freeze_count() == 0
    kept = [[i] for i in range(1_000)]  # long-lived containers, as a scorer's state
    try:
        asyncio.run(run_a_while())
        assert gc.get_freeze_count() >= len(kept)
        oldest = {id(o) for o in gc.get_objects(generation=2)}
        assert not any(id(k) in oldest for k in kept)  # a full pass no longer walks them
    finally:
        gc.unfreeze()


def test_a_fraud_label_counts_in_terminal_risk_from_known_at_and_after_a_restart(
    tmp_path: Path,
) -> None:
    client = _serve(tmp_path)
    identity = client.app.state.services.identity  # type: ignore[attr-defined]
    identity.create_tenant("bank-a", "A")
    identity.create_user("bank-a", "u", ["analyst"])
    token, _ = identity.issue_token("u", "t")
    auth = {"Authorization": f"Bearer {token}"}

    def share(c: TestClient, event_id: str, minutes: float, card: str) -> float:
        out = c.post("/v1/score/transaction", headers=auth,
                     json=_tx(event_id=event_id, minutes=minutes, card=card, terminal="TL"))
        got = c.get(f"/v1/score/decisions/{out.json()['decision_id']}", headers=auth).json()
        return float(got["features"]["terminal_fraud_share_1d"])

    known_at = (T0 + dt.timedelta(hours=1)).isoformat()
    with client:
        assert share(client, "l-1", 0, "CL1") == 0.0
        r = client.post("/v1/score/labels", headers=auth,
                        json=[{"event_id": "l-1", "fraud": True, "known_at": known_at},
                              {"event_id": "never-scored", "fraud": False}])
        assert r.status_code == 200, r.text
        assert r.json() == {"received": 2, "matched": 1}
        assert share(client, "l-2", 30, "CL2") == 0.0  # before known_at: not yet known
        assert share(client, "l-3", 120, "CL3") == 1.0  # 1 labelled payment, 1 fraud
    with _serve(tmp_path) as again:  # a restart replays the stored label
        assert share(again, "l-4", 180, "CL4") == 1.0
        assert share(again, "l-5", 60 * 26, "CL5") == 0.0  # the label left the 1 d window


@pytest.mark.parametrize("body", [
    [{"event_id": "x", "fraud": True, "tenant": "bank-b"}],  # unknown field
    [{"event_id": "x", "fraud": "yes"}],  # not a boolean
    [{"event_id": "x", "fraud": 1}],
    [{"event_id": "x", "fraud": True, "known_at": "2026-01-01T00:00:00"}],  # no UTC offset
    [{"fraud": True}],  # no payment named
    [],
    {"event_id": "x", "fraud": True},  # not an array
])
def test_a_bad_label_gets_422_and_nothing_is_stored(server: Server, body: Any) -> None:
    r = server.client.post("/v1/score/labels", headers=server.auth(A), json=body)
    assert r.status_code == 422, r.text
    desk = server.client.app.state.fraud_desk  # type: ignore[attr-defined]
    assert desk.log.labels("bank-a") == []


def test_labels_need_a_role_that_may_score(server: Server) -> None:
    r = server.client.post("/v1/score/labels", headers=server.auth("bank-a-viewer"),
                           json=[{"event_id": "x", "fraud": True}])
    assert r.status_code == 403
