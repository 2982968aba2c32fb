"""Distinct things a group touched within a true sliding window, carried across batches.

Scans (ports per target, targets per port), DNS tunnels (unique names per domain) and
lateral movement (new peers per host) all ask the same question: *how many distinct
items did this group touch in the last W, at the moment of each new item?* The answer is
computed on first sightings only: an item counts from the first time it is seen in the
window, and the tail of first sightings (the last W) is the state carried to the next
batch. Groups that cannot reach the threshold are dropped before the rolling count, so the
cost is one `unique`, one anti-join and one small group-by per batch.

>>> from datetime import UTC, datetime, timedelta
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> rows = pl.DataFrame({
...     "time": [t0 + timedelta(seconds=s) for s in range(5)],
...     "event_id": list("abcde"), "src": ["x"] * 5, "port": [1, 2, 2, 3, 4],
... })
>>> found = distinct_in_window(rows, None, ["src"], ["port"], timedelta(minutes=1), 4)
>>> found.fires.select("src", "_distinct").rows(), found.tail.height
([('x', 4)], 4)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import polars as pl


@dataclass(frozen=True)
class WindowCount:
    """Rows where a group's distinct count reached the threshold, the first sightings they
    count (for evidence), and the tail to carry into the next batch."""

    fires: pl.DataFrame
    sightings: pl.DataFrame
    tail: pl.DataFrame
    evicted: int = 0


def distinct_in_window(
    rows: pl.DataFrame,
    tail: pl.DataFrame | None,
    group: list[str],
    items: list[str],
    window: timedelta,
    threshold: int,
    max_tail: int = 2_000_000,
) -> WindowCount:
    """Where each group's distinct `items` over the sliding `window` reach `threshold`.

    `rows` is time-ordered with `time`, `event_id`, the group and item columns (others are
    kept in the sightings for evidence). `fires` has one row per new sighting that reached
    the threshold, with `_distinct`. The returned tail holds the last `window` of first
    sightings (at most `max_tail`, newest kept).
    """
    keys = [*group, *items]
    fresh = rows.unique(subset=keys, keep="first", maintain_order=True)
    if tail is not None and tail.height:
        fresh = fresh.join(tail.select(keys), on=keys, how="anti", nulls_equal=True)
    fresh = fresh.with_columns(_new=pl.lit(True))
    both = fresh if tail is None else pl.concat([tail, fresh], how="diagonal_relaxed")
    both = both.sort("time", maintain_order=True)
    new_tail = both
    if rows.height:
        new_tail = both.filter(pl.col("time") > pl.lit(rows["time"].max()) - window)
    evicted = max(0, new_tail.height - max_tail)
    new_tail = new_tail.tail(max_tail).with_columns(_new=pl.lit(False))
    busy = (
        both.group_by(group)
        .agg(_n=pl.len(), _any=pl.col("_new").any())
        .filter((pl.col("_n") >= threshold) & pl.col("_any"))
    )
    sightings = both.join(busy.select(group), on=group, how="semi", nulls_equal=True)
    if sightings.height == 0:
        fires = sightings.select("time", *group).with_columns(_distinct=pl.lit(0, pl.UInt32))
        return WindowCount(fires, sightings, new_tail, evicted)
    period = f"{int(window.total_seconds() * 1_000_000)}us"
    rolled = sightings.rolling(index_column="time", period=period, group_by=group).agg(
        _distinct=pl.len(), _new=pl.col("_new").last()
    )
    fires = rolled.filter(pl.col("_new") & (pl.col("_distinct") >= threshold)).drop("_new")
    return WindowCount(fires.sort("time", maintain_order=True), sightings, new_tail, evicted)


def evidence(
    fires: pl.DataFrame,
    sightings: pl.DataFrame,
    group: list[str],
    window: timedelta,
    extra: list[pl.Expr] | None = None,
    cap: int = 50,
) -> pl.DataFrame:
    """`fires` with the event ids (the last `cap`) of the sightings in each one's window,
    plus any `extra` aggregations over them (e.g. a sample of the ports probed)."""
    if fires.height == 0:
        return fires.with_columns(event_ids=pl.lit([], pl.List(pl.String)))
    fires = fires.with_row_index("_fire")
    inside = (
        fires.select(*group, "_fire", _end="time")
        .join(sightings, on=group, nulls_equal=True)
        .filter((pl.col("time") <= pl.col("_end")) & (pl.col("time") > pl.col("_end") - window))
    )
    agg = inside.group_by("_fire").agg(
        pl.col("event_id").tail(cap).alias("event_ids"), *(extra or [])
    )
    return fires.join(agg, on="_fire", how="left").drop("_fire")
