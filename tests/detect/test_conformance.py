"""Checks every detector must pass (like scikit-learn's estimator checks)."""

import polars as pl
import pytest

from mamori.engine.checkpoint import Checkpoint
from mamori.engine.pipeline import default_detectors
from mamori.events.schema import ALERT, KINDS, empty
from tests.conftest import batch

DETECTORS = default_detectors()


def sample(kind):
    rows = {
        "transaction": [
            {
                "customer": "C1",
                "account": "A1",
                "amount": 10.0 + i,
                "direction": "debit",
                "channel": "online",
                "counterparty": f"P{i % 3}",
                "device": "D1",
            }
            for i in range(30)
        ],
        "auth": [
            {"user": "C1", "src_ip": "203.0.113.1", "action": "login", "outcome": "failure"}
            for _ in range(30)
        ],
        "flow": [
            {"src_ip": f"198.51.100.{i}", "dst_ip": "10.0.0.5", "dst_port": 443, "bytes_out": 100}
            for i in range(30)
        ],
        "winlog": [{"EventID": 1, "Computer": "WS1", "Image": "C:\\a.exe"} for _ in range(30)],
        "log": [{"host": "h", "message": "x"} for _ in range(30)],
    }
    return batch(kind, rows[kind])


@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: d.name)
def test_detector_declares_name_and_kinds(detector):
    assert detector.name and detector.kinds and detector.kinds <= set(KINDS)


@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: d.name)
def test_empty_batches_give_empty_alerts_with_the_schema(detector):
    for kind in detector.kinds:
        alerts = detector.process(empty(kind))
        assert alerts.height == 0 and alerts.schema == pl.Schema(ALERT)


@pytest.mark.parametrize(
    "make",
    [lambda i=i: default_detectors()[i] for i in range(len(DETECTORS))],
    ids=[d.name for d in DETECTORS],
)
def test_snapshot_restore_through_a_checkpoint_gives_the_same_alerts(make, tmp_path):
    a, b = make(), make()
    for kind in sorted(a.kinds):
        first, second = sample(kind)[:15], sample(kind)[15:]
        a.process(first)
        Checkpoint(tmp_path / kind).save(0, {"d": a.snapshot()})
        b.restore(Checkpoint(tmp_path / kind).load()[1]["d"])
        out_a, out_b = a.process(second), b.process(second)
        assert out_a.schema == pl.Schema(ALERT)
        assert out_a.equals(out_b)
