import polars as pl

from mamori.detect.baseline import AmountBaseline
from tests.conftest import batch


def payments(amounts, customer="C1"):
    return [
        {"customer": customer, "amount": a, "direction": "debit", "minute": i}
        for i, a in enumerate(amounts)
    ]


HABIT = [40.0, 55.0, 38.0, 61.0, 47.0, 52.0, 44.0, 58.0]


def test_an_outsized_payment_raises_one_explained_alert():
    alerts = AmountBaseline().process(batch("transaction", payments([*HABIT, 5000.0, 50.0])))
    assert alerts["event_ids"].to_list() == [["e8"]]
    row = alerts.row(0, named=True)
    assert row["severity"] == "medium" and row["stage"] == "cash_out"
    assert "amount 5000.0 against a typical" in row["explanation"]
    assert "over 8 earlier events" in row["explanation"]


def test_the_alerts_do_not_depend_on_batch_boundaries():
    rows = batch("transaction", payments([*HABIT, 5000.0, 50.0, 900.0, 7000.0]))
    whole = AmountBaseline().process(rows)
    for cut in (3, 8, 9, 11):
        det = AmountBaseline()
        parts = pl.concat([det.process(rows[:cut]), det.process(rows[cut:])])
        assert parts["alert_id"].to_list() == whole["alert_id"].to_list(), cut


def test_no_alert_without_enough_history_or_below_the_floor():
    assert AmountBaseline().process(batch("transaction", payments([40.0, 5000.0]))).height == 0
    small = [1.0, 1.2, 0.9, 1.1, 1.0, 1.05, 0.95, 120.0]  # z is huge but 120 < the 500 floor
    assert AmountBaseline().process(batch("transaction", payments(small))).height == 0


def test_customers_and_tenants_are_apart():
    rows = payments(HABIT, "C1") + [
        {"customer": "C2", "amount": 5000.0, "direction": "debit", "minute": 99}
    ]
    assert AmountBaseline().process(batch("transaction", rows)).height == 0
    det = AmountBaseline()
    det.process(batch("transaction", payments(HABIT), tenant="a"))
    other = batch("transaction", payments([5000.0]), tenant="b", prefix="x")
    assert det.process(other).height == 0
