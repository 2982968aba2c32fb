"""Each typology fires at its threshold and not below, with its evidence in the alert."""

import json
from datetime import timedelta

import polars as pl
import pytest

from mamori.detect.aml import AmlGraph
from mamori.detect.aml.typologies import Thresholds
from mamori.engine.checkpoint import Checkpoint
from tests.conftest import batch


def tx(rows, prefix="t"):
    return batch("transaction", rows, prefix=prefix)


def credits(account, payers, minute=0, amount=None, step=5):
    return [
        {
            "account": account,
            "counterparty": p,
            "amount": amount if amount is not None else 500.0 + 7 * i,
            "direction": "credit",
            "minute": minute + step * i,
        }
        for i, p in enumerate(payers)
    ]


def rules(alerts):
    return sorted(set(zip(alerts["rule_id"], alerts["entity_id"], strict=True)))


def test_fan_in_fires_at_ten_distinct_payers_within_a_day_and_not_at_nine():
    nine = AmlGraph().process(tx(credits("A1", [f"P{i}" for i in range(9)])))
    assert nine.height == 0
    ten = AmlGraph().process(tx(credits("A1", [f"P{i}" for i in range(10)])))
    assert rules(ten) == [("aml-fan_in", "A1")]
    row = ten.row(0, named=True)
    assert row["score"] == 0.5 and row["severity"] == "medium" and row["stage"] == "placement"
    evidence = json.loads(row["explanation"])
    assert evidence["typology"] == "fan_in" and evidence["size"] == 10
    assert {e["src"] for e in evidence["edges"]} == {f"P{i}" for i in range(10)}
    assert sorted(row["event_ids"]) == sorted(e["event_id"] for e in evidence["edges"])
    assert sorted(row["related"]) == sorted(f"account:P{i}" for i in range(10))


def test_fan_in_payers_spread_over_more_than_a_day_do_not_count_together():
    spread = credits("A1", [f"P{i}" for i in range(12)], step=180)  # one every 3 hours
    assert AmlGraph().process(tx(spread)).height == 0


def test_a_fan_in_built_over_several_batches_fires_on_the_batch_that_completes_it():
    rows = tx(credits("A1", [f"P{i}" for i in range(10)]))
    detector = AmlGraph()
    assert detector.process(rows[:4]).height == 0
    assert detector.process(rows[4:9]).height == 0
    assert rules(detector.process(rows[9:])) == [("aml-fan_in", "A1")]


def test_fan_out_scores_the_paying_account():
    rows = [
        {"account": "A1", "counterparty": f"Q{i}", "amount": 100.0 + i, "direction": "debit"}
        for i in range(20)
    ]
    alerts = AmlGraph().process(tx(rows))
    assert rules(alerts) == [("aml-fan_out", "A1")]
    assert alerts["score"][0] == 0.75  # twice the threshold
    assert alerts["stage"][0] == "layering"


def test_identical_amounts_from_three_distinct_payers_are_a_structured_fan_in():
    far_apart = credits("A1", ["P1", "P2", "P3"], amount=234.08, step=60 * 24 * 9)
    alerts = AmlGraph().process(tx(far_apart))
    assert rules(alerts) == [("aml-fan_in_alike", "A1")]
    assert AmlGraph().process(tx(far_apart[:2])).height == 0
    varied = credits("A1", ["P1", "P2", "P3"], step=60 * 24 * 9)
    assert AmlGraph().process(tx(varied)).height == 0


def test_pass_through_needs_most_of_the_money_out_within_hours():
    money_in = credits("M1", ["P1", "P2", "P3"], step=30)
    for i, row in enumerate(money_in):
        row["amount"] = 1000.0 + 10 * i
    out = {"account": "M1", "counterparty": "C1", "direction": "debit", "minute": 300}
    passed = AmlGraph().process(tx([*money_in, {**out, "amount": 2700.0}]))
    assert rules(passed) == [("aml-pass_through", "M1")]
    evidence = json.loads(passed["explanation"][0])
    assert {e["dst"] for e in evidence["edges"]} == {"M1", "C1"}
    kept = AmlGraph().process(tx([*money_in, {**out, "amount": 1500.0}]))
    assert kept.height == 0
    late = AmlGraph().process(tx([*money_in, {**out, "amount": 2700.0, "minute": 60 * 14}]))
    assert late.height == 0


def _leg(src, dst, amount, minute):
    return {
        "account": src,
        "counterparty": dst,
        "amount": amount,
        "direction": "debit",
        "minute": minute,
    }


