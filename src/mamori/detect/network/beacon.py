"""Beaconing: an internal host calling the same external service back at a steady interval.

Implants check in with their command-and-control server on a timer, usually with some
jitter. For every (internal source, external destination, port) pair the detector keeps
the last `keep_gaps` inter-arrival times (flows closer than `min_gap` are one callback) and
scores their regularity robustly: the median absolute deviation over the median gap. A
pair with at least `min_callbacks` gaps whose regularity is at most `max_jitter` (0.15:
callbacks within about ±25 % of the period), with a median period between `min_period` and
`max_period`, is beaconing.

Benign software polls on timers too (update checks, NTP, telemetry). Those destinations
are shared: many of the bank's hosts call the same service. A destination that more than
`max_sources` internal hosts call is not scored, and the NTP port is ignored.

State: one row per pair (last time, the recent gaps, the last evidence ids), at most
`max_pairs` (least recently seen evicted and counted), and the fired buckets.

Limits: a beacon with jitter above ±25 %, or one that rides on a popular service (a cloud
storage API used bank-wide), or one that rotates its destination each callback, is missed.

>>> from tests.conftest import batch
>>> calls = [{"src_ip": "10.2.0.7", "dst_ip": "198.51.100.20", "dst_port": 443,
...           "minute": 5 * i} for i in range(12)]
>>> Beaconing().process(batch("flow", calls))["explanation"].to_list()[0][:40]
'11 callbacks from 10.2.0.7 to 198.51.100'
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

import polars as pl

from mamori.detect.network.state import NetworkDetector, external, internal
from mamori.events.schema import TIME, empty_alerts

_PAIR = ["tenant", "src_ip", "dst_ip", "dst_port"]
_STATE: dict[str, pl.DataType] = {
    "tenant": pl.String(),
    "src_ip": pl.String(),
    "dst_ip": pl.String(),
    "dst_port": pl.Int32(),
    "last": TIME,
    "gaps": pl.List(pl.Float64),
    "ids": pl.List(pl.String),
    "host": pl.String(),
}


class Beaconing(NetworkDetector):
    """Regular callbacks from an internal host to a rarely used external service."""

    name: ClassVar[str] = "beaconing"
    kinds: ClassVar[frozenset[str]] = frozenset({"flow"})

    def __init__(
        self,
        min_callbacks: int = 8,
        keep_gaps: int = 16,
        max_jitter: float = 0.15,
        min_gap: timedelta = timedelta(seconds=5),
        min_period: timedelta = timedelta(seconds=20),
        max_period: timedelta = timedelta(hours=6),
        max_sources: int = 3,
        ignore_ports: tuple[int, ...] = (123,),
        cooldown: timedelta = timedelta(hours=12),
        max_pairs: int = 500_000,
    ) -> None:
        super().__init__()
        self.min_callbacks, self.keep_gaps, self.max_jitter = min_callbacks, keep_gaps, max_jitter
        self.min_gap = min_gap.total_seconds()
        self.min_period, self.max_period = min_period.total_seconds(), max_period.total_seconds()
        self.max_sources, self.ignore_ports = max_sources, list(ignore_ports)
        self.cooldown_every, self.max_pairs = cooldown, max_pairs

    def process(self, batch: pl.DataFrame) -> pl.DataFrame:
        if batch.height == 0:
            return empty_alerts()
        out = batch.filter(
            pl.col("dst_port").is_not_null()
            & ~pl.col("dst_port").is_in(self.ignore_ports)
            & internal("src_ip")
            & external("dst_ip")
        )
        if out.height == 0:
            return empty_alerts()
        calls = out.group_by(_PAIR).agg(
            _times=pl.col("time"),
            _ids=pl.col("event_id").tail(self.keep_gaps),
            _host=pl.col("src_host").drop_nulls().last(),
        )
        state = self.frames.get("pairs", pl.DataFrame(schema=_STATE))
        touched = calls.join(state, on=_PAIR, how="left").with_row_index("_row")
        # the new gaps, on the flat times of each pair (its last call, then the batch's)
        gap = pl.col("_t").diff().dt.total_microseconds() / 1e6
        fresh = (
            touched.select("_row", _t=pl.concat_list("last", "_times"))
            .explode("_t")
            .drop_nulls("_t")
            .with_columns(_gap=gap)
            .filter((pl.col("_row") == pl.col("_row").shift(1)) & (pl.col("_gap") >= self.min_gap))
            .group_by("_row")
            .agg(_fresh=pl.col("_gap").tail(self.keep_gaps))
        )
        touched = touched.join(fresh, on="_row", how="left").with_columns(
            gaps=pl.concat_list(
                pl.col("gaps").fill_null([]), pl.col("_fresh").fill_null([])
            ).list.tail(self.keep_gaps),
            ids=pl.concat_list(pl.col("ids").fill_null([]), "_ids").list.tail(self.keep_gaps),
            last=pl.col("_times").list.last(),
            host=pl.coalesce("_host", "host"),
        )
        untouched = state.join(calls.select(_PAIR), on=_PAIR, how="anti")
        pairs = pl.concat([untouched, touched.select(list(_STATE))])
        self.keep("pairs", pairs, self.max_pairs, "last")
        return self._alerts(pairs, touched)

    def _alerts(self, pairs: pl.DataFrame, touched: pl.DataFrame) -> pl.DataFrame:
        """Alerts for the `touched` pairs that beacon, `pairs` being every pair known (to
        count each destination's internal sources)."""
        gaps = pl.col("gaps")
        median = gaps.list.median()
        scored = (
            touched.filter(gaps.list.len() >= self.min_callbacks)
            .with_columns(
                _period=median,
                _jitter=gaps.list.eval(
                    (pl.element() - pl.element().median()).abs().median()
                ).list.first()
                / median,
            )
            .filter(
                (pl.col("_jitter") <= self.max_jitter)
                & pl.col("_period").is_between(self.min_period, self.max_period)
            )
        )
        if scored.height == 0:
            return empty_alerts()
        sources = (
            pairs.join(scored.select("tenant", "dst_ip").unique(), on=["tenant", "dst_ip"])
            .group_by("tenant", "dst_ip")
            .agg(_sources=pl.col("src_ip").n_unique())
        )
        fires = (
            scored.join(sources, on=["tenant", "dst_ip"])
            .filter(pl.col("_sources") <= self.max_sources)
            .with_columns(time=pl.col("last"), event_ids=pl.col("ids"))
            .sort("time")
        )
        fires = self.cooldown(fires, _PAIR, self.cooldown_every, "beacon")
        return self.alerts(
            fires,
            rule_id="NET-BEACON",
            title="Regular callbacks to a rare external address (beaconing)",
            severity="high",
            score=(0.9 - pl.col("_jitter")).clip(0.5, 0.9),
            stage="command_and_control",
            attack=["T1071.001", "T1573"],
            entity_type="ip",
            entity=pl.col("src_ip"),
            related=[pl.lit("ip:") + pl.col("dst_ip"), pl.lit("host:") + pl.col("host")],
            explanation=pl.format(
                "{} callbacks from {} to {}:{} every {}s (median); jitter {}% of the period "
                "(≤ {}%); {} internal host(s) call this address",
                gaps.list.len(),
                pl.col("src_ip"),
                pl.col("dst_ip"),
                pl.col("dst_port"),
                pl.col("_period").round(1),
                (pl.col("_jitter") * 100).round(1),
                pl.lit(round(self.max_jitter * 100)),
                pl.col("_sources"),
            ),
            key=["dst_ip", "dst_port", "_bucket"],
        )
