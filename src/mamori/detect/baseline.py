"""Per-entity behavioural baselines: a value far outside the entity's own history.

Each entity (a customer, a card, a host) keeps a streaming mean and variance of
`log1p(value)` (Welford's algorithm, merged a batch at a time with Chan et al.'s parallel
update), so memory is one row per entity whatever the run's length. An event whose value
lies `z` standard deviations above the entity's mean, once the entity has at least
`min_history` events, raises an alert that shows the value, the entity's typical value and
the z-score. An unusual amount alone is weak evidence (people do buy a television), so the
alert is of medium severity whatever the z-score: it raises an incident when it joins other
signals on the same customer, card or account.

Each event is compared with everything before it, earlier events of the same batch
included, so the alerts do not depend on where batches are cut. At most `max_entities`
are kept, least recently seen evicted first and counted in `evicted`.

>>> import polars as pl, datetime as dt
>>> from mamori.events.schema import conform
>>> rows = [100.0] * 20 + [9000.0]
>>> t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
>>> batch = conform(pl.DataFrame({"event_id": [str(i) for i in range(21)],
...     "time": [t0 + dt.timedelta(minutes=i) for i in range(21)], "tenant": "bank-a",
...     "customer": "C1", "amount": [r + i % 3 for i, r in enumerate(rows)],
...     "direction": "debit"}), "transaction")
>>> detector = AmountBaseline()
>>> detector.process(batch[:20]).height, detector.process(batch[20:]).height
(0, 1)
"""

from __future__ import annotations

from typing import Any, ClassVar

import polars as pl

from mamori.detect.base import Detector, Snapshot, make_alerts
from mamori.detect.match import compile_match
from mamori.events.schema import empty_alerts