def test_a_cycle_of_three_accounts_flags_each_of_them_and_a_round_trip_does_not():
    cycle = [_leg("A", "B", 5000.0, 0), _leg("B", "C", 4800.0, 600), _leg("C", "A", 4600.0, 1200)]
    alerts = AmlGraph().process(tx(cycle))
    assert rules(alerts) == [("aml-cycle", "A"), ("aml-cycle", "B"), ("aml-cycle", "C")]
    assert len(json.loads(alerts["explanation"][0])["edges"]) == 3
    round_trip = [_leg("A", "B", 5000.0, 0), _leg("B", "A", 4900.0, 600)]
    assert AmlGraph().process(tx(round_trip)).height == 0
    reordered = [
        _leg("B", "C", 4800.0, 0),
        _leg("A", "B", 5000.0, 600),
        _leg("C", "A", 4600.0, 1200),
    ]
    assert AmlGraph().process(tx(reordered)).height == 0  # money cannot leave before it came


def test_a_chain_through_new_accounts_flags_the_new_accounts():
    detector = AmlGraph()
    history = [_leg("OLD", "X", 50.0, 0)]  # the detector has watched since day 0
    detector.process(tx(history, prefix="h"))
    day = 60 * 24
    opened = [_leg(n, "X", 1.0, 40 * day + i) for i, n in enumerate(["N1", "N2"])]
    detector.process(tx(opened, prefix="o"))  # N1 and N2 first seen on day 40
    chain = [
        _leg("OLD", "N1", 9000.0, 41 * day),
        _leg("N1", "N2", 8800.0, 41 * day + 60),
        _leg("N2", "Z", 8600.0, 41 * day + 120),
    ]
    alerts = detector.process(tx(chain, prefix="c"))
    assert rules(alerts) == [("aml-new_account_chain", "N1"), ("aml-new_account_chain", "N2")]


def test_three_accounts_paying_from_one_device_are_a_ring():
    rows = [
        {**_leg(a, "C1", 100.0, i), "device": "dev-1", "ip": f"203.0.113.{i}"}
        for i, a in enumerate(["M1", "M2", "M3"])
    ]
    alerts = AmlGraph().process(tx(rows))
    assert rules(alerts) == [("aml-shared_device_ring", m) for m in ("M1", "M2", "M3")]
    assert "device:dev-1" in alerts["related"][0]
    assert AmlGraph().process(tx(rows[:2])).height == 0


def test_one_alert_per_account_and_typology_per_day():
    detector = AmlGraph()
    rows = tx(credits("A1", [f"P{i}" for i in range(14)]))
    assert detector.process(rows[:10]).height == 1
    assert detector.process(rows[10:]).height == 0


def test_old_edges_are_evicted_and_counted():
    detector = AmlGraph(window=timedelta(days=1))
    detector.process(tx([_leg("A", "B", 10.0, 0), _leg("A", "C", 10.0, 60 * 30)]))
    assert detector.graph.edges.height == 1 and detector.graph.evicted_edges == 1
    capped = AmlGraph(max_edges=2)
    capped.process(tx([_leg("A", f"B{i}", 10.0, i) for i in range(5)]))
    assert capped.graph.edges.height == 2 and capped.graph.evicted_edges == 3


def test_declined_payments_and_rows_without_counterparty_are_not_transfers():
    rows = credits("A1", [f"P{i}" for i in range(10)])
    rows[0]["status"] = "declined"
    rows[1]["counterparty"] = None
    assert AmlGraph().process(tx(rows)).height == 0


@pytest.mark.parametrize("cut", [3, 7, 11])
def test_snapshot_and_restore_give_the_alerts_of_one_uninterrupted_run(cut, tmp_path):
    rows = tx(
        credits("A1", [f"P{i}" for i in range(12)], amount=700.0) + [_leg("A1", "C9", 7000.0, 80)]
    )
    whole = AmlGraph(thresholds=Thresholds())
    expected = whole.process(rows)
    first = AmlGraph()
    before = first.process(rows[:cut])
    Checkpoint(tmp_path).save(0, {"aml": first.snapshot()})
    second = AmlGraph()
    second.restore(Checkpoint(tmp_path).load()[1]["aml"])
    after = second.process(rows[cut:])
    assert rules(pl.concat([before, after])) == rules(expected)
    assert set(rules(expected)) >= {("aml-fan_in", "A1"), ("aml-pass_through", "A1")}


def test_a_scheme_paying_every_40_days_names_each_payer_in_one_long_batch():
    day = 60 * 24
    payers = [f"P{i}" for i in range(6)]
    rows = credits("H1", payers, amount=201.63, step=40 * day)  # 200 days in one batch
    alerts = AmlGraph().process(tx(rows))
    assert set(alerts["rule_id"]) == {"aml-fan_in_alike"} and alerts.height == 4
    named = {a for e in alerts["explanation"] for a in json.loads(e)["accounts"]}
    assert named == {"H1", *payers}
    sizes = [json.loads(e)["size"] for e in alerts["explanation"]]
    assert sizes == [3, 3, 3, 3]  # never more than three payers within 90 days
