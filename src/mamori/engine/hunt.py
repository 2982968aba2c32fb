"""Offline hunting: Sigma rules over files of Windows events, as a timeline of hits.

`hunt` reads EVTX and JSON-lines files or folders with the same readers as `mamori run`,
runs the same `SigmaDetector` as the live pipeline, and returns one row per (rule, event)
hit with where the event came from (file and EventRecordID), sorted by time.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import polars as pl

from mamori.detect.sigma import SigmaDetector
from mamori.events.readers import read_path
from mamori.events.schema import SEVERITIES
from mamori.events.summary import ReadSummary

HIT: dict[str, pl.DataType] = {
    "time": pl.Datetime("us", "UTC"),
    "level": pl.String(),
    "rule_id": pl.String(),
    "rule_title": pl.String(),
    "tactic": pl.String(),
    "attack": pl.List(pl.String()),
    "computer": pl.String(),
    "file": pl.String(),
    "record_id": pl.Int64(),
    "event_id": pl.String(),
    "explanation": pl.String(),
}


def _hits(alerts: pl.DataFrame, batch: pl.DataFrame) -> pl.DataFrame:
    where = batch.select(
        "event_id",
        file=pl.col("SourceFile") if "SourceFile" in batch.columns else pl.col("source"),
        record_id=pl.col("EventRecordID"),
        computer=pl.col("Computer"),
    )
    return (
        alerts.explode("event_ids")
        .rename({"event_ids": "event_id"})
        .join(where, on="event_id", how="left")
        .select(
            "time",
            level="severity",
            rule_id="rule_id",
            rule_title="title",
            tactic="stage",
            attack="attack",
            computer="computer",
            file="file",
            record_id="record_id",
            event_id="event_id",
            explanation="explanation",
        )
    )


def hunt(
    paths: Iterable[Path],
    detector: SigmaDetector,
    min_level: str = "informational",
    summary: ReadSummary | None = None,
) -> pl.DataFrame:
    """Every hit at `min_level` or above in the files, in time order (schema `HIT`)."""
    if min_level not in SEVERITIES:
        raise ValueError(f"unknown level {min_level!r}; use one of {', '.join(SEVERITIES)}")
    levels = list(SEVERITIES[SEVERITIES.index(min_level) :])
    found = []
    for path in paths:
        for batch in read_path(path, kind="winlog", summary=summary):
            alerts = detector.process(batch)
            alerts = alerts.filter(pl.col("severity").is_in(levels))
            if alerts.height:
                found.append(_hits(alerts, batch))
    if not found:
        return pl.DataFrame(schema=HIT)
    return pl.concat(found).cast(pl.Schema(HIT)).sort("time", "rule_id", "event_id")


def summarise(hits: pl.DataFrame) -> dict[str, dict[str, int]]:
    """Hit counts by level (most severe first) and by tactic."""
    by_level = dict(hits.group_by("level").len().iter_rows())
    by_tactic = dict(
        hits.group_by(pl.col("tactic").fill_null("none")).len().sort("len").iter_rows()
    )
    return {
        "by_level": {lv: by_level[lv] for lv in reversed(SEVERITIES) if lv in by_level},
        "by_tactic": dict(reversed(list(by_tactic.items()))),
    }
