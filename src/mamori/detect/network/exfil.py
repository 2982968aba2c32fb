"""Exfiltration: a host sending far more than it usually does to a rare external address.

For each internal host the detector learns how many bytes it sends outside in an hour
(exponentially weighted mean and spread over the hours in which it sent anything). An
hour in which the host sends at least `min_bytes` to one external address fires when that
is `factor` times its usual hourly volume and `sigmas` spreads above it, and when the
address is rare: no more than `max_sources` of the bank's hosts ever sent to it. Off-hours
uploads (outside `business_hours`, UTC) are high severity, others medium.

The spine's rules already flag fixed volumes (MR-NET-001: 300 MB in an hour to one
external address; MR-NET-002: 50 MB off-hours; MR-NET-003: the first upload to an address
the bank never talked to). This detector adds the host's own baseline: a workstation that
sends 80 MB is unusual; a file-transfer server that sends 200 MB every hour is not. A
nightly backup to an internal server never counts: only external destinations do.

State: the open hour's running totals per (host, address), each host's baseline, and the
(address, host) pairs seen (at most `max_pairs`, least recently seen evicted and counted).

>>> from tests.conftest import batch
>>> big = [{"src_ip": "10.3.0.9", "dst_ip": "203.0.113.77", "bytes_out": 400_000_000,
...         "minute": 120 + i} for i in range(3)]
>>> ExfiltrationBaseline().process(batch("flow", big))["rule_id"].to_list()
['NET-EXFIL-BASELINE']
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

import polars as pl

from mamori.detect.network.state import NetworkDetector, external, internal
from mamori.events.schema import empty_alerts

_HOST = ["tenant", "src_ip"]
_LINK = ["tenant", "src_ip", "dst_ip"]
_HOURLY = [*_LINK, "_hour"]


class ExfiltrationBaseline(NetworkDetector):
    """Outbound volume to a rare external address against the host's own hourly baseline."""

    name: ClassVar[str] = "exfiltration"
    kinds: ClassVar[frozenset[str]] = frozenset({"flow"})

    def __init__(
        self,
        min_bytes: int = 50_000_000,
        factor: float = 10.0,
        sigmas: float = 4.0,
        max_sources: int = 2,
        business_hours: tuple[int, int] = (7, 20),
        alpha: float = 0.05,
        cooldown: timedelta = timedelta(hours=6),
        max_pairs: int = 1_000_000,
    ) -> None:
        super().__init__()
        self.min_bytes, self.factor, self.sigmas = min_bytes, factor, sigmas
        self.max_sources, self.business_hours, self.alpha = max_sources, business_hours, alpha
        self.cooldown_every, self.max_pairs = cooldown, max_pairs

    def process(self, batch: pl.DataFrame) -> pl.DataFrame:
        if batch.height == 0:
            return empty_alerts()
        hours = (
            batch.filter((pl.col("bytes_out") > 0) & internal("src_ip") & external("dst_ip"))
            .group_by(*_LINK, _hour=pl.col("time").dt.truncate("1h"))
            .agg(
                _bytes=pl.col("bytes_out").sum(),
                time=pl.col("time").max(),
                event_ids=pl.col("event_id").tail(20),
                _host=pl.col("src_host").drop_nulls().last(),
                _new=pl.lit(True),
            )
        )
        if hours.height == 0:
            return empty_alerts()
        pairs = hours.group_by(_LINK).agg(last=pl.col("time").max())
        if "pairs" in self.frames:
            pairs = (
                pl.concat([self.frames["pairs"], pairs]).group_by(_LINK).agg(pl.col("last").max())
            )
        self.keep("pairs", pairs, self.max_pairs, "last")
        totals = hours
        if "open" in self.frames:
            totals = (
                pl.concat([self.frames["open"], hours], how="vertical_relaxed")
                .group_by(_HOURLY, maintain_order=True)
                .agg(
                    pl.col("_bytes").sum(),
                    pl.col("time").max(),
                    pl.col("event_ids")
                    .list.explode(keep_nulls=False, empty_as_null=False)
                    .tail(20),
                    pl.col("_host").drop_nulls().last(),
                    pl.col("_new").any(),
                )
            )
        current = hours["_hour"].max()
        self.frames["open"] = totals.filter(pl.col("_hour") >= current).with_columns(
            _new=pl.lit(False)
        )
        alerts = self._alerts(totals.filter(pl.col("_new")), pairs)
        self._learn(totals.filter(pl.col("_hour") < current))
        return alerts

    def _learn(self, closed: pl.DataFrame) -> None:
        """Fold the hours that closed into each host's exponentially weighted baseline."""
        if closed.height == 0:
            return
        per_hour = closed.group_by(*_HOST, "_hour").agg(_x=pl.col("_bytes").sum().cast(pl.Float64))
        series = per_hour.select(*_HOST, "_hour", mean="_x", square=pl.col("_x") ** 2, hours=1)
        if "baseline" in self.frames:
            series = pl.concat([self.frames["baseline"], series], how="vertical_relaxed")
        baseline = (
            series.sort(*_HOST, "_hour")
            .with_columns(
                pl.col("mean").ewm_mean(alpha=self.alpha, adjust=False).over(_HOST),
                pl.col("square").ewm_mean(alpha=self.alpha, adjust=False).over(_HOST),
                pl.col("hours").cum_sum().over(_HOST),
            )
            .group_by(_HOST)
            .agg(pl.all().last())
        )
        self.keep("baseline", baseline, self.max_pairs, "_hour")

    def _alerts(self, touched: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
        loud = touched.filter(pl.col("_bytes") >= self.min_bytes)
        if loud.height == 0:
            return empty_alerts()
        sources = pairs.group_by("tenant", "dst_ip").agg(_sources=pl.col("src_ip").n_unique())
        baseline = self.frames.get("baseline")
        if baseline is not None:
            loud = loud.join(baseline.drop("_hour"), on=_HOST, how="left")
        else:
            loud = loud.with_columns(
                mean=pl.lit(None, pl.Float64), square=pl.lit(None, pl.Float64), hours=0
            )
        mean = pl.col("mean").fill_null(0.0)
        spread = (pl.col("square").fill_null(0.0) - mean**2).clip(lower_bound=0).sqrt()
        fires = (
            loud.join(sources, on=["tenant", "dst_ip"])
            .filter(
                (pl.col("_sources") <= self.max_sources)
                & (pl.col("_bytes") >= self.factor * mean)
                & (pl.col("_bytes") >= mean + self.sigmas * spread)
            )
            .sort("time")
        )
        fires = self.cooldown(fires, _LINK, self.cooldown_every, "exfil")
        start, end = self.business_hours
        off = ~pl.col("time").dt.hour().is_between(start, end - 1)
        return self.alerts(
            fires,
            rule_id="NET-EXFIL-BASELINE",
            title=pl.when(off)
            .then(pl.lit("Off-hours upload far above the host's usual volume to a rare address"))
            .otherwise(pl.lit("Upload far above the host's usual volume to a rare address")),
            severity=pl.when(off).then(pl.lit("high")).otherwise(pl.lit("medium")),
            score=pl.when(off).then(0.75).otherwise(0.55),
            stage="exfiltration",
            attack=["T1048", "T1041"],
            entity_type="ip",
            entity=pl.col("src_ip"),
            related=[pl.lit("ip:") + pl.col("dst_ip"), pl.lit("host:") + pl.col("_host")],
            explanation=pl.format(
                "{} MB sent by {} to {} in the hour from {}; usually {} MB an hour "
                "(over {} active hours); {} internal host(s) ever sent to this address",
                (pl.col("_bytes") / 1e6).round(1),
                pl.col("src_ip"),
                pl.col("dst_ip"),
                pl.col("_hour").dt.strftime("%Y-%m-%d %H:00"),
                (mean / 1e6).round(2),
                pl.col("hours").fill_null(0),
                pl.col("_sources"),
            ),
            key=["dst_ip", "_bucket"],
        )
