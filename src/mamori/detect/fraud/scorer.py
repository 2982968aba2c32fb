"""The fraud scorer: transactions in, decisions out, for a batch or one live payment.

`FraudScorer` holds a model (optional: without one the analysts' rules decide alone), the
rule set, an optional shadow model, and the state the features need: the recent payments
(the longest window, 90 days) and the confirmed labels. `score_batch(frame)` scores a
time-ordered frame of `transaction` events with the vectorised features;
`score_one(tx)` scores one payment (a dict of `transaction` fields) with per-entity
state. Both count the payment into the state, so the next one sees it, and give the same
features for the same history (see `mamori.detect.fraud.features`). An HTTP route calls
`score_one` per request and `score_batch` for its batch variant.

>>> import polars as pl, datetime as dt
>>> from mamori.events.schema import conform
>>> scorer = FraudScorer()
>>> t = dt.datetime(2024, 5, 1, 10, tzinfo=dt.timezone.utc)
>>> batch = conform(pl.DataFrame({"event_id": [f"e{i}" for i in range(6)],
...     "time": [t + dt.timedelta(minutes=i) for i in range(6)], "card": ["K1"] * 6,
...     "amount": [20.0] * 6}), "transaction")
>>> scorer.score_batch(batch).select("decision", "rules").rows()[-2:]
[('review', ['card-burst']), ('review', ['card-burst'])]
>>> scorer.score_one({"event_id": "e6", "time": t + dt.timedelta(minutes=6), "card": "K1",
...     "amount": 20.0})["rules"]
['card-burst']
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mamori.detect.fraud.decision import DECISION, decide
from mamori.detect.fraud.features import (
    ENTITIES,
    FEATURES,
    NOVELTY,
    RISK,
    WINDOWS,
    OnlineFeatures,
    batch_features,
    feature_columns,
    label_items,
)
from mamori.detect.fraud.model import FraudModel
from mamori.detect.fraud.registry import ModelRegistry
from mamori.detect.fraud.rules import DECISIONS, RuleSet
from mamori.events.schema import TRANSACTION, schema

#: The transaction columns the features need from the past.
HISTORY_COLUMNS = [
    "event_id",
    "time",
    "amount",
    *sorted({c for cols in ENTITIES.values() for c in cols} | set(NOVELTY.values())),
]
_HISTORY = timedelta(microseconds=max(WINDOWS.values()))
_SWEEP_EVERY = 100_000
_LABEL_HISTORY = timedelta(microseconds=max(WINDOWS[w] for r in RISK for w in r.windows))


class FraudScorer:
    """Scores payments into approve / review / decline with a score, reasons and the model
    version."""

    def __init__(
        self,
        model: FraudModel | None = None,
        rules: RuleSet | None = None,
        shadow: FraudModel | None = None,
    ) -> None:
        self.model, self.shadow = model, shadow
        self.rules = rules if rules is not None else RuleSet.load()
        full = schema("transaction")
        self._history = pl.DataFrame(schema={c: full[c] for c in HISTORY_COLUMNS})
        self._labels: pl.DataFrame | None = None
        self._pending: list[dict[str, Any]] = []
        self._online: OnlineFeatures | None = None
        self._fields = sorted(
            n for n in self.rules.names if n in TRANSACTION and n not in FEATURES
        )

    @classmethod
    def from_registry(
        cls, registry: ModelRegistry | Path | str, rules: RuleSet | None = None
    ) -> FraudScorer:
        """A scorer with the registry's production model (and its shadow, if any)."""
        reg = registry if isinstance(registry, ModelRegistry) else ModelRegistry(registry)
        prod, shadow = reg.production(), reg.shadow_version()
        return cls(
            reg.load(prod) if prod else None, rules, reg.load(shadow) if shadow else None
        )

    # --- state ---------------------------------------------------------------------------

    def _history_frame(self) -> pl.DataFrame:
        if self._pending:
            more = pl.DataFrame(self._pending, schema=self._history.schema)
            self._history = pl.concat([self._history, more])
            self._pending = []
        return self._history

    def add_labels(self, labels: pl.DataFrame, payments: pl.DataFrame | None = None) -> int:
        """Record confirmed labels (`event_id`, `known_at`, `fraud`) of payments this scorer
        has seen (or of `payments`); each counts for payments from its `known_at` on.
        Returns how many new labels were matched to a payment (labels of payments not
        seen, or forgotten, and labels already known are left out)."""
        items = label_items(self._history_frame() if payments is None else payments, labels)
        if self._labels is not None and self._labels.height:  # a label given twice counts once
            items = items.join(self._labels, on=["event_id", "known_at"], how="anti")
        self._labels = items if self._labels is None else pl.concat([self._labels, items])
        if self._online is not None:
            self._feed_labels(self._online, items)
        return items.height

    @staticmethod
    def _feed_labels(online: OnlineFeatures, items: pl.DataFrame) -> None:
        for row in items.iter_rows(named=True):
            online.add_labels(row, row["known_at"], row["fraud"])

    def _online_state(self) -> OnlineFeatures:
        """The per-entity state, built by replaying the history the first time it is
        needed (only when a scorer switches from batches to single payments)."""
        if self._online is None:
            online = OnlineFeatures()
            if self._labels is not None:
                self._feed_labels(online, self._labels)
            for row in self._history_frame().iter_rows(named=True):
                online.score_one(row)
            self._online = online
        return self._online

    def _forget(self, latest: Any) -> None:
        self._history = self._history.filter(pl.col("time") > latest - _HISTORY)
        if self._labels is not None:
            self._labels = self._labels.filter(pl.col("known_at") > latest - _LABEL_HISTORY)

    def state(self) -> dict[str, pl.DataFrame]:
        """The history and labels, as frames (for a detector's snapshot)."""
        state = {"history": self._history_frame()}
        if self._labels is not None:
            state["labels"] = self._labels
        return state

    def load_state(self, state: Mapping[str, pl.DataFrame]) -> None:
        """Continue from `state()`; the per-entity state is rebuilt when first needed."""
        self._history = state["history"].select(HISTORY_COLUMNS)
        self._labels = state.get("labels")
        self._pending, self._online = [], None

    # --- scoring -------------------------------------------------------------------------

    def _inputs(self) -> set[str]:
        """The features the decisions read: the models' and the rules'."""
        names = {n for n in self.rules.names if n in FEATURES}
        for model in (self.model, self.shadow):
            if model is not None:
                names |= model.inputs
        return names

    def score_batch(
        self, batch: pl.DataFrame, labels: pl.DataFrame | None = None
    ) -> pl.DataFrame:
        """Decisions (the `DECISION` schema) for a frame of `transaction` events at or after
        the payments already scored; rows are put in time order first.

        `labels` (`event_id`, `known_at`, `fraud`) are confirmations that arrive while the
        batch's payments happen (a backtest or a replay of a day with its chargebacks):
        each counts from its `known_at`, as live, and stays known afterwards."""
        if batch.height == 0:
            return pl.DataFrame(schema=DECISION)
        batch = batch.sort("time", maintain_order=True)
        history = self._history_frame()
        if history.height and batch["time"][0] < history["time"][-1]:
            raise ValueError(
                f"batch starts at {batch['time'][0]}, before the last payment scored "
                f"({history['time'][-1]}); score late payments one at a time"
            )
        frame = pl.concat([history, batch.select(HISTORY_COLUMNS)])
        if labels is not None:
            self.add_labels(labels, frame)
        features = batch_features(frame, self._labels, first=history.height, only=self._inputs())
        columns = {f: features[f].to_numpy() for f in FEATURES}
        fields = {c: batch[c].to_numpy() for c in self._fields}
        decisions = decide(columns, fields, self.model, self.rules)
        shadow = None
        if self.shadow is not None:
            shadow = (self.shadow.predict_columns(columns), self.shadow.version)
        self._history = frame
        if self._online is not None:
            for row in batch.select(HISTORY_COLUMNS).iter_rows(named=True):
                self._online.score_one(row)
        self._forget(batch["time"][-1])
        return decisions.frame(batch["event_id"], batch["time"], shadow)

    def score_one(self, tx: Mapping[str, Any]) -> dict[str, Any]:
        """The decision for one payment (a dict of `transaction` fields, `time` a UTC
        datetime), as a dict with the `DECISION` fields."""
        online = self._online_state()
        x = np.array([online.score_one(tx)])
        self._pending.append({c: tx.get(c) for c in HISTORY_COLUMNS})
        if len(self._pending) >= _SWEEP_EVERY:  # keep memory bounded on a long stream
            self._forget(self._history_frame()["time"][-1])
            online.sweep()
        fields = {c: np.array([tx.get(c)], dtype=object) for c in self._fields}
        d = decide(feature_columns(x), fields, self.model, self.rules)
        anomaly = float(d.anomaly_score[0])
        return {
            "event_id": tx.get("event_id"),
            "time": tx["time"],
            "decision": DECISIONS[int(d.decision[0])],
            "score": float(d.score[0]),
            "model_score": float(d.model_score[0]),
            "anomaly_score": None if np.isnan(anomaly) else anomaly,
            "reasons": d.reasons_of(0),
            "rules": d.rules_fired(0),
            "model_version": d.model_version,
            "shadow_score": float(self.shadow.predict(x)[0]) if self.shadow else None,
            "shadow_version": self.shadow.version if self.shadow else None,
        }
