"""The supervised intrusion classifier: gradient-boosted trees with calibrated probabilities.

LightGBM learns the classes a training file names (``normal``/``dos``/``probe``/… for
NSL-KDD, ``BENIGN``/``DDoS``/``PortScan``/… for CIC-IDS2017) from a reader's features
(`mamori.detect.intrusion.features`). A stratified fifth of the training rows is held out
to stop boosting when it no longer helps and to fit one temperature that calibrates the
probabilities (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017: the
raw scores divided by T before the softmax, T chosen to minimise the held-out log loss);
the card records the expected calibration error before and after.

Explanations come from LightGBM's exact tree contributions (``pred_contrib``, TreeSHAP):
per class, the features that carry most of that class's score over its own training rows
(in the card), and per prediction, the features that pushed the predicted class up most.

Split thresholds are drawn at random between the values seen (LightGBM's extremely
randomised trees, ``extra_trees``) instead of at the best cut. Attacks change while they
run: a slow DoS ends with the server's timeout answers, which its first flows never had.
Where training leaves a gap between two classes' values, a best cut sits wherever the
training rows happen to end; random thresholds spread over the gap, so the trees' vote
changes gradually across it. The choice was made on training flows alone: on CIC-IDS2017,
fitted on the earliest 60, 75 and 90 % of each class's training flows and scored on the
rest of them, macro-F1 was 0.975, 0.966 and 0.913 with best cuts and 0.992, 0.992 and
0.989 with random ones (``mamori eval cicids --forward-validation``).

With random thresholds, feature sampling and row bagging, one fitted booster depends on
its seed: on CIC-IDS2017's time split, six seeds gave test macro-F1 from 0.944 to 0.953.
So the classifier is a committee of `members` boosters, each fitted with its own seed on
the same rows, whose raw scores are averaged (the TreeSHAP contributions average with
them, so explanations stay exact). On the training part's forward validation the
committee of five scores what its members score on average (mean macro-F1 0.9907 against
0.9907; `benchmarks/intrusion_model_selection.py`): it buys no accuracy there, only a
figure that no longer hangs on which seed was drawn.

The model is saved as LightGBM's text format (``model-0.txt``, ``model-1.txt``, … one per
member) and a JSON card (``card.json``); nothing is pickled.

Limits: it knows only the classes it was trained on, and an attack unlike all of them
lands in whichever class it resembles, often ``normal``: use `novelty` beside it.

>>> rng = np.random.default_rng(0)
>>> x = pl.DataFrame({"rate": np.r_[rng.normal(0, 1, 300), rng.normal(4, 1, 300)],
...     "noise": rng.normal(0, 1, 600)})
>>> labels = pl.Series(["normal"] * 300 + ["dos"] * 300)
>>> model = IntrusionClassifier(rounds=50).fit(x, labels)
>>> model.predict(pl.DataFrame({"rate": [0.0, 5.0], "noise": [0.0, 0.0]})).to_list()
['normal', 'dos']
>>> model.card.class_explanations["dos"][0]["feature"]
'rate'
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

from mamori.detect.intrusion.card import ModelCard
from mamori.detect.intrusion.features import FeatureLayout

CARD_FILE = "card.json"


def member_file(k: int) -> str:
    """The file name of the `k`-th member's booster."""
    return f"model-{k}.txt"


