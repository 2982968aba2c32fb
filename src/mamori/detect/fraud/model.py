"""The supervised model (LightGBM) with its anomaly score and model card.

A `FraudModel` is what the registry stores as one version: the gradient-boosted trees in
LightGBM's own text format, the HBOS anomaly histograms as JSON, and a model card (JSON)
saying which data window it learned from, its features, its validation metrics and when
it was trained. Nothing is pickled, so loading a model file never runs code.

`train` fits on payments before a validation cut and stops adding trees when the
validation average precision stops improving (the last weeks of the training period, as
the handbook's model selection does); the model is then refitted on the whole training
window with that number of trees.

Large batches are predicted by the same trees compiled to machine code (lleaves, an LLVM
compiler for LightGBM's text format; the same probabilities to within 1e-15): on the FDH
file LightGBM's own predictor took as much CPU as every feature together
(`benchmarks/fraud_scoring.py`, docs/fraud.md). Compiling costs
about as much as LightGBM predicting 250,000 payments, so a model compiles once it has
predicted that many, and never for a trickle of single payments. The compiled code lives
in memory only; nothing but the text model is stored. A batch's feature matrix is built
`CHUNK_ROWS` payments at a time, so it stays in the CPU's cache instead of being one
matrix of the whole batch.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import lightgbm as lgb
import lleaves
import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from mamori.detect.fraud.anomaly import Hbos
from mamori.detect.fraud.features import DISTINCT, FEATURES

#: Features the anomaly score looks at: the payment's amount against the payer's habits,
#: and the pace of the payer's, terminal's and device's activity.
ANOMALY_FEATURES = (
    "amount",
    "payer_amount_vs_mean_30d",
    "payer_amount_vs_mean_90d",
    "payer_count_1h",
    "payer_count_1d",
    "payer_seconds_since_last",
    "terminal_count_1d",
    "device_count_1d",
    "hour",
)

#: Features computed (rules and the decision log read them) but hidden from the trees: on
#: the FDH split the distinct counts moved no metric past noise (AUC 0.9039 with them, 0.9066
#: without) and made batch scoring slower than its target (199 trees instead of 131, and
#: their streams built): docs/fraud.md, "Features".
LEFT_OUT: frozenset[str] = frozenset(name for d in DISTINCT for name in d.names())

PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.1,
    "num_leaves": 15,
    "max_depth": 6,  # small trees: TreeSHAP reasons cost about T * L * D^2 per payment
    "min_data_in_leaf": 100,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "verbosity": -1,
    "seed": 7,
    "deterministic": True,
    "num_threads": 1,
}


#: Payments a model predicts with LightGBM before it compiles its trees (compiling costs
#: about as much CPU as LightGBM predicting this many).
COMPILE_AFTER_ROWS = 250_000
#: Payments per piece of a batch's feature matrix.
CHUNK_ROWS = 16_384


@dataclass
class FraudModel:
    """Trees, anomaly histograms and the model card of one model version."""

    booster: lgb.Booster
    anomaly: Hbos
    card: dict[str, Any] = field(default_factory=dict)
    compile_after_rows: int = COMPILE_AFTER_ROWS
    _predicted: int = field(default=0, init=False, repr=False)
    _compiled: Any = field(default=None, init=False, repr=False)
    _compiling: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def version(self) -> str:
        return str(self.card.get("version", "unversioned"))

    @cached_property
    def inputs(self) -> frozenset[str]:
        """The features this model reads: those its trees split on, and the anomaly
        score's (a scorer computes no other)."""
        used = self.booster.feature_importance("split") > 0
        names = self.booster.feature_name()
        return frozenset(f for f, u in zip(names, used, strict=True) if u) | frozenset(
            self.anomaly.features
        )

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Fraud probability per row of a `FEATURES` matrix."""
        return self._predictor(len(X))(X)

    def predict_columns(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Fraud probability per payment of `FEATURES` columns (all of one length), the
        matrix built `CHUNK_ROWS` payments at a time."""
        order = [np.asarray(columns[f], dtype=np.float64) for f in FEATURES]
        n = len(order[0])
        predict = self._predictor(n)
        out, piece = np.empty(n), np.empty((min(n, CHUNK_ROWS), len(order)))
        for start in range(0, n, CHUNK_ROWS):
            rows = piece[: min(CHUNK_ROWS, n - start)]
            for j, column in enumerate(order):
                rows[:, j] = column[start : start + len(rows)]
            out[start : start + len(rows)] = predict(rows)
        return out

    def _predictor(self, rows: int) -> Callable[[np.ndarray], np.ndarray]:
        """How to predict the next `rows` payments: with the compiled trees once the
        payments this model has predicted, these included, reach `compile_after_rows`;
        with LightGBM before that."""
        if self._compiled is None and self._predicted + rows < self.compile_after_rows:
            self._predicted += rows
            return lambda X: np.asarray(self.booster.predict(X, num_threads=1))
        compiled = self.compile_trees()
        return lambda X: np.asarray(compiled.predict(np.ascontiguousarray(X, np.float64), n_jobs=1))

    def compile_trees(self) -> Any:
        """The trees compiled to machine code (once per model, in memory)."""
        with self._compiling:
            if self._compiled is None:
                with tempfile.TemporaryDirectory(prefix="mamori-fraud-") as folder:
                    text = Path(folder) / "model.txt"
                    self.booster.save_model(str(text))
                    compiled = lleaves.Model(model_file=str(text))
                    compiled.compile()
                self._compiled = compiled
            return self._compiled

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Per row, each feature's contribution to the log-odds (TreeSHAP), then the bias."""
        return np.asarray(self.booster.predict(X, pred_contrib=True, num_threads=1))

    def anomaly_score(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """The anomaly score per payment of feature columns (`FEATURES` names)."""
        return self.anomaly.score(np.column_stack([columns[f] for f in self.anomaly.features]))

    def save(self, folder: Path) -> None:
        """Write `model.txt`, `anomaly.json` and `card.json` into `folder`."""
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(folder / "model.txt"))
        (folder / "anomaly.json").write_text(json.dumps(self.anomaly.to_json()))
        (folder / "card.json").write_text(json.dumps(self.card, indent=2, default=str))

    @classmethod
    def load(cls, folder: Path) -> FraudModel:
        card = json.loads((folder / "card.json").read_text())
        if card.get("features") != FEATURES:
            raise ValueError(
                f"model {folder.name} was trained on other features than this version of "
                "Mamori computes; retrain it"
            )
        booster = lgb.Booster(model_file=str(folder / "model.txt"))
        anomaly = Hbos.from_json(json.loads((folder / "anomaly.json").read_text()))
        return cls(booster, anomaly, card)


