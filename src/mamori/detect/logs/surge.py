"""Template-frequency anomalies: a source prints one message far more often than it does.

Lines are counted per source (tenant, host, app), template and `window`. Each (source,
template) keeps an exponentially weighted mean of its count per active window; a window
whose count is at least `min_lines` and `factor` times that mean raises one alert per
source, template and `cooldown`, with the count and the usual rate. A template a known
source has never printed, arriving `min_lines` times in one window, counts as a surge too
(its usual rate is zero); a source with no history before the window only teaches.

It finds error storms (a disk failing, a service restarting in a loop, a flood of
authentication failures) that no single line shows. Limits: windows without a template do
not pull its mean down (the baseline is of active windows, which keeps the detector quiet
on bursty, rare messages), and at most `max_series` means are kept, the least recently
seen dropped first.

>>> from datetime import datetime, timedelta, UTC
>>> from mamori.events.schema import conform
>>> t0 = datetime(2026, 1, 5, tzinfo=UTC)
>>> hours = [t0 + timedelta(hours=h, minutes=m) for h in range(6) for m in (1, 31)]
>>> storm = [t0 + timedelta(hours=6, seconds=s) for s in range(120)]
>>> times = hours + storm
>>> batch = conform(pl.DataFrame({"event_id": [f"e{i}" for i in range(len(times))],
...     "time": times, "tenant": "bank-a", "host": "app7", "app": "java",
...     "message": "connection pool exhausted, waiting"}), "log")
>>> TemplateSurge().process(batch).select("rule_id", "entity_id", "explanation").rows()
... # doctest: +NORMALIZE_WHITESPACE
[('log-template-surge', 'app7', 'java printed "connection pool exhausted, waiting" 120 times
  in 10 minutes (usual 1.0 a window)')]
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

import polars as pl

from mamori.detect.base import Detector, Snapshot, make_alerts, once_per_bucket
from mamori.detect.logs.source import SEVERE, SOURCE, log_alert_columns
from mamori.detect.logs.templates import TemplateMiner
from mamori.events.schema import TIME, empty_alerts

_KEY = [*SOURCE, "template_id"]


class TemplateSurge(Detector):
    """Per-source, per-template line-rate surges."""

    name: ClassVar[str] = "log-template-surge"
    kinds: ClassVar[frozenset[str]] = frozenset({"log"})

    def __init__(
        self,
        window: timedelta = timedelta(minutes=10),
        factor: float = 10.0,
        min_lines: int = 50,
        alpha: float = 0.1,
        cooldown: timedelta = timedelta(hours=1),
        max_series: int = 500_000,
    ) -> None:
        self.window, self.factor, self.min_lines, self.alpha = window, factor, min_lines, alpha
        self.cooldown, self.max_series = cooldown, max_series
        self.miner = TemplateMiner()
        self.rates = pl.DataFrame(
            schema={**dict.fromkeys(_KEY, pl.String()), "mean": pl.Float64(), "last": TIME}
        )
        self.sources = pl.DataFrame(schema={**dict.fromkeys(SOURCE, pl.String()), "first": TIME})
        self.fired = pl.DataFrame(schema={**dict.fromkeys(_KEY, pl.String()), "_bucket": TIME})

    def process(self, batch: pl.DataFrame) -> pl.DataFrame:
        if batch.height == 0:
            return empty_alerts()
        period = f"{int(self.window.total_seconds() * 1_000_000)}us"
        windows = (
            self.miner.fill(batch)
            .with_columns(_window=pl.col("time").dt.truncate(period))
            .group_by([*_KEY, "_window"])
            .agg(
                _count=pl.len().cast(pl.Float64),
                time=pl.col("time").max(),
                event_ids=pl.col("event_id").head(50),
                template=pl.col("template").first(),
                source=pl.col("source").first(),
                severity=pl.col("severity").drop_nulls().first(),
            )
        )
        prior = self.rates.select(
            *_KEY, _window=pl.col("last"), _count=pl.col("mean"), _prior=pl.lit(True)
        )
        series = (
            pl.concat([prior, windows.select(*_KEY, "_window", "_count", _prior=pl.lit(False))])
            .sort([*_KEY, "_window"], nulls_last=True)
            .with_columns(
                _mean=pl.col("_count").ewm_mean(alpha=self.alpha, adjust=False).over(_KEY)
            )
            .with_columns(_usual=pl.col("_mean").shift(1).over(_KEY))
        )
        known = windows.group_by(SOURCE).agg(_start=pl.col("_window").min())
        known = known.join(self.sources, on=SOURCE, how="left", nulls_equal=True).select(
            *SOURCE, _first=pl.min_horizontal("_start", "first")
        )
        scored = windows.join(
            series.filter(~pl.col("_prior")).select(*_KEY, "_window", "_usual"),
            on=[*_KEY, "_window"],
            nulls_equal=True,
        ).join(known, on=SOURCE, how="left", nulls_equal=True)
        surges = scored.filter(
            (pl.col("_count") >= self.min_lines)
            & (pl.col("_first") < pl.col("_window"))
            & (pl.col("_count") >= self.factor * pl.col("_usual").fill_null(0.0))
        ).sort("time")
        self._learn(series, known)
        return self._alerts(surges)

    def _learn(self, series: pl.DataFrame, known: pl.DataFrame) -> None:
        latest = series.group_by(_KEY).agg(
            mean=pl.col("_mean").last(), last=pl.col("_window").last()
        )
        self.rates = latest.sort("last", descending=True).head(self.max_series)
        self.sources = (
            pl.concat([self.sources, known.select(*SOURCE, first="_first")])
            .group_by(SOURCE)
            .agg(pl.col("first").min())
        )

    def _alerts(self, surges: pl.DataFrame) -> pl.DataFrame:
        if surges.height == 0:
            return empty_alerts()
        surges, self.fired = once_per_bucket(surges, _KEY, self.cooldown, self.fired)
        if surges.height == 0:
            return empty_alerts()
        severe = pl.col("severity").str.to_lowercase().is_in(SEVERE).fill_null(False)
        minutes = int(self.window.total_seconds() // 60)
        alerts = surges.select(
            "time",
            "tenant",
            "event_ids",
            "_bucket",
            "template_id",
            *log_alert_columns(),
            rule_id=pl.lit("log-template-surge"),
            title=pl.format("Surge of one log message from {}", pl.col("app").fill_null("?")),
            severity=pl.when(severe).then(pl.lit("medium")).otherwise(pl.lit("low")),
            score=pl.when(severe).then(pl.lit(0.6)).otherwise(pl.lit(0.4)),
            explanation=pl.format(
                "{} printed \"{}\" {} times in {} minutes (usual {} a window)",
                pl.col("app").fill_null("?"),
                pl.col("template"),
                pl.col("_count").cast(pl.Int64),
                pl.lit(minutes),
                pl.col("_usual").round(1).fill_null(0.0),
            ),
        )
        return make_alerts(alerts, self.name, ["tenant", "entity_id", "template_id", "_bucket"])

    def snapshot(self) -> Snapshot:
        return {
            "miner": self.miner.snapshot(),
            "frames": {"rates": self.rates, "sources": self.sources, "fired": self.fired},
        }

    def restore(self, state: Snapshot) -> None:
        self.miner.restore(state["miner"])
        frames = state["frames"]
        self.rates, self.sources, self.fired = frames["rates"], frames["sources"], frames["fired"]
