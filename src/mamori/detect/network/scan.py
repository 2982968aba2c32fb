"""Port scans and host sweeps: one source probing many ports of a host, or many hosts on a port.

A *probe* is a flow that got no real answer: a refused, reset or half-open connection
(`state`), or one with no bytes back. Over a true sliding window (default 10 minutes) the
detector counts, per source, the distinct ports probed on one target (a vertical port
scan) and the distinct targets probed on one port (a horizontal sweep); a count that
reaches its threshold raises one alert per source, target and cooldown, naming a sample
of the ports or hosts and the share of probes that went unanswered.

A scan from inside the bank is discovery after a compromise (high); one from the internet
is background reconnaissance (low), which the bank sees every day.

Limits: a slow scan (fewer than `min_ports` in any window) is missed; a scan whose probes
are all answered (a full connect scan of open ports) looks like ordinary use; state holds
the first sightings of the last window only (capped at `max_tail`).

>>> from tests.conftest import batch
>>> probes = [{"src_ip": "10.1.2.3", "dst_ip": "10.9.0.1", "dst_port": p, "state": "rejected",
...            "minute": 0} for p in range(1, 31)]
>>> ScanDetector().process(batch("flow", probes))["title"].to_list()
['Port scan from an internal host']
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

import polars as pl

from mamori.detect.network.state import NetworkDetector, internal
from mamori.detect.network.window import evidence
from mamori.events.schema import empty_alerts

#: Connection states (Mamori's own and Zeek's) in which the target gave no real answer.
UNANSWERED = (
    "rejected",
    "reset",
    "syn_only",
    "failed",
    "timeout",
    "s0",
    "rej",
    "rsto",
    "rstr",
    "rstos0",
    "rstrh",
    "sh",
    "shr",
    "oth",
)


def is_probe() -> pl.Expr:
    """True for a flow that got no real answer: a failed state or no bytes back."""
    return pl.col("state").str.to_lowercase().is_in(UNANSWERED).fill_null(False) | (
        pl.col("bytes_in") == 0
    ).fill_null(False)


@dataclass(frozen=True)
class _Shape:
    rule: str
    what: str
    group: list[str]
    item: str
    target: str


_SHAPES = (
    _Shape("NET-SCAN-PORT", "Port scan", ["tenant", "src_ip", "dst_ip"], "dst_port", "dst_ip"),
    _Shape("NET-SCAN-SWEEP", "Host sweep", ["tenant", "src_ip", "dst_port"], "dst_ip", "dst_port"),
)


class ScanDetector(NetworkDetector):
    """Vertical port scans and horizontal host sweeps from one source."""

    name: ClassVar[str] = "network-scan"
    kinds: ClassVar[frozenset[str]] = frozenset({"flow"})

    def __init__(
        self,
        window: timedelta = timedelta(minutes=10),
        min_ports: int = 25,
        min_hosts: int = 25,
        cooldown: timedelta = timedelta(hours=1),
    ) -> None:
        super().__init__()
        self.window, self.cooldown_every = window, cooldown
        self.thresholds = {"NET-SCAN-PORT": min_ports, "NET-SCAN-SWEEP": min_hosts}

    def process(self, batch: pl.DataFrame) -> pl.DataFrame:
        if batch.height == 0:
            return empty_alerts()
        probes = batch.filter(
            is_probe()
            & pl.col("src_ip").is_not_null()
            & pl.col("dst_ip").is_not_null()
            & pl.col("dst_port").is_not_null()
        ).select("time", "event_id", "tenant", "src_ip", "dst_ip", "dst_port")
        found = [self._shape(shape, probes) for shape in _SHAPES]
        found = [a for a in found if a.height]
        return pl.concat(found) if found else empty_alerts()

    def _shape(self, shape: _Shape, probes: pl.DataFrame) -> pl.DataFrame:
        threshold = self.thresholds[shape.rule]
        counted = self.count_distinct(
            shape.rule, probes, shape.group, [shape.item], self.window, threshold
        )
        fires = self.cooldown(counted.fires, shape.group, self.cooldown_every, shape.rule)
        if fires.height == 0:
            return empty_alerts()
        shown = fires.pipe(
            evidence,
            counted.sightings,
            shape.group,
            self.window,
            [pl.col(shape.item).head(10).sort().cast(pl.String).str.join(", ").alias("_sample")],
        )
        inside = internal("src_ip")
        return self.alerts(
            shown,
            rule_id=shape.rule,
            title=pl.when(inside)
            .then(pl.lit(f"{shape.what} from an internal host"))
            .otherwise(pl.lit(f"{shape.what} from the internet")),
            severity=pl.when(inside).then(pl.lit("high")).otherwise(pl.lit("low")),
            score=pl.when(inside).then(0.75).otherwise(0.25),
            stage=pl.when(inside).then(pl.lit("discovery")).otherwise(pl.lit("reconnaissance")),
            attack=["T1046", "T1595.001"],
            entity_type="ip",
            entity=pl.col("src_ip"),
            related=[pl.lit("ip:") + pl.col("dst_ip")] if shape.target == "dst_ip" else [],
            explanation=pl.format(
                f"{{}} distinct {shape.item.replace('dst_', '')}s probed without answer "
                f"on {shape.target.replace('dst_', '')} {{}} from {{}} within "
                f"{int(self.window.total_seconds() // 60)}m (≥ {threshold}); e.g. {{}}",
                pl.col("_distinct"),
                pl.col(shape.target).cast(pl.String),
                pl.col("src_ip"),
                pl.col("_sample"),
            ),
            key=[shape.target, "_bucket"],
        )
