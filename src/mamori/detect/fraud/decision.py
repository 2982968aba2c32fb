"""One decision per payment: the model's score, the anomaly score and the analysts' rules.

``score = clip(model score + weights of the rules that fired, 0, 1)``; the rule set's
thresholds turn it into approve, review or decline, and a fired rule may raise the
decision to its `action`. Each review or decline carries its reasons: the features that
pushed the model's score up most (LightGBM's TreeSHAP contributions, with the feature's
value) and the rules that fired, so an analyst can check why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from mamori.detect.fraud.features import FEATURES
from mamori.detect.fraud.model import FraudModel
from mamori.detect.fraud.rules import DECISIONS, RuleSet
from mamori.events.schema import TIME

TOP_REASONS = 3

DECISION: dict[str, pl.DataType] = {
    "event_id": pl.String(),
    "time": TIME,
    "decision": pl.String(),  # approve, review or decline
    "score": pl.Float64(),  # 0-1, after the rules
    "model_score": pl.Float64(),  # the model's fraud probability (0 without a model)
    "anomaly_score": pl.Float64(),  # 0-1, null without a model
    "reasons": pl.List(pl.String()),  # top feature contributions, "name=value (+c)"
    "rules": pl.List(pl.String()),  # ids of the rules that fired
    "model_version": pl.String(),
    "shadow_score": pl.Float64(),  # a shadow model's score, logged, never acted on
    "shadow_version": pl.String(),
}


@dataclass
class Decisions:
    """Decisions for n payments as columns (see `DECISION`)."""

    decision: np.ndarray  # int8: index into DECISIONS
    score: np.ndarray
    model_score: np.ndarray
    anomaly_score: np.ndarray
    flagged: np.ndarray  # rows decided review or decline
    reasons: list[list[str]]  # per flagged row
    hits: np.ndarray  # (n, rules) bool
    rule_ids: list[str]
    model_version: str | None

    def rules_fired(self, row: int) -> list[str]:
        return [self.rule_ids[j] for j in np.flatnonzero(self.hits[row])]

    def reasons_of(self, row: int) -> list[str]:
        at = int(np.searchsorted(self.flagged, row))
        return self.reasons[at] if at < len(self.flagged) and self.flagged[at] == row else []

    def frame(
        self,
        event_ids: pl.Series,
        times: pl.Series,
        shadow: tuple[np.ndarray, str] | None = None,
    ) -> pl.DataFrame:
        """The decisions as a frame with the `DECISION` schema."""
        n = len(self.score)
        rows, cols = np.nonzero(self.hits)
        fired = _lists(
            "rules", np.bincount(rows, minlength=n), pl.Series(self.rule_ids, dtype=pl.String)
            .gather(cols)
        )
        per_flagged = np.zeros(n, dtype=np.int64)
        per_flagged[self.flagged] = [len(r) for r in self.reasons]
        reasons = _lists(
            "reasons", per_flagged, pl.Series([s for r in self.reasons for s in r], dtype=pl.String)
        )
        return pl.DataFrame(
            [
                event_ids.alias("event_id").cast(pl.String),
                times.alias("time").cast(TIME),
                pl.Series("decision", DECISIONS, pl.String).gather(self.decision.astype(np.int64)),
                pl.Series("score", self.score, pl.Float64),
                pl.Series("model_score", self.model_score, pl.Float64),
                pl.Series("anomaly_score", self.anomaly_score, pl.Float64, nan_to_null=True),
                reasons,
                fired,
                _repeat("model_version", self.model_version, n),
                pl.Series(
                    "shadow_score", shadow[0] if shadow else np.full(n, np.nan), pl.Float64,
                    nan_to_null=True,
                ),
                _repeat("shadow_version", shadow[1] if shadow else None, n),
            ]
        )


def _lists(name: str, lengths: np.ndarray, values: pl.Series) -> pl.Series:
    """A list column whose row i holds the next `lengths[i]` of `values` (built from the
    offsets, with no Python object per row)."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    lists = pa.LargeListArray.from_arrays(pa.array(offsets), values.to_arrow())
    return pl.Series(name, lists).cast(pl.List(pl.String))


def _repeat(name: str, value: str | None, n: int) -> pl.Series:
    return pl.Series(name, [value], pl.String).new_from_index(0, n)


def decide(
    features: Mapping[str, np.ndarray],
    fields: Mapping[str, np.ndarray],
    model: FraudModel | None,
    rules: RuleSet,
) -> Decisions:
    """Decisions for the payments whose features are the columns `features` (one per name
    of `FEATURES`; `feature_columns` of a matrix); `fields` are the payments' own columns
    (amount, channel, …) the rules may read."""
    n = len(features[FEATURES[0]])
    if model is not None:
        model_score = model.predict_columns(features)
        anomaly = model.anomaly_score(features)
    else:
        model_score, anomaly = np.zeros(n), np.full(n, np.nan)
    columns = {**fields, **{f: features[f] for f in FEATURES}, "anomaly_score": anomaly}
    hits = rules.evaluate(columns, n)
    score = np.clip(model_score + hits.astype(np.float64) @ rules.weights(), 0.0, 1.0)
    level = (score >= rules.review).astype(np.int8) + (score >= rules.decline).astype(np.int8)
    if hits.shape[1]:
        forced = np.where(hits, rules.least_decisions()[None, :], 0).max(axis=1)
        level = np.maximum(level, forced.astype(np.int8))
    flagged = np.flatnonzero(level > 0)
    reasons: list[list[str]] = [[] for _ in flagged]
    if model is not None and len(flagged):
        X = np.column_stack([np.asarray(features[f], np.float64)[flagged] for f in FEATURES])
        contrib = model.contributions(X)[:, :-1]
        top = np.argsort(-contrib, axis=1)[:, :TOP_REASONS]
        for i in range(len(flagged)):
            reasons[i] = [
                f"{FEATURES[j]}={X[i, j]:.4g} ({contrib[i, j]:+.2f})"
                for j in top[i]
                if contrib[i, j] > 0
            ]
    return Decisions(
        level, score, model_score, anomaly, flagged, reasons, hits,
        [r.id for r in rules.rules], model.version if model else None,
    )
