"""Denial of service from one source: a burst of connections from one address to one service.

The spine's `FlowSpike` (mamori.detect.spike) already finds *distributed* floods: a minute
in which a destination gets ten times its usual flows from at least 50 sources. A flood
from one address or a handful (a DoS tool, a SYN flood, an HTTP flood like Hulk) never
reaches 50 sources; this detector counts flows per source, destination service and minute.

A minute of at least `min_flows` flows from one source to one service fires when
* the pair has a baseline (an exponentially weighted mean of its busy minutes) and the
  minute is `factor` times above it, or
* the pair has none and either most of the flows went unanswered (a SYN or connect
  flood) or the minute holds `cold_factor` × `min_flows` flows.
Only pairs that ever reach `min_flows / factor` flows in a minute keep a baseline, so the
state stays small (capped at `max_pairs`, least recently busy evicted and counted).

Limits: a slow-rate attack (Slowloris: a few hundred idle connections held open) is not
a burst and is not caught here; a pair that was busy before (an application server and its
database) must grow `factor`-fold to alert.

>>> from tests.conftest import batch
>>> flood = [{"src_ip": "203.0.113.66", "dst_ip": "10.0.0.80", "dst_port": 443,
...           "state": "syn_only", "minute": 0.001 * i} for i in range(400)]
>>> SourceFlood().process(batch("flow", flood))["severity"].to_list()
['high']
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

import polars as pl

from mamori.detect.network.scan import is_probe
from mamori.detect.network.state import NetworkDetector
from mamori.events.schema import empty_alerts

_PAIR = ["tenant", "src_ip", "dst_ip", "dst_port"]


class SourceFlood(NetworkDetector):
    """Per source-and-service flood bursts (single-source DoS)."""

    name: ClassVar[str] = "source-flood"
    kinds: ClassVar[frozenset[str]] = frozenset({"flow"})

    def __init__(
        self,
        min_flows: int = 300,
        factor: float = 10.0,
        cold_factor: float = 3.0,
        unanswered_share: float = 0.5,
        alpha: float = 0.1,
        cooldown: timedelta = timedelta(minutes=30),
        max_pairs: int = 500_000,
    ) -> None:
        super().__init__()
        self.min_flows, self.factor, self.cold_factor = min_flows, factor, cold_factor
        self.unanswered_share, self.alpha = unanswered_share, alpha
        self.cooldown_every, self.max_pairs = cooldown, max_pairs

    def process(self, batch: pl.DataFrame) -> pl.DataFrame:
        if batch.height == 0:
            return empty_alerts()
        busy_floor = self.min_flows / self.factor
        minutes = (
            batch.group_by(*_PAIR, _minute=pl.col("time").dt.truncate("1m"))
            .agg(_count=pl.len())
            .filter((pl.col("_count") >= busy_floor) & pl.col("src_ip").is_not_null())
        )
        if minutes.height == 0:
            return empty_alerts()
        known = self.frames.get("rates")
        prior = (
            known.select(*_PAIR, _minute="last", _count="mean", _prior=pl.lit(True))
            if known is not None
            else None
        )
        series = minutes.select(*_PAIR, "_minute", pl.col("_count").cast(pl.Float64), _prior=False)
        if prior is not None:
            series = pl.concat([prior, series])
        series = (
            series.sort([*_PAIR, "_minute"])
            .with_columns(
                _mean=pl.col("_count").ewm_mean(alpha=self.alpha, adjust=False).over(_PAIR)
            )
            .with_columns(_baseline=pl.col("_mean").shift(1).over(_PAIR))
        )
        latest = series.group_by(_PAIR).agg(
            mean=pl.col("_mean").last(), last=pl.col("_minute").last()
        )
        self.keep("rates", latest, self.max_pairs, "last")
        loud = minutes.filter(pl.col("_count") >= self.min_flows).join(
            series.filter(~pl.col("_prior")).select(*_PAIR, "_minute", "_baseline"),
            on=[*_PAIR, "_minute"],
        )
        if loud.height == 0:
            return empty_alerts()
        return self._alerts(batch, loud)

    def _alerts(self, batch: pl.DataFrame, loud: pl.DataFrame) -> pl.DataFrame:
        detail = (
            batch.with_columns(_minute=pl.col("time").dt.truncate("1m"))
            .join(loud.select(*_PAIR, "_minute"), on=[*_PAIR, "_minute"], how="semi")
            .group_by(*_PAIR, "_minute")
            .agg(
                time=pl.col("time").max(),
                event_ids=pl.col("event_id").head(50),
                _unanswered=is_probe().mean(),
                _host=pl.col("dst_host").drop_nulls().first(),
            )
        )
        scored = loud.join(detail, on=[*_PAIR, "_minute"])
        base = pl.col("_baseline")
        fires = scored.filter(
            pl.when(base.is_not_null())
            .then(pl.col("_count") >= self.factor * base)
            .otherwise(
                (pl.col("_unanswered") >= self.unanswered_share)
                | (pl.col("_count") >= self.cold_factor * self.min_flows)
            )
        ).sort("time")
        fires = self.cooldown(fires, _PAIR, self.cooldown_every, "flood")
        failing = pl.col("_unanswered") >= self.unanswered_share
        return self.alerts(
            fires,
            rule_id="NET-DOS-SOURCE",
            title=pl.when(failing)
            .then(pl.lit("Connection flood from one source (SYN or connect flood)"))
            .otherwise(pl.lit("Request flood from one source against a service")),
            severity=pl.when(failing).then(pl.lit("high")).otherwise(pl.lit("medium")),
            score=pl.when(failing).then(0.75).otherwise(0.5),
            stage="impact",
            attack=["T1498", "T1499"],
            entity_type="ip",
            entity=pl.col("dst_ip"),
            related=[
                pl.lit("ip:") + pl.col("src_ip"),
                pl.lit("host:") + pl.col("_host"),
            ],
            explanation=pl.format(
                "{} flows in one minute from {} to {}:{} ({}% unanswered; usual {} a busy minute)",
                pl.col("_count"),
                pl.col("src_ip"),
                pl.col("dst_ip"),
                pl.col("dst_port"),
                (pl.col("_unanswered") * 100).round(0).cast(pl.Int64),
                base.round(1).cast(pl.String).fill_null("none"),
            ),
            key=["src_ip", "dst_port", "_bucket"],
        )
