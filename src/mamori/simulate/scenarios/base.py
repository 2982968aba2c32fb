"""What a scenario is: a function from a tenant's day and a random stream to an Injection."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import polars as pl

from mamori.simulate.clock import HOUR
from mamori.simulate.context import Day, Parts


@dataclass(frozen=True)
class Injection:
    """One scenario instance: its malicious events and what the ground truth says about it.

    parts        the malicious events, as (kind, part) pairs; every row is malicious.
    entities     the entities involved, as "type:id" (customer, account, card, device, ip,
                 host, user); each appears in the instance's events.
    stages       the stages the attack went through, in order.
    description  one sentence for a person reading the ground truth.
    """

    parts: Parts
    entities: list[str]
    stages: list[str]
    description: str


Scenario = Callable[[Day, np.random.Generator], Injection]


def moment(rng: np.random.Generator, day: Day, earliest: float, latest: float) -> int:
    """A time (µs) between two hours of the day, e.g. `moment(rng, day, 21, 23.5)`."""
    return day.start + int(rng.integers(int(earliest * HOUR), int(latest * HOUR)))


def entities(entity_type: str, values: Iterable[object] | pl.Series) -> list[str]:
    """Entities of one type as "type:id" strings, in first-seen order without repeats."""
    items = values.to_list() if isinstance(values, pl.Series) else list(values)
    return [f"{entity_type}:{v}" for v in dict.fromkeys(items) if v is not None]
