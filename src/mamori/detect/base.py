"""The detector protocol that every detector family follows.

A detector names the stream kinds it consumes, takes a batch of one kind and returns an
alerts frame (the schema in `mamori.events.schema.ALERT`). State that must outlive a batch
(baselines, windows) lives in the detector, is bounded in memory, and round-trips through
`snapshot()` / `restore()`: a snapshot is a dict of Polars frames and JSON-able values, so
the engine can write it with Arrow IPC and JSON, never pickle.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import timedelta
from typing import Any, ClassVar

import polars as pl

from mamori.events.ids import content_key, hex128
from mamori.events.schema import ALERT, conform_alerts, empty_alerts

Snapshot = dict[str, Any]


class Detector(ABC):
    """A detector: batches of its kinds in, alerts out."""

    #: The detector family's name, written in each alert's `detector` column.
    name: ClassVar[str]
    #: The stream kinds this detector consumes.
    kinds: ClassVar[frozenset[str]]

    @abstractmethod
    def process(self, batch: pl.DataFrame) -> pl.DataFrame:
        """Alerts raised by one time-ordered batch of one kind (an empty frame if none)."""

    def snapshot(self) -> Snapshot:
        """The state needed to continue after a restart; stateless detectors return {}."""
        return {}

    def restore(self, state: Snapshot) -> None:  # noqa: B027 - stateless detectors keep it
        """Continue from a snapshot taken by `snapshot()`."""


def once_per_bucket(
    fires: pl.DataFrame, keys: list[str], every: timedelta, fired: pl.DataFrame | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Cooldown by time buckets: the first of `fires` (time-ordered) per key and `every`-long
    bucket, leaving out buckets that `fired` (the state) already holds.

    Returns the kept rows (with a `_bucket` column, which alert ids can use, so the same
    evidence always gives the same id) and the new state, pruned to the last two buckets.
    """
    period = f"{int(every.total_seconds() * 1_000_000)}us"
    kept = fires.with_columns(_bucket=pl.col("time").dt.truncate(period)).unique(
        subset=[*keys, "_bucket"], keep="first", maintain_order=True
    )
    if fired is not None:
        kept = kept.join(fired, on=[*keys, "_bucket"], how="anti", nulls_equal=True)
    done = kept.select(*keys, "_bucket")
    state = done if fired is None else pl.concat([fired, done])
    if kept.height:
        state = state.filter(pl.col("_bucket") >= pl.lit(kept["time"].max()) - 2 * every)
    return kept, state


def alert_ids(frame: pl.DataFrame, detector: str, key_columns: list[str]) -> pl.Series:
    """Stable alert ids from the detector name and the columns that identify one finding."""
    key = frame.select(
        pl.concat_str([pl.lit(detector), content_key(key_columns)], separator="\x1e").alias("k")
    )["k"]
    return hex128(key.hash(11), key.hash(13))


def make_alerts(frame: pl.DataFrame, detector: str, key_columns: list[str]) -> pl.DataFrame:
    """Turn a frame of findings into alerts.

    `frame` carries the alert columns it knows (at least time, tenant, rule_id, title,
    severity, score, entity_type, entity_id, event_ids); `key_columns` identify one finding,
    so that the same evidence always gives the same `alert_id`.
    """
    if frame.height == 0:
        return empty_alerts()
    out = frame.with_columns(
        alert_id=alert_ids(frame, detector, key_columns),
        detector=pl.lit(detector),
    )
    for col in ("related", "attack", "event_ids"):
        if col not in out.columns:
            out = out.with_columns(pl.lit([], ALERT[col]).alias(col))
    return conform_alerts(out)