class AmountBaseline(Detector):
    """Unusually large values against each entity's own history (default: payments)."""

    name: ClassVar[str] = "baseline"
    kinds: ClassVar[frozenset[str]] = frozenset({"transaction"})

    def __init__(
        self,
        *,
        kind: str = "transaction",
        entity: str = "customer",
        entity_type: str = "customer",
        value: str = "amount",
        scope: dict[str, Any] | None = None,
        rule_id: str = "baseline-amount-customer",
        title: str = "Payment far above the customer's usual amounts",
        stage: str = "cash_out",
        z: float = 4.0,
        min_history: int = 5,
        min_value: float = 500.0,
        related: dict[str, str] | None = None,
        max_entities: int = 5_000_000,
    ) -> None:
        self.kind, self.entity, self.entity_type, self.value = kind, entity, entity_type, value
        self.scope = (
            {"direction": "debit", "status": {"not": "declined"}} if scope is None else scope
        )
        self.rule_id, self.title, self.stage = rule_id, title, stage
        self.z, self.min_history, self.min_value = z, min_history, min_value
        self.related = (
            {"account": "account", "card": "card", "device": "device", "ip": "ip"}
            if related is None
            else related
        )
        self.max_entities = max_entities
        self.stats = pl.DataFrame(
            schema={
                "tenant": pl.String,
                entity: pl.String,
                "n": pl.Int64,
                "mean": pl.Float64,
                "m2": pl.Float64,
                "last_seen": pl.Datetime("us", "UTC"),
            }
        )
        self.evicted = 0

    def process(self, batch: pl.DataFrame) -> pl.DataFrame:
        if batch.height == 0 or batch["kind"][0] != self.kind:
            return empty_alerts()
        rows = batch.filter(
            compile_match(self.scope)
            & pl.col(self.entity).is_not_null()
            & pl.col(self.value).is_not_null()
        )
        if rows.height == 0:
            return empty_alerts()
        rows = rows.with_columns(_x=pl.col(self.value).log1p())
        alerts = self._score(rows)
        self._learn(rows)
        return alerts

    def _score(self, rows: pl.DataFrame) -> pl.DataFrame:
        # the history before each row: the saved statistics merged (Chan et al.) with the
        # entity's earlier rows in this batch, so results do not depend on batch boundaries
        key = ["tenant", self.entity]
        prior = rows.with_columns(
            _k=pl.int_range(pl.len()).over(key).cast(pl.Float64),
            _s1=(pl.col("_x").cum_sum() - pl.col("_x")).over(key),
            _s2=((pl.col("_x") ** 2).cum_sum() - pl.col("_x") ** 2).over(key),
        ).join(self.stats, on=key, how="left")
        n0 = pl.col("n").fill_null(0).cast(pl.Float64)
        m0 = pl.col("mean").fill_null(0.0)
        k = pl.col("_k")
        mean_b = pl.when(k > 0).then(pl.col("_s1") / k).otherwise(0.0)
        m2_b = pl.when(k > 0).then(pl.col("_s2") - pl.col("_s1") ** 2 / k).otherwise(0.0)
        total = n0 + k
        joined = prior.with_columns(
            n=total,
            mean=pl.when(total > 0).then((n0 * m0 + pl.col("_s1")) / total).otherwise(0.0),
            m2=pl.col("m2").fill_null(0.0)
            + m2_b.clip(lower_bound=0.0)
            + pl.when(total > 0).then((mean_b - m0) ** 2 * n0 * k / total).otherwise(0.0),
        ).filter(pl.col("n") >= self.min_history)
        std = (pl.col("m2") / (pl.col("n") - 1)).sqrt().clip(lower_bound=0.25)
        scored = joined.with_columns(_z=(pl.col("_x") - pl.col("mean")) / std).filter(
            (pl.col("_z") >= self.z) & (pl.col(self.value) >= self.min_value)
        )
        if scored.height == 0:
            return empty_alerts()
        related = [
            pl.when(pl.col(c).is_not_null()).then(pl.lit(f"{t}:") + pl.col(c).cast(pl.String))
            for c, t in self.related.items()
            if c in scored.columns
        ]
        alerts = scored.select(
            "time",
            "tenant",
            rule_id=pl.lit(self.rule_id),
            title=pl.lit(self.title),
            severity=pl.lit("medium"),
            score=(1 - (-(pl.col("_z") - self.z + 1) / 2).exp()).clip(0.3, 0.99),
            stage=pl.lit(self.stage),
            entity_type=pl.lit(self.entity_type),
            entity_id=pl.col(self.entity),
            related=pl.concat_list(related).list.drop_nulls()
            if related
            else pl.lit([], pl.List(pl.String)),
            event_ids=pl.concat_list("event_id"),
            _key=pl.col("event_id"),
            explanation=pl.format(
                "{} {} against a typical {} over {} earlier events (z = {})",
                pl.lit(self.value),
                pl.col(self.value).round(2),
                (pl.col("mean").exp() - 1).round(2),
                pl.col("n").cast(pl.Int64),
                pl.col("_z").round(1),
            ),
        )
        return make_alerts(alerts, self.name, ["rule_id", "_key"])

    def _learn(self, rows: pl.DataFrame) -> None:
        batch = rows.group_by("tenant", self.entity).agg(
            n_b=pl.len().cast(pl.Int64),
            mean_b=pl.col("_x").mean(),
            m2_b=((pl.col("_x") - pl.col("_x").mean()) ** 2).sum(),
            last_b=pl.col("time").max(),
        )
        merged = self.stats.join(
            batch, on=["tenant", self.entity], how="full", coalesce=True
        ).with_columns(
            pl.col("n", "n_b").fill_null(0),
            pl.col("mean", "m2", "mean_b", "m2_b").fill_null(0.0),
        )
        n = pl.col("n") + pl.col("n_b")
        delta = pl.col("mean_b") - pl.col("mean")
        self.stats = merged.select(
            "tenant",
            self.entity,
            n=n,
            mean=pl.col("mean") + delta * pl.col("n_b") / n,
            m2=pl.col("m2") + pl.col("m2_b") + delta**2 * pl.col("n") * pl.col("n_b") / n,
            last_seen=pl.max_horizontal("last_seen", "last_b"),
        )
        if self.stats.height > self.max_entities:
            self.evicted += self.stats.height - self.max_entities
            self.stats = self.stats.sort("last_seen", descending=True).head(self.max_entities)

    def snapshot(self) -> Snapshot:
        return {"frames": {"stats": self.stats}, "evicted": self.evicted}

    def restore(self, state: Snapshot) -> None:
        self.stats = state["frames"]["stats"]
        self.evicted = int(state.get("evicted", 0))
