"""Synthetic card payments for the fraud tests: several cards, terminals, devices and
countries, ties in time, and labels confirmed a week later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from mamori.events.schema import conform

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def payments(n: int = 3000, days: int = 40, seed: int = 1) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(events, labels): `transaction` events in time order and their fraud labels."""
    rng = np.random.default_rng(seed)
    secs = np.sort(rng.integers(0, days * 86_400, n))
    secs[10:20] = secs[10]  # ties
    card = rng.integers(0, 27, n)
    events = conform(
        pl.DataFrame(
            {
                "event_id": [f"e{i}" for i in range(n)],
                "time": [T0 + timedelta(seconds=int(s)) for s in secs],
                "card": [f"K{k}" if k < 25 else None for k in card],
                "customer": [f"C{k}" for k in rng.integers(0, 20, n)],
                "terminal": [f"T{k}" for k in rng.integers(0, 15, n)],
                "merchant": [f"M{k}" if k < 5 else None for k in rng.integers(0, 7, n)],
                "device": [f"D{k}" for k in rng.integers(0, 30, n)],
                "country": rng.choice(np.array(["FR", "DE", None], dtype=object), n).tolist(),
                "amount": np.round(rng.gamma(2, 30, n), 2),
            }
        ),
        "transaction",
    )
    fraud = (rng.random(n) < 0.01) | (events["amount"].to_numpy() > 150)
    labels = pl.DataFrame(
        {"event_id": events["event_id"], "time": events["time"], "fraud": fraud.astype(np.int8)}
    )
    return events, labels


@pytest.fixture(scope="session")
def synthetic() -> tuple[pl.DataFrame, pl.DataFrame]:
    return payments()
