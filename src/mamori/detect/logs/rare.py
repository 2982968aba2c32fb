"""Rare log templates: a source that starts printing something it has (almost) never printed.

Each log source (tenant, host, app) keeps how often it has printed each template
(`mamori.detect.logs.templates`). Once a source has been seen for `warmup` lines, a line
whose template that source has printed fewer than `rare_below` times before raises an
alert (one per source and template and `cooldown`). Masking and Drain make new numbers,
addresses and user names the same template, so a rare template is new *text*: a new error,
a new code path, a new program. Severity is ``medium`` for error-or-worse lines and ``low``
otherwise: a rare template alone is a lead, not proof.

Limits: a source's first `warmup` lines teach and never alert (a new host starts quiet);
at most `max_templates` (source, template) counts are kept, the least recently seen
dropped first, so a template unseen for long enough counts as new again.

>>> from datetime import datetime, timedelta, UTC
>>> from mamori.events.schema import conform
>>> t0 = datetime(2026, 1, 5, tzinfo=UTC)
>>> lines = ["session opened for user alice"] * 50 + ["kernel: segfault at 0 ip 0"]
>>> batch = pl.DataFrame({"event_id": [f"e{i}" for i in range(51)],
...     "time": [t0 + timedelta(seconds=i) for i in range(51)], "tenant": "bank-a",
...     "kind": "log", "host": "db1", "app": "kernel", "message": lines})
>>> alerts = RareTemplate(warmup=20).process(conform(batch, "log"))
>>> alerts.select("rule_id", "entity_id", "severity").rows()
[('log-rare-template', 'db1', 'low')]
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


class RareTemplate(Detector):
    """Lines whose template their source has rarely or never printed."""

    name: ClassVar[str] = "log-rare-template"
    kinds: ClassVar[frozenset[str]] = frozenset({"log"})

    def __init__(
        self,
        rare_below: int = 1,
        warmup: int = 1000,
        cooldown: timedelta = timedelta(days=1),
        max_templates: int = 500_000,
    ) -> None:
        self.rare_below, self.warmup, self.cooldown = rare_below, warmup, cooldown
        self.max_templates = max_templates
        self.miner = TemplateMiner()
        self.counts = pl.DataFrame(
            schema={**dict.fromkeys(_KEY, pl.String()), "seen": pl.Int64(), "last": TIME}
        )
        self.sources = pl.DataFrame(
            schema={**dict.fromkeys(SOURCE, pl.String()), "lines": pl.Int64()}
        )
        self.fired = pl.DataFrame(schema={**dict.fromkeys(_KEY, pl.String()), "_bucket": TIME})

    def process(self, batch: pl.DataFrame) -> pl.DataFrame:
        if batch.height == 0:
            return empty_alerts()
        lines = self.miner.fill(batch).with_row_index("_row")
        scored = (
            lines.join(self.counts.select(*_KEY, "seen"), on=_KEY, how="left", nulls_equal=True)
            .join(self.sources, on=SOURCE, how="left", nulls_equal=True)
            .sort("_row")
            .with_columns(
                _before=pl.col("seen").fill_null(0) + pl.int_range(pl.len()).over(_KEY),
                _source_before=pl.col("lines").fill_null(0) + pl.int_range(pl.len()).over(SOURCE),
            )
        )
        rare = scored.filter(
            (pl.col("_before") < self.rare_below) & (pl.col("_source_before") >= self.warmup)
        )
        self._learn(lines)
        if rare.height == 0:
            return empty_alerts()
        rare, self.fired = once_per_bucket(rare, _KEY, self.cooldown, self.fired)
        severe = pl.col("severity").str.to_lowercase().is_in(SEVERE).fill_null(False)
        alerts = rare.select(
            "time",
            "tenant",
            "_bucket",
            "template_id",
            *log_alert_columns(),
            event_ids=pl.concat_list("event_id"),
            rule_id=pl.lit("log-rare-template"),
            title=pl.format("Rare log message from {}", pl.col("app").fill_null("a program")),
            severity=pl.when(severe).then(pl.lit("medium")).otherwise(pl.lit("low")),
            score=pl.when(severe).then(pl.lit(0.6)).otherwise(pl.lit(0.35)),
            explanation=pl.format(
                "{} printed a message it had printed {} times in its {} earlier lines: "
                "template \"{}\"",
                pl.col("app").fill_null("?"),
                pl.col("_before"),
                pl.col("_source_before"),
                pl.col("template"),
            ),
        )
        return make_alerts(alerts, self.name, ["tenant", "entity_id", "template_id", "_bucket"])

    def _learn(self, lines: pl.DataFrame) -> None:
        seen = lines.group_by(_KEY).agg(seen=pl.len().cast(pl.Int64), last=pl.col("time").max())
        both = pl.concat([self.counts, seen.select(self.counts.columns)])
        self.counts = (
            both.group_by(_KEY)
            .agg(pl.col("seen").sum(), pl.col("last").max())
            .sort("last", descending=True, nulls_last=True)
            .head(self.max_templates)
        )
        per_source = lines.group_by(SOURCE).agg(lines=pl.len().cast(pl.Int64))
        self.sources = (
            pl.concat([self.sources, per_source.select(self.sources.columns)])
            .group_by(SOURCE)
            .agg(pl.col("lines").sum())
        )

    def snapshot(self) -> Snapshot:
        return {
            "miner": self.miner.snapshot(),
            "frames": {"counts": self.counts, "sources": self.sources, "fired": self.fired},
        }

    def restore(self, state: Snapshot) -> None:
        self.miner.restore(state["miner"])
        frames = state["frames"]
        self.counts, self.sources, self.fired = frames["counts"], frames["sources"], frames["fired"]
