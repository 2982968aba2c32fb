"""Shared test helpers: small batches built from plain rows, and the data folder."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from mamori.events.schema import conform

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def batch(
    kind: str, rows: list[dict[str, Any]], tenant: str = "bank-a", prefix: str = "e"
) -> pl.DataFrame:
    """A conformed batch; `minute` in a row is minutes after T0, event ids are prefix+index."""
    filled = []
    for i, row in enumerate(rows):
        row = dict(row)
        minute = row.pop("minute", i)
        row.setdefault("time", T0 + timedelta(minutes=minute))
        row.setdefault("event_id", f"{prefix}{i}")
        row.setdefault("tenant", tenant)
        filled.append(row)
    frame = pl.DataFrame(filled, infer_schema_length=None)
    return conform(frame, kind).sort("time", maintain_order=True)


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The shared real-data folder (MAMORI_DATA, default ../shared/data)."""
    root = Path(
        os.environ.get(
            "MAMORI_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"
        )
    )
    if not root.is_dir():
        pytest.skip(f"real data not found at {root} (set MAMORI_DATA)")
    return root