def train(
    X: np.ndarray,
    y: np.ndarray,
    times: np.ndarray,
    *,
    validate_from: datetime,
    max_trees: int = 600,
    data: str = "",
    params: dict[str, Any] | None = None,
) -> FraudModel:
    """Train on rows of `X` (`FEATURES` columns) with labels `y` at `times` (UTC µs); the
    trees never see the `LEFT_OUT` features.

    Rows at or after `validate_from` (a UTC datetime) choose the number of trees; the final
    model learns from every row. The card records the window, features, metrics and date.
    """
    params = {**PARAMS, **(params or {})}
    X = X.copy()
    X[:, [FEATURES.index(f) for f in sorted(LEFT_OUT)]] = np.nan  # never split on
    cut = (validate_from - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    fit, valid = times < cut, times >= cut
    if not fit.any() or not valid.any() or y[valid].sum() == 0:
        raise ValueError("the training window needs payments (and fraud) on both sides of "
                         "the validation cut")
    booster = lgb.train(
        params,
        lgb.Dataset(X[fit], y[fit], feature_name=FEATURES, free_raw_data=False),
        num_boost_round=max_trees,
        valid_sets=[lgb.Dataset(X[valid], y[valid], feature_name=FEATURES)],
        feval=_average_precision,
        callbacks=[lgb.early_stopping(50, verbose=False)],
    )
    trees = max(booster.best_iteration, 1)
    p_valid = booster.predict(X[valid], num_iteration=trees)
    metrics = {
        "validation_auc_roc": float(roc_auc_score(y[valid], p_valid)),
        "validation_average_precision": float(average_precision_score(y[valid], p_valid)),
        "trees": trees,
    }
    final = lgb.train(
        params, lgb.Dataset(X, y, feature_name=FEATURES), num_boost_round=trees
    )
    anomaly = Hbos.fit(X[:, [FEATURES.index(f) for f in ANOMALY_FEATURES]],
                       list(ANOMALY_FEATURES))
    text = final.model_to_string()
    when = datetime.now(UTC)
    card = {
        "version": f"fraud-{when:%Y%m%d-%H%M%S}-{hashlib.sha256(text.encode()).hexdigest()[:8]}",
        "trained_at": when.isoformat(),
        "data": data,
        "window": {
            "from": str(np.datetime64(int(times.min()), "us")),
            "until": str(np.datetime64(int(times.max()), "us")),
            "validate_from": str(np.datetime64(int(cut), "us")),
        },
        "rows": int(len(y)),
        "frauds": int(y.sum()),
        "features": FEATURES,
        "anomaly_features": list(ANOMALY_FEATURES),
        "params": params,
        "metrics": metrics,
    }
    return FraudModel(final, anomaly, card)


def _average_precision(preds: np.ndarray, data: lgb.Dataset) -> tuple[str, float, bool]:
    return "average_precision", float(average_precision_score(data.get_label(), preds)), True
