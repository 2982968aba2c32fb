"""A synthetic bank under attack, with labelled ground truth.

Seeded and deterministic: the same `SimConfig` always gives the same events, event ids and
truth. Each tenant is a separate bank with its own customers (accounts, cards, devices,
payees, spending habits), staff, workstations and servers, and its own random streams. Every
day of every tenant gets benign background (card spend with daily and weekly rhythm, bills,
salaries, transfers, online-banking logins, staff at work on Windows, network flows, nightly
backups) plus one instance of each attack scenario at a seeded time. Generation is
vectorised and runs a day at a time, so memory stays bounded over long runs.

>>> from datetime import UTC, datetime
>>> cfg = SimConfig(seed=7, customers=300, start=datetime(2026, 11, 2, tzinfo=UTC))
>>> sim = simulate(cfg)
>>> chunks = list(sim.chunks())
>>> len(chunks), sorted(chunks[12].batches)
(24, ['auth', 'flow', 'transaction', 'winlog'])
>>> sim.truth()["scenario"].to_list() == list(SCENARIOS)
True
"""

from mamori.simulate.config import SimConfig
from mamori.simulate.scenarios import SCENARIOS
from mamori.simulate.simulation import Chunk, Simulation, simulate
from mamori.simulate.writer import write_simulation

__all__ = ["SCENARIOS", "Chunk", "SimConfig", "Simulation", "simulate", "write_simulation"]
