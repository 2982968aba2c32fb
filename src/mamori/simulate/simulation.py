"""A simulation run: days generated one at a time, yielded as hourly chunks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from mamori.simulate.clock import HOUR
from mamori.simulate.config import SimConfig
from mamori.simulate.context import Day, day_start
from mamori.simulate.day import EMITTED_KINDS, TRUTH_SCHEMA, DayBatches, RecordNumbers, generate_day
from mamori.simulate.population import Population, build_population
from mamori.simulate.scenarios import SCENARIOS


@dataclass(frozen=True)
class Chunk:
    """One hour of events across all tenants: a conformed, time-sorted batch per kind, every
    event with `start <= time < end`. Every emitted kind has a batch, possibly empty."""

    start: datetime
    end: datetime
    batches: dict[str, pl.DataFrame]

    @property
    def events(self) -> int:
        return sum(batch.height for batch in self.batches.values())


class Simulation:
    """A seeded synthetic bank (or several) under attack.

    Memory stays bounded by one day of all tenants: `chunks()` generates a day, yields its 24
    hours and moves on. The ground truth of a day is complete once its chunks are generated;
    `truth()` returns all of it, generating (and discarding) the events if they have not
    been iterated to the end.
    """

    def __init__(self, cfg: SimConfig) -> None:
        unknown = set(cfg.scenarios or ()) - set(SCENARIOS)
        if unknown:
            raise ValueError(f"unknown scenarios {sorted(unknown)}; known: {', '.join(SCENARIOS)}")
        self.cfg = cfg
        self.scenarios: tuple[str, ...] = (
            SCENARIOS if cfg.scenarios is None else tuple(cfg.scenarios)
        )
        self._populations: dict[str, Population] = {}
        self._truth: pl.DataFrame | None = None

    def population(self, tenant: str) -> Population:
        """A tenant's population, built on first use."""
        if tenant not in self._populations:
            self._populations[tenant] = build_population(self.cfg, tenant)
        return self._populations[tenant]

    def chunks(self) -> Iterator[Chunk]:
        """Hourly chunks in time order, all tenants together."""
        for midnight, days in self._days():
            for hour in range(24):
                start = midnight + hour * HOUR
                batches = {
                    kind: _merge([_hour(d.frames[kind], start) for d in days])
                    for kind in EMITTED_KINDS
                }
                yield Chunk(_datetime(start), _datetime(start + HOUR), batches)

    def truth(self) -> pl.DataFrame:
        """One row per injected scenario instance (see `day.TRUTH_SCHEMA`)."""
        if self._truth is None:
            for _ in self._days():
                pass
        assert self._truth is not None
        return self._truth

    def reference(self) -> dict[str, pl.DataFrame]:
        """The customers, employees and hosts tables of all tenants."""
        tables = [self.population(t).reference() for t in self.cfg.tenants]
        return {name: pl.concat([t[name] for t in tables]) for name in tables[0]}

    def _days(self) -> Iterator[tuple[int, list[DayBatches]]]:
        """Each day's start (µs) and every tenant's batches for it; records the truth."""
        records = {tenant: RecordNumbers() for tenant in self.cfg.tenants}
        truth = []
        for index in range(self.cfg.days):
            attacks = self.scenarios if index >= self.cfg.quiet_days else ()
            days = [
                generate_day(Day(self.cfg, self.population(t), index), attacks, records[t])
                for t in self.cfg.tenants
            ]
            truth += [d.truth for d in days]
            yield day_start(self.cfg, index), days
        self._truth = pl.concat(truth) if truth else pl.DataFrame(schema=TRUTH_SCHEMA)


def simulate(cfg: SimConfig) -> Simulation:
    """Set up a simulation; events are generated lazily as `chunks()` is iterated."""
    return Simulation(cfg)


def _hour(frame: pl.DataFrame, start: int) -> pl.DataFrame:
    """The rows of a time-sorted frame within [start, start + 1 hour)."""
    micros = frame["time"].dt.epoch("us").to_numpy()
    lo, hi = np.searchsorted(micros, [start, start + HOUR], side="left")
    return frame.slice(int(lo), int(hi - lo))


def _merge(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Several tenants' time-sorted frames as one time-sorted frame (stable: tenant order)."""
    if len(frames) == 1:
        return frames[0]
    return pl.concat(frames).sort("time", maintain_order=True)


def _datetime(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
