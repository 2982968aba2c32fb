"""Lateral movement: an internal host reaching several internal hosts it never administered.

Inside a bank, remote administration (SMB, RPC, RDP, WinRM, SSH, VNC) follows habits: the
same admins reach the same servers. The detector remembers every internal (source,
destination, admin port) pair it has seen and, once it has watched the tenant for `warmup`,
counts each source's *new* pairs over a true sliding window (1 hour). At `min_new` new
peers it alerts (medium); at `many_new` it is high. A source that routinely administers
many hosts (at least `admin_peers` known admin peers: a jump server, an admin's
workstation) is one step less severe, since reaching a new server is its job.

The spine's rule MR-WIN-007 flags the Windows side (an account's first network logon to a
host); this sees the network side, for hosts without Windows logs too.

State: the known pairs (at most `max_pairs`, least recently seen evicted and counted), the
first time seen per tenant, the last hour of new pairs, and the fired buckets.

>>> from datetime import timedelta
>>> from tests.conftest import batch
>>> habit = [{"src_ip": "10.5.0.9", "dst_ip": "10.0.0.10", "dst_port": 445, "minute": 0}]
>>> moves = [{"src_ip": "10.5.0.9", "dst_ip": f"10.0.1.{i}", "dst_port": 445, "minute": 2000 + i}
...          for i in range(3)]
>>> d = NewInternalPeers(warmup=timedelta(hours=1))
>>> _ = d.process(batch("flow", habit))
>>> d.process(batch("flow", moves))["severity"].to_list()
['medium', 'high']
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

import polars as pl

from mamori.detect.network.state import NetworkDetector, internal
from mamori.detect.network.window import evidence
from mamori.events.schema import empty_alerts

#: SMB, NetBIOS, RPC, RDP, WinRM, SSH, VNC, Telnet.
ADMIN_PORTS = (445, 139, 135, 3389, 5985, 5986, 22, 5900, 23)
_PAIR = ["tenant", "src_ip", "dst_ip", "dst_port"]
_SOURCE = ["tenant", "src_ip"]


class NewInternalPeers(NetworkDetector):
    """Several new internal admin-protocol peers for one host within an hour."""

    name: ClassVar[str] = "lateral-movement"
    kinds: ClassVar[frozenset[str]] = frozenset({"flow"})

    def __init__(
        self,
        warmup: timedelta = timedelta(days=3),
        window: timedelta = timedelta(hours=1),
        min_new: int = 2,
        many_new: int = 3,
        admin_peers: int = 5,
        cooldown: timedelta = timedelta(hours=6),
        max_pairs: int = 2_000_000,
    ) -> None:
        super().__init__()
        self.warmup, self.window, self.min_new, self.many_new = warmup, window, min_new, many_new
        self.admin_peers, self.cooldown_every, self.max_pairs = admin_peers, cooldown, max_pairs

    def process(self, batch: pl.DataFrame) -> pl.DataFrame:
        if batch.height == 0:
            return empty_alerts()
        admin = batch.filter(
            pl.col("dst_port").is_in(ADMIN_PORTS)
            & internal("src_ip")
            & internal("dst_ip")
            & (pl.col("src_ip") != pl.col("dst_ip"))
        )
        if admin.height == 0:
            return empty_alerts()
        firsts = admin.select(
            "time", "event_id", *_PAIR, _host=pl.coalesce("src_host", "src_ip"), _to="dst_host"
        ).unique(subset=_PAIR, keep="first", maintain_order=True)
        known = self.frames.get("pairs")
        started = admin.group_by("tenant").agg(first=pl.col("time").min())
        if "started" in self.frames:
            started = (
                pl.concat([self.frames["started"], started])
                .group_by("tenant")
                .agg(pl.col("first").min())
            )
        self.frames["started"] = started
        new = firsts if known is None else firsts.join(known, on=_PAIR, how="anti")
        new = new.join(started, on="tenant").filter(pl.col("time") >= pl.col("first") + self.warmup)
        peers = (
            known.group_by(_SOURCE).agg(_peers=pl.col("dst_ip").n_unique())
            if known is not None
            else None
        )
        seen = admin.group_by(_PAIR).agg(last=pl.col("time").max())
        if known is not None:
            seen = pl.concat([known, seen]).group_by(_PAIR).agg(pl.col("last").max())
        self.keep("pairs", seen, self.max_pairs, "last")
        counted = self.count_distinct(
            "new", new.drop("first"), _SOURCE, ["dst_ip", "dst_port"], self.window, self.min_new
        )
        fires = counted.fires.with_columns(_many=pl.col("_distinct") >= self.many_new)
        fires = self.cooldown(fires, [*_SOURCE, "_many"], self.cooldown_every, "lateral")
        if fires.height == 0:
            return empty_alerts()
        shown = evidence(
            fires,
            counted.sightings,
            _SOURCE,
            self.window,
            [
                pl.format("{}:{}", pl.coalesce("_to", "dst_ip"), "dst_port")
                .str.join(", ")
                .alias("_targets"),
                pl.col("_host").last(),
                pl.format("ip:{}", "dst_ip").alias("_ips"),
            ],
        )
        if peers is not None:
            shown = shown.join(peers, on=_SOURCE, how="left")
        else:
            shown = shown.with_columns(_peers=pl.lit(0, pl.UInt32))
        admin_like = pl.col("_peers").fill_null(0) >= self.admin_peers
        level = pl.col("_many").cast(pl.Int8) - admin_like.cast(pl.Int8)
        return self.alerts(
            shown,
            rule_id="NET-LATERAL-NEW-PEERS",
            title="Host reached several internal hosts it never administered before",
            severity=pl.when(level >= 1)
            .then(pl.lit("high"))
            .when(level == 0)
            .then(pl.lit("medium"))
            .otherwise(pl.lit("low")),
            score=(0.45 + 0.15 * level.cast(pl.Float64)).clip(0.2, 0.8),
            stage="lateral_movement",
            attack=["T1021", "T1021.002"],
            entity_type="ip",
            entity=pl.col("src_ip"),
            related=[pl.lit("host:") + pl.col("_host"), pl.col("_ips").list.head(10)],
            explanation=pl.format(
                "{} ({}) opened admin connections to {} new internal peers within {}m: {}; "
                "it had {} known admin peers",
                pl.col("_host"),
                pl.col("src_ip"),
                pl.col("_distinct"),
                pl.lit(int(self.window.total_seconds() // 60)),
                pl.col("_targets"),
                pl.col("_peers").fill_null(0),
            ),
        )
