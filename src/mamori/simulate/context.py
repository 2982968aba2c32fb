"""The day being generated for one tenant, and the unit generators hand back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl

from mamori.simulate.clock import DAY, SECOND
from mamori.simulate.config import SimConfig
from mamori.simulate.population import Population
from mamori.simulate.seeds import stream

#: What every generator returns: (kind, part) pairs, parts built with `frames.part`.
Parts = list[tuple[str, pl.DataFrame]]


def day_date(cfg: SimConfig, index: int) -> date:
    """The calendar date (UTC) of a simulated day; day 0 is the date of `cfg.start`."""
    return (cfg.start.astimezone(UTC) + timedelta(days=index)).date()


def day_start(cfg: SimConfig, index: int) -> int:
    """Midnight UTC of a simulated day, in µs since the epoch."""
    d = day_date(cfg, index)
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()) * SECOND


@dataclass(frozen=True)
class Day:
    """One tenant's day: its population, its date and its own random streams."""

    cfg: SimConfig
    pop: Population
    index: int  # 0 for the first simulated day

    @property
    def tenant(self) -> str:
        return self.pop.tenant

    @property
    def date(self) -> date:
        return day_date(self.cfg, self.index)

    @property
    def start(self) -> int:
        """Midnight UTC of this day, in µs since the epoch."""
        return day_start(self.cfg, self.index)

    @property
    def end(self) -> int:
        return self.start + DAY

    @property
    def weekend(self) -> bool:
        return self.date.weekday() >= 5

    @property
    def stamp(self) -> str:
        """The date as YYYYMMDD, used in ids and file names."""
        return self.date.strftime("%Y%m%d")

    def rng(self, *purpose: str | int) -> np.random.Generator:
        """The random stream of one generator on this day, independent of all the others."""
        return stream(self.cfg.seed, self.tenant, "day", self.index, *purpose)

    def campaign_rng(self, *purpose: str | int) -> np.random.Generator:
        """A stream every tenant shares on this day: the attacker's, when the attacks are
        one campaign (`SimConfig.campaign`)."""
        return stream(self.cfg.seed, "campaign", "day", self.index, *purpose)
