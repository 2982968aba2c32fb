"""The fraud detector: payments scored by `FraudScorer`, alerts for review and decline.

Each tenant has its own scorer (entities never mix across tenants). A payment held for
review raises a medium alert, a declined one a high alert, on the paying card (else the
account, else the customer), with the score, the rules that fired and the top feature
contributions as its explanation. Without a trained model the analysts' rules decide
alone.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from mamori.detect.base import Detector, Snapshot, make_alerts
from mamori.detect.fraud.model import FraudModel
from mamori.detect.fraud.rules import RuleSet
from mamori.detect.fraud.scorer import FraudScorer
from mamori.events.schema import empty_alerts

_RELATED = {"customer": "customer", "account": "account", "card": "card", "device": "device",
            "ip": "ip"}


class FraudDetector(Detector):
    """Scores `transaction` batches; alerts on review and decline decisions."""

    name = "fraud"
    kinds = frozenset({"transaction"})

    def __init__(self, model: FraudModel | None = None, rules: RuleSet | None = None) -> None:
        self.model = model
        self.rules = rules if rules is not None else RuleSet.load()
        self.scorers: dict[str, FraudScorer] = {}

    def _scorer(self, tenant: str) -> FraudScorer:
        if tenant not in self.scorers:
            self.scorers[tenant] = FraudScorer(self.model, self.rules)
        return self.scorers[tenant]

    def process(self, batch: pl.DataFrame) -> pl.DataFrame:
        if batch.height == 0:
            return empty_alerts()
        found = []
        for (tenant,), part in batch.group_by("tenant", maintain_order=True):
            decisions = self._scorer(str(tenant)).score_batch(part)
            flagged = decisions.filter(pl.col("decision") != "approve")
            if flagged.height:
                found.append(flagged.join(part.drop("time"), on="event_id", how="left"))
        if not found:
            return empty_alerts()
        rows = pl.concat(found)
        payer = pl.coalesce("card", "account", "customer")
        alerts = rows.select(
            "time",
            "tenant",
            rule_id=pl.format("fraud-{}", "decision"),
            title=pl.format("Payment of {} {} held: {}", "amount", pl.col("currency").fill_null(""),
                            "decision"),
            severity=pl.when(pl.col("decision") == "decline").then(pl.lit("high"))
            .otherwise(pl.lit("medium")),
            score="score",
            stage=pl.lit("card_fraud"),
            entity_type=pl.when(pl.col("card").is_not_null()).then(pl.lit("card"))
            .when(pl.col("account").is_not_null()).then(pl.lit("account"))
            .otherwise(pl.lit("customer")),
            entity_id=payer,
            related=pl.concat_list([
                pl.when(pl.col(c).is_not_null()).then(pl.lit(f"{t}:") + pl.col(c))
                for c, t in _RELATED.items()
            ]).list.drop_nulls(),
            event_ids=pl.concat_list("event_id"),
            explanation=pl.format(
                "score {} (model {}); rules: {}; reasons: {}",
                pl.col("score").round(3),
                pl.col("model_version").fill_null("none"),
                pl.col("rules").list.join(", "),
                pl.col("reasons").list.join(", "),
            ),
            _key=pl.col("event_id"),
        )
        return make_alerts(alerts, self.name, ["rule_id", "_key"])

    def snapshot(self) -> Snapshot:
        state: dict[str, Any] = {"tenants": sorted(self.scorers)}
        for i, tenant in enumerate(state["tenants"]):
            for key, frame in self.scorers[tenant].state().items():
                state[f"{key}:{i}"] = frame
        return state

    def restore(self, state: Snapshot) -> None:
        self.scorers = {}
        for i, tenant in enumerate(state.get("tenants", [])):
            part = {k: state[f"{k}:{i}"] for k in ("history", "labels") if f"{k}:{i}" in state}
            self._scorer(tenant).load_state(part)
