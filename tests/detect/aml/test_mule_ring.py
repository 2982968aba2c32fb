"""The simulator's mule ring is caught: alerts on the ring's accounts, none elsewhere."""

import json

import polars as pl

from mamori.detect.aml import AmlGraph
from mamori.simulate.config import SimConfig
from mamori.simulate.simulation import simulate


def test_the_simulated_mule_ring_raises_alerts_on_its_mule_accounts_only():
    sim = simulate(SimConfig(seed=3, customers=400, scenarios=("mule_ring",)))
    detector = AmlGraph()
    found = [detector.process(chunk.batches["transaction"]) for chunk in sim.chunks()]
    alerts = pl.concat(found)
    truth = sim.truth().row(0, named=True)
    ring = {e.removeprefix("account:") for e in truth["entities"] if e.startswith("account:")}
    flagged = set(alerts["entity_id"])
    mules = {a for a in ring if not a.startswith("EXT")} & flagged
    assert flagged <= ring  # nothing on the bank's other 399 customers
    assert len(mules) >= 3
    typologies = set(alerts["rule_id"])
    assert {"aml-fan_in", "aml-pass_through"} <= typologies
    evidence = json.loads(alerts.filter(pl.col("rule_id") == "aml-pass_through")["explanation"][0])
    assert set(evidence["accounts"]) & (ring - flagged)  # the collectors are in the evidence
    shown = set(alerts["event_ids"].explode())  # the mules' own payments may show too
    assert len(shown & set(truth["event_ids"])) >= 0.9 * len(shown)
