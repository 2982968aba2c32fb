"""The fraud detector: alerts for payments held, per tenant, through a checkpoint."""

from __future__ import annotations

import polars as pl

from mamori.detect.fraud.detector import FraudDetector
from mamori.engine.checkpoint import Checkpoint
from mamori.events.schema import ALERT
from tests.conftest import batch


def _burst(tenant: str) -> pl.DataFrame:
    rows = [{"card": "K1", "customer": "C1", "amount": 20.0, "currency": "EUR", "minute": i}
            for i in range(8)]
    rows += [{"card": "K2", "amount": 20.0, "minute": 30 * i} for i in range(8)]
    return batch("transaction", rows, tenant=tenant, prefix=tenant)


def test_alerts_on_held_payments_only_with_evidence():
    alerts = FraudDetector().process(_burst("bank-a"))
    assert alerts.schema == pl.Schema(ALERT)
    # the 5th to 8th payment of K1 within ten minutes; K2's slow payments pass
    assert alerts.height == 4 and set(alerts["entity_id"]) == {"K1"}
    row = alerts.row(0, named=True)
    assert row["severity"] == "medium" and row["rule_id"] == "fraud-review"
    assert row["entity_type"] == "card" and "customer:C1" in row["related"]
    assert "card-burst" in row["explanation"] and row["stage"] == "card_fraud"


def test_tenants_do_not_share_windows():
    both = pl.concat([_burst("bank-a").head(3), _burst("bank-b").head(3)]).sort("time")
    assert FraudDetector().process(both).height == 0


def test_a_restored_detector_continues_the_windows(tmp_path):
    events = _burst("bank-a")
    a = FraudDetector()
    a.process(events.head(3))
    Checkpoint(tmp_path).save(0, {"d": a.snapshot()})  # Arrow IPC and JSON, as the engine
    b = FraudDetector()
    b.restore(Checkpoint(tmp_path).load()[1]["d"])
    assert b.process(events.slice(3)).equals(a.process(events.slice(3)))
    assert b.process(events.head(0)).height == 0
