"""Writing to disk: the file layout and a summary that adds up."""

from __future__ import annotations

import re

import polars as pl

from mamori.events.schema import schema
from mamori.simulate import SCENARIOS, SimConfig, write_simulation

from .conftest import START


def test_write_simulation_files_and_summary(tmp_path):
    cfg = SimConfig(
        seed=5,
        customers=300,
        tenants=("bank-a", "bank-b"),
        start=START,
        scenarios=("insider", "card_fraud", "exfiltration"),
    )
    summary = write_simulation(cfg, tmp_path)
    files = sorted((tmp_path / "events").rglob("*.parquet"))
    assert files
    by_kind: dict[str, int] = {}
    for path in files:
        kind = path.parent.name
        match = re.fullmatch(r"(bank-[ab])-20261102-(\d\d)\.parquet", path.name)
        assert match, path.name
        frame = pl.read_parquet(path)
        assert frame.height > 0
        assert frame.schema == pl.Schema(schema(kind))
        assert (frame["tenant"] == match[1]).all()
        assert (frame["time"].dt.hour() == int(match[2])).all()
        by_kind[kind] = by_kind.get(kind, 0) + frame.height
    assert summary["by_kind"] == by_kind
    assert summary["events"] == sum(by_kind.values())
    truth = pl.read_parquet(tmp_path / "truth.parquet")
    assert summary["scenarios"] == truth.height == 2 * 3
    assert set(truth["scenario"]) <= set(SCENARIOS)
    for name in ("customers", "employees", "hosts"):
        table = pl.read_parquet(tmp_path / "reference" / f"{name}.parquet")
        assert set(table["tenant"]) == {"bank-a", "bank-b"}
    assert summary["seconds"] > 0
