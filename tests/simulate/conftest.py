"""Shared small simulations: generated once per test session, they keep the suite fast."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl
import pytest

from mamori.simulate import Chunk, SimConfig, simulate

START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday


@dataclass
class Run:
    """Everything one simulation produced."""

    cfg: SimConfig
    chunks: list[Chunk]
    truth: pl.DataFrame
    reference: dict[str, pl.DataFrame]

    def events(self, kind: str) -> pl.DataFrame:
        """All events of a kind across the run, in chunk order."""
        return pl.concat([c.batches[kind] for c in self.chunks])


def run(cfg: SimConfig) -> Run:
    sim = simulate(cfg)
    chunks = list(sim.chunks())
    return Run(cfg, chunks, sim.truth(), sim.reference())


@pytest.fixture(scope="session")
def two_banks() -> Run:
    """Two tenants, two working days, 500 customers each."""
    return run(SimConfig(seed=11, customers=500, days=2, tenants=("bank-a", "bank-b"), start=START))


@pytest.fixture(scope="session")
def one_bank() -> Run:
    """One tenant, one working day, 500 customers."""
    return run(SimConfig(seed=11, customers=500, days=1, tenants=("bank-a",), start=START))
