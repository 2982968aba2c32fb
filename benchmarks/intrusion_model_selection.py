"""How the intrusion classifier was chosen: forward validation on CIC-IDS2017's training part.

    .venv/bin/python benchmarks/intrusion_model_selection.py
    .venv/bin/python benchmarks/intrusion_model_selection.py --models lgbm-best-cut,lgbm-extra

The evaluation's time split (earliest 70 % of each class's flows train, latest 30 % test)
is made as `mamori eval cicids` makes it; the test part is then set aside and never read
again. Each model is fitted on the earliest 60, 75 and 90 % of each class's *training*
flows and scored on the rest of them (macro-F1 over the classes with at least 500 flows):
later parts hold phases of an attack that the earlier parts lack, as the test part does.
Prints one JSON document: per model, the three figures and their mean.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from mamori.detect.intrusion.classifier import IntrusionClassifier
from mamori.detect.intrusion.evaluation import FORWARD_CUTS, class_scores, time_split
from mamori.detect.intrusion.features import FeatureLayout
from mamori.events.cicflowmeter import read_cicflowmeter

FitPredict = Callable[[pl.DataFrame, pl.DataFrame], np.ndarray]
_RF = {"boosting": "rf", "bagging_fraction": 0.632, "bagging_freq": 1, "feature_fraction": 0.3,
       "num_leaves": 255, "min_child_samples": 1, "lambda_l2": 0.0}  # fmt: skip


def lightgbm(params: dict[str, object], rounds: int = 400, members: int = 1) -> FitPredict:
    """The classifier with some parameters replaced, `members` boosters averaged."""

    def fit_predict(fit: pl.DataFrame, later: pl.DataFrame) -> np.ndarray:
        model = IntrusionClassifier(members=members, rounds=rounds)
        model.params.update(params)
        return model.fit(fit, fit["label"]).predict(later).to_numpy()

    return fit_predict


def scikit(kind: str) -> FitPredict:
    """A scikit-learn forest of 300 trees on the same matrix (missing values as -1)."""
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

    forest = {"randomforest": RandomForestClassifier, "extratrees": ExtraTreesClassifier}[kind]

    def fit_predict(fit: pl.DataFrame, later: pl.DataFrame) -> np.ndarray:
        layout = FeatureLayout.fit(fit)
        x = np.nan_to_num(layout.matrix(fit), nan=-1.0)
        model = forest(n_estimators=300, n_jobs=2, random_state=7).fit(x, fit["label"].to_numpy())
        return model.predict(np.nan_to_num(layout.matrix(later), nan=-1.0))

    return fit_predict


MODELS: dict[str, FitPredict] = {
    "lgbm-best-cut": lightgbm({"extra_trees": False}),
    "lgbm-random-forest": lightgbm({**_RF, "extra_trees": False}, rounds=300),
    "sklearn-randomforest": scikit("randomforest"),
    "sklearn-extratrees": scikit("extratrees"),
    "lgbm-extra": lightgbm({"extra_trees": True}),
    "lgbm-extra-lr0.04": lightgbm({"extra_trees": True, "learning_rate": 0.04}, rounds=800),
    "lgbm-extra-ff0.5": lightgbm({"extra_trees": True, "feature_fraction": 0.5}),
    "lgbm-extra-leaf20": lightgbm({"extra_trees": True, "min_child_samples": 20}),
    "lgbm-extra-seed8": lightgbm({"extra_trees": True, "seed": 8}),
    "lgbm-extra-seed9": lightgbm({"extra_trees": True, "seed": 9}),
    "lgbm-extra-seed10": lightgbm({"extra_trees": True, "seed": 10}),
    "lgbm-extra-seed11": lightgbm({"extra_trees": True, "seed": 11}),
    "lgbm-extra-5-members": lightgbm({"extra_trees": True}, members=5),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data = Path(os.environ.get("MAMORI_DATA", "../shared/data"))
    parser.add_argument("--folder", type=Path, default=data / "network/cicids2017-improved")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated")
    args = parser.parse_args()
    read = read_cicflowmeter(args.folder)
    times = read.events.select("event_id", "time")
    flows = read.features.join(times, on="event_id", how="left", maintain_order="left")
    counts = dict(flows["label"].value_counts().iter_rows())
    classes = sorted(counts)
    scored = [c for c in classes if counts[c] >= 500]
    training = flows.filter(time_split(flows, flows["time"], 0.7))  # the test part: unused
    out: dict[str, dict[str, object]] = {}
    for name in args.models.split(","):
        figures, started = [], time.perf_counter()
        for cut in FORWARD_CUTS:
            early = time_split(training, training["time"], cut)
            fit, later = training.filter(early).drop("time"), training.filter(~early).drop("time")
            predicted = MODELS[name](fit, later)
            figures.append(class_scores(later["label"].to_numpy(), predicted, classes, scored)[1])
        out[name] = {"cuts": list(FORWARD_CUTS), "macro_f1": figures,
                     "mean": round(float(np.mean(figures)), 4),
                     "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
        print(f"{name}: {out[name]}", file=sys.stderr, flush=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
