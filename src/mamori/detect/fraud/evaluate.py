"""The Fraud Detection Handbook protocol: train on earlier weeks, score later weeks as live.

One pass computes every payment's features in time order, the train file's payments
first, so a test payment sees exactly the history and labels it would see live: a label
counts only from its payment's time plus the delay (7 days in the handbook). The model
learns from training payments whose labels were known when the test period begins
(`train_until` defaults to the test start minus the delay, the handbook's "delay period"),
choosing its number of trees on the last two weeks of that window. The test payments are
then decided by the whole scorer (model, anomaly score and analysts' rules), and scored
with AUC ROC, average precision and card precision@100: the mean over test days of the
share of truly compromised cards among the day's 100 highest-risk cards.

Baselines, run on the same split by the same code: the handbook's logistic regression,
decision trees (depth 2 and unlimited), random forest, and a boosted model (LightGBM) on
the handbook's basic features (amount, weekend/night, the card's count and mean amount over
1, 7 and 30 days, the terminal's count and delayed fraud share over 1, 7 and 30 days).
``TX_FRAUD_SCENARIO`` is never read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from sklearn.metrics import average_precision_score, roc_auc_score

from mamori.detect.fraud.decision import decide
from mamori.detect.fraud.features import (
    FEATURES,
    batch_features,
    feature_columns,
    labels_with_delay,
)
from mamori.detect.fraud.model import PARAMS, train
from mamori.detect.fraud.registry import ModelRegistry
from mamori.detect.fraud.rules import DECISIONS, RuleSet
from mamori.events.fdh import read_fdh

HANDBOOK_FEATURES = [
    "amount",
    "is_weekend",
    "is_night",
    *[f"payer_count_{w}" for w in ("1d", "7d", "30d")],
    *[f"payer_mean_amount_{w}" for w in ("1d", "7d", "30d")],
    *[f"terminal_count_{w}" for w in ("1d", "7d", "30d")],
    *[f"terminal_fraud_share_{w}" for w in ("1d", "7d", "30d")],
]
VALIDATION = timedelta(days=14)


def metrics(scored: pl.DataFrame, score: str = "score", k: int = 100) -> dict[str, float]:
    """AUC ROC, average precision and card precision@k of `score` against `fraud`
    (`scored` has `time`, `card`, `fraud` and the score column)."""
    y, s = scored["fraud"].to_numpy(), scored[score].to_numpy()
    per_day = (
        scored.group_by(pl.col("time").dt.date().alias("day"), "card")
        .agg(pl.col(score).max(), pl.col("fraud").max())
        .sort(["day", score, "card"], descending=[False, True, False])
        .group_by("day")
        .agg(pl.col("fraud").head(k).sum() / k)
    )
    return {
        "auc_roc": round(float(roc_auc_score(y, s)), 4),
        "average_precision": round(float(average_precision_score(y, s)), 4),
        f"card_precision_at_{k}": round(float(per_day["fraud"].to_numpy().mean()), 4),
    }


def _span(frame: pl.DataFrame) -> dict[str, str]:
    return {"from": str(frame["time"].min()), "until": str(frame["time"].max())}


def evaluate_fdh(
    train_path: Path,
    test_path: Path,
    *,
    train_from: datetime | None = None,
    train_until: datetime | None = None,
    test_from: datetime | None = None,
    test_until: datetime | None = None,
    delay_days: float = 7.0,
    rules: RuleSet | None = None,
    baselines: bool = True,
    progress: Callable[[str], None] = lambda _: None,
    registry: Path | None = None,
) -> dict[str, Any]:
    """Run the protocol; dates are UTC, `*_until` exclusive. Returns the figures. With
    `registry`, the trained model is added to that model registry folder."""
    started = time.perf_counter()
    same = Path(train_path).resolve() == Path(test_path).resolve()
    if same and test_from is None:
        raise ValueError("train and test are the same file: give --test-from (and optionally "
                         "--train-until) to split it in time")
    progress("reading")
    train_data = read_fdh(train_path)
    parts = [(train_data, "train")] if same else [(train_data, "train"),
                                                 (read_fdh(test_path), "test")]
    # two files may reuse transaction ids: the test file's ids get a prefix
    rename = pl.col("event_id")
    events = pl.concat([
        d.events.with_columns(pl.lit(p).alias("_file"), (p + ":" + rename).alias("event_id"))
        for d, p in parts
    ]).sort("time", maintain_order=True)
    labels = pl.concat([d.labels.with_columns((p + ":" + rename).alias("event_id"))
                        for d, p in parts])
    is_test = pl.col("_file") == ("train" if same else "test")
    if test_from is not None:
        is_test &= pl.col("time") >= test_from
    if test_until is not None:
        is_test &= pl.col("time") < test_until
    test_start = events.filter(is_test)["time"].min()
    if test_start is None:
        raise ValueError("no test payments in the given file and dates")
    assert isinstance(test_start, datetime)
    if train_until is None:
        train_until = test_start - timedelta(days=delay_days)
    if train_until > test_start:
        raise ValueError(f"training ({train_until}) must end before the test starts "
                         f"({test_start})")
    is_train = (pl.col("_file") == "train") & (pl.col("time") < train_until)
    if train_from is not None:
        is_train &= pl.col("time") >= train_from
    progress(f"computing features for {events.height:,} payments")
    known = labels_with_delay(labels, delay_days)
    feats = batch_features(events, known).select(FEATURES)
    frame = pl.concat([events.select("event_id", "time", "card", "_file"), feats],
                      how="horizontal").join(labels.select("event_id", "fraud"), on="event_id")
    trainset = frame.filter(is_train)
    testset = frame.filter(is_test).drop("_file")
    X_train = trainset.select(FEATURES).to_numpy()
    y_train = trainset["fraud"].to_numpy()
    t_train = trainset["time"].dt.epoch("us").to_numpy()
    progress(f"training on {trainset.height:,} payments")
    model = train(X_train, y_train, t_train, validate_from=train_until - VALIDATION,
                  data=f"{Path(train_path).name} {_span(trainset)}")
    X_test = testset.select(FEATURES).to_numpy()
    progress(f"scoring {testset.height:,} test payments")
    test_events = events.filter(is_test)
    fields = {c: test_events[c].to_numpy() for c in test_events.columns if c in (
        rules or RuleSet.load()).names}
    decisions = decide(feature_columns(X_test), fields, model, rules or RuleSet.load())
    scored = testset.select("time", "card", "fraud").with_columns(
        score=decisions.score,
        model_score=decisions.model_score,
        anomaly_score=decisions.anomaly_score,
    )
    result: dict[str, Any] = {
        **metrics(scored),
        "n_test": testset.height,
        "n_fraud": int(testset["fraud"].sum()),
        "n_train": trainset.height,
        "n_train_fraud": int(y_train.sum()),
        "train": _span(trainset),
        "test": _span(testset),
        "label_delay_days": delay_days,
        "model_only": metrics(scored, "model_score"),
        "anomaly_only": metrics(scored, "anomaly_score"),
        "decisions": {
            DECISIONS[i]: int((decisions.decision == i).sum()) for i in range(len(DECISIONS))
        },
        "model": {"version": model.version, **model.card["metrics"]},
    }
    if registry is not None:
        result["model"]["registry"] = str(registry)
        ModelRegistry(registry).add(model)
    if baselines:
        result["baselines"] = _baselines(trainset, testset, scored, progress)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def _baselines(
    trainset: pl.DataFrame,
    testset: pl.DataFrame,
    scored: pl.DataFrame,
    progress: Callable[[str], None],
) -> dict[str, dict[str, float]]:
    """The handbook's baseline models on its basic features, same split."""
    import lightgbm as lgb
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    X = trainset.select(HANDBOOK_FEATURES).fill_null(0).fill_nan(0).to_numpy()
    y = trainset["fraud"].to_numpy()
    Xt = testset.select(HANDBOOK_FEATURES).fill_null(0).fill_nan(0).to_numpy()
    models: dict[str, Any] = {
        "logistic_regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        "decision_tree_depth_2": DecisionTreeClassifier(max_depth=2, random_state=0),
        "decision_tree_unlimited": DecisionTreeClassifier(random_state=0),
        "random_forest": RandomForestClassifier(
            n_estimators=100, min_samples_leaf=5, max_samples=0.25, n_jobs=1, random_state=0
        ),
    }
    out = {}
    for name, est in models.items():
        progress(f"baseline {name}")
        est.fit(X, y)
        out[name] = metrics(scored.with_columns(b=est.predict_proba(Xt)[:, 1]), "b")
    progress("baseline boosted_trees")
    booster = lgb.train({**PARAMS, "feature_fraction": 1.0}, lgb.Dataset(X, y), 200)
    out["boosted_trees"] = metrics(scored.with_columns(b=booster.predict(Xt)), "b")
    return out
