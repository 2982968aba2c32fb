"""Partition-safe detectors give the same alerts on a stream split by entity as on the whole."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from mamori.detect.rules import load_rules
from mamori.engine.pipeline import Pipeline
from mamori.events.readers import read_path
from mamori.simulate import SimConfig, write_simulation
from mamori.stream.partitioning import (
    partition_of,
    partition_safe_detectors,
    rule_is_partition_safe,
)


@pytest.fixture(scope="module")
def sim_events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    write_simulation(SimConfig(seed=3, customers=100, days=1), out)
    return out / "events"


def _alerts(batches: list[pl.DataFrame], rows: int) -> pl.DataFrame:
    pipeline = Pipeline(partition_safe_detectors(), batch_rows=rows)
    pipeline.run(batches)
    return pipeline.alerts().sort("alert_id")


def test_split_by_entity_and_cut_small_gives_the_whole_streams_alerts(sim_events: Path) -> None:
    batches = list(read_path(sim_events))
    whole = _alerts(batches, 1_000_000)
    split = []
    for part in range(4):
        mine = [b.filter(partition_of(b, 4) == part) for b in batches]
        split.append(_alerts(mine, 700))
    parts = pl.concat(split).sort("alert_id")
    assert whole.height > 50  # the simulated attacks do raise alerts
    assert parts.equals(whole)


def test_one_entity_one_partition_and_every_partition_used(sim_events: Path) -> None:
    flows = pl.concat(b for b in read_path(sim_events / "flow"))
    parts = flows.with_columns(p=partition_of(flows, 8))
    assert parts.group_by("tenant", "src_ip").agg(pl.col("p").n_unique())["p"].max() == 1
    assert sorted(parts["p"].unique().to_list()) == list(range(8))
    assert partition_of(flows, 8).equals(partition_of(flows, 8))


def test_rules_kept_and_left_out_for_the_reason_given() -> None:
    rules = {r.id: r for r in load_rules()}
    # novelty over (tenant, dst_ip): history spans every source host
    assert not rule_is_partition_safe(rules["MR-NET-003"])
    # window grouped by src_ip/24 on auth, keyed by src_ip: a /24 spans partitions
    assert not rule_is_partition_safe(rules["MR-AUTH-001"])
    safe = [r for r in rules.values() if rule_is_partition_safe(r)]
    assert any(r.window is not None for r in safe)  # windowed rules by card/account stay
    # novelty of (user, host) keeps a history per user, who logs on to many hosts
    assert not rule_is_partition_safe(rules["MR-WIN-007"])
    assert all("Computer" in r.group_by for r in safe if r.kind == "winlog" and r.window)


def test_safe_set_leaves_out_the_cross_entity_detectors() -> None:
    names = {d.name for d in partition_safe_detectors()}
    assert {"aml", "spike", "lateral-movement", "beaconing"}.isdisjoint(names)
    assert {"rules", "baseline", "network-scan", "brute-force"} <= names
