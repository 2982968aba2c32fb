"""Traffic spikes against a service: flood and DDoS bursts.

Flows are counted per destination (address and port) and minute. Each destination keeps an
exponentially weighted mean of its per-minute count; a minute whose count is `factor` times
that mean, and at least `min_flows` from at least `min_sources` distinct sources, raises one
alert per destination and `cooldown` with the count, the distinct sources and the usual rate.

Limits: minutes with no traffic do not pull the mean down (the baseline is of active
minutes, which makes the detector conservative on quiet services), and at most
`max_destinations` means are kept (least recently seen evicted first).
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

import polars as pl

from mamori.detect.base import Detector, Snapshot, make_alerts, once_per_bucket
from mamori.events.schema import empty_alerts

_KEY = ["tenant", "dst_ip", "dst_port"]


class FlowSpike(Detector):
    """Per-destination flow-rate spikes (DoS/DDoS)."""

    name: ClassVar[str] = "spike"
    kinds: ClassVar[frozenset[str]] = frozenset({"flow"})

    def __init__(
        self,
        factor: float = 10.0,
        min_flows: int = 300,
        min_sources: int = 50,
        alpha: float = 0.05,
        cooldown: timedelta = timedelta(minutes=30),
        max_destinations: int = 1_000_000,
    ) -> None:
        self.factor, self.min_flows, self.min_sources, self.alpha = (
            factor,
            min_flows,
            min_sources,
            alpha,
        )
        self.cooldown = cooldown
        self.max_destinations = max_destinations
        self.rates = pl.DataFrame(
            schema={
                "tenant": pl.String,
                "dst_ip": pl.String,
                "dst_port": pl.Int32,
                "mean": pl.Float64,
                "last": pl.Datetime("us", "UTC"),
            }
        )
        self.fired = pl.DataFrame(
            schema={**{k: self.rates.schema[k] for k in _KEY}, "_bucket": pl.Datetime("us", "UTC")}
        )
        self.evicted = 0

    def process(self, batch: pl.DataFrame) -> pl.DataFrame:
        if batch.height == 0 or batch["kind"][0] != "flow":
            return empty_alerts()
        minutes = (
            batch.filter(pl.col("dst_ip").is_not_null())
            .with_columns(_minute=pl.col("time").dt.truncate("1m"))
            .group_by([*_KEY, "_minute"])
            .agg(
                _count=pl.len().cast(pl.Float64),
                _sources=pl.col("src_ip").n_unique(),
                time=pl.col("time").max(),
                event_ids=pl.col("event_id").head(50),
                _host=pl.col("dst_host").drop_nulls().first(),
            )
        )
        prior = self.rates.select(
            *_KEY, _minute=pl.col("last"), _count=pl.col("mean"), _prior=pl.lit(True)
        )
        series = pl.concat(
            [prior, minutes.select(*_KEY, "_minute", "_count", _prior=pl.lit(False))]
        ).sort([*_KEY, "_minute"])
        series = series.with_columns(
            _mean=pl.col("_count").ewm_mean(alpha=self.alpha, adjust=False).over(_KEY),
        ).with_columns(_baseline=pl.col("_mean").shift(1).over(_KEY))
        scored = minutes.join(
            series.filter(~pl.col("_prior")).select(*_KEY, "_minute", "_baseline"),
            on=[*_KEY, "_minute"],
        )
        spikes = scored.filter(
            (pl.col("_count") >= self.min_flows)
            & (pl.col("_sources") >= self.min_sources)
            & (
                pl.col("_baseline").is_null()
                | (pl.col("_count") >= self.factor * pl.col("_baseline"))
            )
        ).sort("time")
        self._learn(series)
        return self._alerts(spikes)

    def _learn(self, series: pl.DataFrame) -> None:
        latest = series.group_by(_KEY).agg(
            mean=pl.col("_mean").last(), last=pl.col("_minute").last()
        )
        self.rates = latest.sort("last", descending=True).head(self.max_destinations)
        self.evicted += latest.height - self.rates.height

    def _alerts(self, spikes: pl.DataFrame) -> pl.DataFrame:
        if spikes.height == 0:
            return empty_alerts()
        spikes, self.fired = once_per_bucket(spikes, _KEY, self.cooldown, self.fired)
        if spikes.height == 0:
            return empty_alerts()
        alerts = spikes.select(
            "time",
            "tenant",
            "event_ids",
            "_bucket",
            rule_id=pl.lit("spike-flow-destination"),
            title=pl.lit("Flood of connections to one service (possible DDoS)"),
            severity=pl.lit("high"),
            score=pl.lit(0.8),
            stage=pl.lit("impact"),
            attack=pl.lit(["T1498", "T1499"], pl.List(pl.String)),
            entity_type=pl.lit("ip"),
            entity_id=pl.col("dst_ip"),
            related=pl.concat_list(
                pl.when(pl.col("_host").is_not_null()).then(pl.lit("host:") + pl.col("_host"))
            ).list.drop_nulls(),
            explanation=pl.format(
                "{} flows in one minute from {} distinct sources to {}:{} (usual {} a minute)",
                pl.col("_count").cast(pl.Int64),
                pl.col("_sources"),
                pl.col("dst_ip"),
                pl.col("dst_port"),
                pl.col("_baseline").round(1).fill_null(0),
            ),
        )
        return make_alerts(alerts, self.name, ["tenant", "entity_id", "_bucket"])

    def snapshot(self) -> Snapshot:
        return {"frames": {"rates": self.rates, "fired": self.fired}, "evicted": self.evicted}

    def restore(self, state: Snapshot) -> None:
        self.rates = state["frames"]["rates"]
        self.fired = state["frames"]["fired"]
        self.evicted = int(state.get("evicted", 0))
