"""What every behavioural network detector shares: named state frames with caps, cooldowns,
and alerts built from a frame of findings.

State is a dict of Polars frames (so a snapshot is Arrow IPC plus a JSON count of evicted
rows); each frame is capped, the least recently seen rows go first and are counted.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl

from mamori.detect.base import Detector, Snapshot, make_alerts, once_per_bucket
from mamori.detect.match import is_private_ip
from mamori.detect.network.window import WindowCount, distinct_in_window
from mamori.events.schema import empty_alerts


def internal(column: str) -> pl.Expr:
    """True where the column holds one of the bank's own (private) addresses."""
    return pl.col(column).is_not_null() & is_private_ip(pl.col(column))


def external(column: str) -> pl.Expr:
    """True where the column holds a public address."""
    return pl.col(column).is_not_null() & ~is_private_ip(pl.col(column))


class NetworkDetector(Detector):
    """A detector whose state is a set of named frames, each bounded."""

    #: Most first sightings a sliding window keeps (newest kept, the rest counted evicted).
    max_tail: int = 2_000_000

    def __init__(self) -> None:
        self.frames: dict[str, pl.DataFrame] = {}
        self.evicted = 0

    def snapshot(self) -> Snapshot:
        return {"frames": dict(self.frames), "evicted": self.evicted}

    def restore(self, state: Snapshot) -> None:
        self.frames = dict(state.get("frames", {}))
        self.evicted = int(state.get("evicted", 0))

    def keep(self, name: str, frame: pl.DataFrame, limit: int, recency: str = "time") -> None:
        """Store `frame` as state `name`, keeping the `limit` most recent rows by `recency`."""
        if frame.height > limit:
            self.evicted += frame.height - limit
            frame = frame.sort(recency, descending=True).head(limit)
        self.frames[name] = frame

    def count_distinct(
        self,
        name: str,
        rows: pl.DataFrame,
        group: list[str],
        items: list[str],
        window: timedelta,
        threshold: int,
    ) -> WindowCount:
        """`distinct_in_window` with its tail kept as state `name`/tail."""
        found = distinct_in_window(
            rows, self.frames.get(f"{name}/tail"), group, items, window, threshold, self.max_tail
        )
        self.frames[f"{name}/tail"] = found.tail
        self.evicted += found.evicted
        return found

    def cooldown(
        self, fires: pl.DataFrame, keys: list[str], every: timedelta, name: str
    ) -> pl.DataFrame:
        """The first of `fires` per key and `every`-long bucket that has not fired before."""
        kept, self.frames[f"{name}/fired"] = once_per_bucket(
            fires, keys, every, self.frames.get(f"{name}/fired")
        )
        return kept

    def alerts(
        self,
        findings: pl.DataFrame,
        *,
        rule_id: str | pl.Expr,
        title: str | pl.Expr,
        severity: str | pl.Expr,
        score: float | pl.Expr,
        stage: str | pl.Expr,
        attack: list[str],
        entity_type: str,
        entity: pl.Expr,
        explanation: pl.Expr,
        related: list[pl.Expr] | None = None,
        key: list[str] | None = None,
    ) -> pl.DataFrame:
        """Alerts from `findings` (with time, tenant, event_ids, _bucket); the alert id comes
        from the rule, the tenant, the entity and `key` columns (default: `_bucket`)."""
        if findings.height == 0:
            return empty_alerts()

        def lit(value: Any) -> pl.Expr:
            return value if isinstance(value, pl.Expr) else pl.lit(value)

        named: list[pl.Expr] = [pl.lit(None, pl.String)]
        named += [pl.when(expr.is_not_null()).then(expr) for expr in (related or [])]
        key = key or ["_bucket"]
        frame = findings.select(
            "time",
            "tenant",
            "event_ids",
            *key,
            rule_id=lit(rule_id),
            title=lit(title),
            severity=lit(severity),
            score=lit(score).cast(pl.Float64),
            stage=lit(stage),
            attack=pl.lit(attack, pl.List(pl.String)),
            entity_type=pl.lit(entity_type),
            entity_id=entity.cast(pl.String),
            related=pl.concat_list(named).list.drop_nulls().list.unique(maintain_order=True),
            explanation=explanation,
        )
        return make_alerts(frame, self.name, ["rule_id", "tenant", "entity_id", *key])
