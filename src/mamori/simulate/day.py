"""Assembling one tenant's day: background plus scenarios, into sorted, identified batches
and the ground truth of that day."""

from __future__ import annotations

import zlib
from collections import defaultdict
from dataclasses import dataclass, field

import polars as pl

from mamori.events.schema import TIME, conform
from mamori.simulate.background import background
from mamori.simulate.context import Day, Parts
from mamori.simulate.frames import INSTANCE
from mamori.simulate.scenarios import REGISTRY

#: The kinds the simulator produces; every chunk carries a (possibly empty) batch of each.
EMITTED_KINDS = ("transaction", "flow", "auth", "winlog")

TRUTH_SCHEMA: dict[str, pl.DataType] = {
    "scenario": pl.String(),
    "instance_id": pl.String(),
    "tenant": pl.String(),
    "start": TIME,
    "end": TIME,
    "entities": pl.List(pl.String()),
    "event_ids": pl.List(pl.String()),
    "stages": pl.List(pl.String()),
    "description": pl.String(),
}


@dataclass
class RecordNumbers:
    """The last Windows EventRecordID written on each host, carried from day to day."""

    last: dict[str, int] = field(default_factory=dict)

    def base(self, hosts: list[str]) -> pl.DataFrame:
        """Each host's last record number; a host seen for the first time starts where a
        long-running machine would (a fixed number from its name)."""
        return pl.DataFrame(
            {
                "Computer": hosts,
                "_base": [
                    self.last.get(h, 100_000 + zlib.crc32(h.encode()) % 9_000_000) for h in hosts
                ],
            },
            schema={"Computer": pl.String(), "_base": pl.Int64()},
        )


@dataclass(frozen=True)
class DayBatches:
    """One tenant's day: a conformed, time-sorted batch per kind, and its truth rows."""

    frames: dict[str, pl.DataFrame]
    truth: pl.DataFrame


def generate_day(day: Day, scenarios: tuple[str, ...], records: RecordNumbers) -> DayBatches:
    """Generate, label, order and identify every event of one tenant's day."""
    parts: Parts = background(day)
    meta = []
    for name in scenarios:
        injection = REGISTRY[name](day, day.rng("scenario", name))
        instance = f"{day.tenant}:{name}:{day.stamp}:1"
        parts += [
            (kind, frame.with_columns(pl.lit(instance).alias(INSTANCE)))
            for kind, frame in injection.parts
        ]
        meta.append(
            {
                "scenario": name,
                "instance_id": instance,
                "tenant": day.tenant,
                "entities": injection.entities,
                "stages": injection.stages,
                "description": injection.description,
            }
        )

    by_kind: dict[str, list[pl.DataFrame]] = defaultdict(list)
    for kind, frame in parts:
        by_kind[kind].append(frame)
    frames, labelled = {}, []
    for kind in EMITTED_KINDS:
        batch = _order(day, kind, by_kind[kind], records)
        labelled.append(
            batch.filter(pl.col(INSTANCE).is_not_null()).select(INSTANCE, "event_id", "time")
        )
        frames[kind] = conform(batch.drop(INSTANCE), kind)
    return DayBatches(frames, _truth(meta, pl.concat(labelled)))


def _order(day: Day, kind: str, parts: list[pl.DataFrame], records: RecordNumbers) -> pl.DataFrame:
    """Sort a kind's parts by time and give each row its stable id (and record number)."""
    seed = day.cfg.seed
    batch = (
        pl.concat(parts, how="vertical")
        .sort("time", maintain_order=True)
        .with_columns(
            pl.format(
                f"{day.tenant}:{seed}:{kind[0]}:{day.stamp}:{{}}",
                pl.int_range(pl.len()).cast(pl.String).str.zfill(7),
            ).alias("event_id"),
            pl.col("time").cast(TIME),
            pl.lit(day.tenant).alias("tenant"),
        )
    )
    if kind == "winlog" and batch.height:
        hosts = batch["Computer"].unique().sort().to_list()
        batch = (
            batch.join(records.base(hosts), on="Computer", how="left", maintain_order="left")
            .with_columns(
                (pl.col("_base") + pl.int_range(1, pl.len() + 1).over("Computer")).alias(
                    "EventRecordID"
                )
            )
            .drop("_base")
        )
        last = batch.group_by("Computer").agg(pl.col("EventRecordID").max())
        records.last.update(zip(last["Computer"], last["EventRecordID"], strict=True))
    return batch


def _truth(meta: list[dict], labelled: pl.DataFrame) -> pl.DataFrame:
    """One truth row per scenario instance, with every malicious event id in time order."""
    events = (
        labelled.sort("time", maintain_order=True)
        .group_by(INSTANCE, maintain_order=True)
        .agg(
            pl.col("time").min().alias("start"),
            pl.col("time").max().alias("end"),
            pl.col("event_id").alias("event_ids"),
        )
        .rename({INSTANCE: "instance_id"})
    )
    rows = pl.DataFrame(
        meta,
        schema={
            k: TRUTH_SCHEMA[k]
            for k in ("scenario", "instance_id", "tenant", "entities", "stages", "description")
        },
    )
    return rows.join(events, on="instance_id", how="left", maintain_order="left").select(
        [pl.col(c).cast(t) for c, t in TRUTH_SCHEMA.items()]
    )