class IntrusionClassifier:
    """Multi-class LightGBM on flow features; `fit`, `predict_proba`, `predict`, `explain`,
    `save` and `load`."""

    def __init__(
        self,
        *,
        rounds: int = 400,
        learning_rate: float = 0.08,
        num_leaves: int = 31,
        min_child_samples: int = 5,
        feature_fraction: float = 0.8,
        extra_trees: bool = True,
        members: int = 5,
        seed: int = 7,
        threads: int = 2,
    ) -> None:
        """`extra_trees`: each split's threshold is drawn at random between the values
        seen (LightGBM's extremely randomised trees) instead of the best cut; see the
        module text for why it is the default. `members`: how many boosters (seeds
        `seed`, `seed` + 1, …) are averaged."""
        if members < 1:
            raise ValueError(f"members must be at least 1, not {members}")
        self.params: dict[str, Any] = {
            "learning_rate": learning_rate,
            "num_leaves": num_leaves,
            "min_child_samples": min_child_samples,
            "feature_fraction": feature_fraction,
            "extra_trees": extra_trees,
            "bagging_fraction": 0.9,
            "bagging_freq": 1,
            "lambda_l2": 1.0,
            "seed": seed,
            "deterministic": True,
            "num_threads": threads,
            "verbosity": -1,
        }
        self.rounds = rounds
        self.members = members
        self.boosters: list[lgb.Booster] = []
        self.layout: FeatureLayout | None = None
        self.temperature = 1.0
        self.card = ModelCard(name="intrusion-classifier", classes=[])

    @property
    def classes(self) -> list[str]:
        return self.card.classes

    def fit(
        self,
        features: pl.DataFrame,
        labels: pl.Series,
        *,
        data: dict[str, Any] | None = None,
        calibration_share: float = 0.2,
    ) -> IntrusionClassifier:
        """Learn the classes of `labels` (one per row of `features`). `data` describes the
        training data for the card."""
        if features.height != len(labels) or features.height == 0:
            raise ValueError(f"{features.height} feature rows for {len(labels)} labels")
        if labels.null_count():
            raise ValueError(f"{labels.null_count()} rows have no label")
        self.layout = FeatureLayout.fit(features)
        x = self.layout.matrix(features)
        classes = sorted(labels.unique().to_list())
        if len(classes) < 2:
            raise ValueError(f"one class only ({classes[0]!r}): nothing to tell apart")
        codes = dict(zip(classes, range(len(classes)), strict=True))
        y = labels.replace_strict(codes, return_dtype=pl.Int32).to_numpy()
        fit_rows, held = _stratified_split(y, calibration_share, self.params["seed"])
        params = {**self.params, "objective": "multiclass", "num_class": len(classes)}
        cats = list(range(len(self.layout.numeric), len(self.layout.names)))
        train = lgb.Dataset(
            x[fit_rows],
            y[fit_rows],
            feature_name=self.layout.names,
            categorical_feature=cats,
            free_raw_data=False,
        )
        valid = train.create_valid(x[held], y[held])
        self.boosters = [
            lgb.train(
                {**params, "seed": params["seed"] + k},
                train,
                num_boost_round=self.rounds,
                valid_sets=[valid],
                callbacks=[lgb.early_stopping(30, verbose=False)],
            )
            for k in range(self.members)
        ]
        raw = self._raw(x[held])
        self.temperature = _fit_temperature(raw, y[held])
        self.card = ModelCard(
            name="intrusion-classifier",
            classes=classes,
            data={
                **(data or {}),
                "rows": features.height,
                "rows_by_class": dict(labels.value_counts().sort(labels.name).iter_rows()),
            },
            features=self.layout.to_dict(),
            params={
                **params,
                "members": self.members,
                "rounds": [b.best_iteration or self.rounds for b in self.boosters],
            },
            calibration={
                "method": "temperature scaling on a stratified held-out share",
                "held_out_rows": int(len(held)),
                "temperature": self.temperature,
                "ece_before": _ece(softmax(raw, axis=1), y[held]),
                "ece_after": _ece(softmax(raw / self.temperature, axis=1), y[held]),
                "held_out_accuracy": float(np.mean(raw.argmax(axis=1) == y[held])),
            },
            class_explanations=self._class_explanations(x[fit_rows], y[fit_rows], classes),
            limitations=[
                "Knows only the classes it was trained on; unseen attack types often look "
                "normal to it. Use the novelty score beside it.",
                "Trained on one network's traffic; features such as ports and window sizes "
                "carry that network's habits.",
            ],
        )
        return self

    def _raw(self, x: np.ndarray) -> np.ndarray:
        """The members' mean raw class scores, shape (rows, classes)."""
        if not self.boosters:
            raise RuntimeError("the classifier is not fitted; call fit() or load()")
        raw = np.mean([b.predict(x, raw_score=True) for b in self.boosters], axis=0)
        return raw.reshape(len(x), -1)

    def predict_proba(self, features: pl.DataFrame) -> np.ndarray:
        """Calibrated class probabilities, one column per class in `classes` order."""
        assert self.layout is not None
        return softmax(self._raw(self.layout.matrix(features)) / self.temperature, axis=1)

    def predict(self, features: pl.DataFrame) -> pl.Series:
        """The most probable class of each row."""
        best = self.predict_proba(features).argmax(axis=1)
        return pl.Series("predicted", np.asarray(self.classes, dtype=object)[best], pl.String)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """TreeSHAP contributions, shape (rows, classes, features + 1); the last is the bias."""
        return self._contributions(x, len(self.classes))

    def _contributions(self, x: np.ndarray, n_classes: int) -> np.ndarray:
        assert self.boosters and self.layout is not None
        flat = np.mean([b.predict(x, pred_contrib=True) for b in self.boosters], axis=0)
        return flat.reshape(len(x), n_classes, len(self.layout.names) + 1)

    def explain(self, features: pl.DataFrame, top: int = 3) -> pl.DataFrame:
        """Each row's predicted class, its probability, and the `top` features that raised
        that class's score most, as text (``feature=value (+contribution)``)."""
        assert self.layout is not None
        x = self.layout.matrix(features)
        contrib = self.contributions(x)
        proba = softmax(contrib.sum(axis=2) / self.temperature, axis=1)
        best = proba.argmax(axis=1)
        own = contrib[np.arange(len(x)), best, :-1]
        order = np.argsort(-own, axis=1)[:, :top]
        names = np.asarray(self.layout.names, dtype=object)
        rows = np.arange(len(x))[:, None]
        values, pushes = x[rows, order], own[rows, order]
        text = [
            "; ".join(
                f"{n}={v:g} ({p:+.2f})"
                for n, v, p in zip(names[o], vals, push, strict=True)
                if p > 0
            )
            for o, vals, push in zip(order, values, pushes, strict=True)
        ]
        return pl.DataFrame(
            {
                "predicted": np.asarray(self.classes, dtype=object)[best],
                "probability": proba[np.arange(len(x)), best],
                "explanation": text,
            },
            schema={"predicted": pl.String, "probability": pl.Float64, "explanation": pl.String},
        )

    def _class_explanations(
        self, x: np.ndarray, y: np.ndarray, classes: list[str], top: int = 8, sample: int = 4000
    ) -> dict[str, list[dict[str, Any]]]:
        """Per class, the features with the largest mean |contribution| to that class's
        score over (a sample of) the class's own training rows."""
        assert self.layout is not None
        rng = np.random.default_rng(self.params["seed"])
        out: dict[str, list[dict[str, Any]]] = {}
        per_class = sample // len(classes)
        for k, name in enumerate(classes):
            rows = np.flatnonzero(y == k)
            if len(rows) > per_class:
                rows = rng.choice(rows, per_class, replace=False)
            weight = np.abs(self._contributions(x[rows], len(classes))[:, k, :-1]).mean(axis=0)
            best = [int(i) for i in np.argsort(-weight)[:top] if weight[i] > 0]
            out[name] = [
                {"feature": self.layout.names[i], "mean_abs_contribution": round(float(w), 4)}
                for i, w in zip(best, weight[best], strict=True)
            ]
        return out

    def save(self, folder: Path | str) -> Path:
        """Write ``model-K.txt`` (LightGBM text, one per member) and ``card.json`` into
        `folder`."""
        if not self.boosters:
            raise RuntimeError("the classifier is not fitted")
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        for k, booster in enumerate(self.boosters):
            booster.save_model(str(path / member_file(k)))
        (path / CARD_FILE).write_text(self.card.to_json())
        return path

    @classmethod
    def load(cls, folder: Path | str) -> IntrusionClassifier:
        """A classifier saved by `save`."""
        path = Path(folder)
        model = cls()
        model.card = ModelCard.from_json((path / CARD_FILE).read_text())
        model.members = int(model.card.params["members"])
        model.boosters = [
            lgb.Booster(model_file=str(path / member_file(k))) for k in range(model.members)
        ]
        model.layout = FeatureLayout.from_dict(model.card.features)
        model.temperature = float(model.card.calibration["temperature"])
        return model

    def __repr__(self) -> str:
        return f"IntrusionClassifier(classes={json.dumps(self.classes)})"


def _stratified_split(y: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (fit, held out): `share` of every class with at least two rows held out
    (at least one row each), in a seeded order."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    ranked = order[np.argsort(y[order], kind="stable")]
    counts = np.bincount(y)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    position = np.arange(len(y)) - np.repeat(starts, counts)
    take = np.where(counts >= 2, np.maximum(1, np.floor(counts * share)), 0)
    held = position < np.repeat(take, counts)
    return np.sort(ranked[~held]), np.sort(ranked[held])


def _fit_temperature(raw: np.ndarray, y: np.ndarray) -> float:
    """The temperature minimising the held-out log loss of softmax(raw / T)."""
    if len(y) == 0:
        return 1.0

    def loss(log_t: float) -> float:
        return float(-log_softmax(raw / np.exp(log_t), axis=1)[np.arange(len(y)), y].mean())

    found = minimize_scalar(loss, bounds=(-3.0, 3.0), method="bounded")
    return float(np.exp(found.x))


def _ece(proba: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of the top-class probability, in equal-width bins."""
    if len(y) == 0:
        return 0.0
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    gap = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            gap += inside.mean() * abs(confidence[inside].mean() - correct[inside].mean())
    return round(float(gap), 5)
