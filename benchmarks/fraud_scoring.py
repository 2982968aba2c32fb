"""Fraud scoring speed: one payment at a time (latency) and whole batches (throughput).

Run per core:

    POLARS_MAX_THREADS=1 .venv/bin/python benchmarks/fraud_scoring.py --registry DIR

`DIR` is a model registry written by ``mamori eval fdh ... --save-model DIR`` (its newest
model is used); without one, a model is trained here on April to June 23 with the same
protocol. LightGBM always predicts on one thread. Prints JSON:

- ``batch``: `FraudScorer.score_batch` over the whole FDH file as one batch (features over
  its own history, model, anomaly score, rules, reasons), transactions per second, with
  the time of each stage;
- ``live_batches``: July scored in day-sized micro-batches after April to June were
  scored (each batch's features read the 90-day history), transactions per second;
- ``single``: `FraudScorer.score_one` on July payments one at a time after June was
  scored the same way: latency percentiles in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from mamori.detect.fraud.decision import decide
from mamori.detect.fraud.features import FEATURES, batch_features, labels_with_delay
from mamori.detect.fraud.model import FraudModel, train
from mamori.detect.fraud.registry import ModelRegistry
from mamori.detect.fraud.rules import RuleSet
from mamori.detect.fraud.scorer import FraudScorer
from mamori.events.fdh import read_fdh

JULY = datetime(2018, 7, 1, tzinfo=UTC)
JUNE = datetime(2018, 6, 1, tzinfo=UTC)


def _model(registry: Path | None, events: pl.DataFrame, known: pl.DataFrame,
           labels: pl.DataFrame) -> FraudModel:
    if registry is not None:
        reg = ModelRegistry(registry)
        version = reg.production() or reg.versions()[-1]
        return reg.load(version)
    until = JULY - timedelta(days=7)
    rows = events.with_row_index().filter(pl.col("time") < until)["index"].to_numpy()
    X = batch_features(events, known).select(FEATURES).to_numpy()[rows]
    times = events["time"].dt.epoch("us").to_numpy()[rows]
    return train(X, labels["fraud"].to_numpy()[rows], times,
                 validate_from=until - timedelta(days=14))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(os.environ.get("MAMORI_DATA", "../shared/data")) / "fraud" / "fdh"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--registry", type=Path)
    parser.add_argument("--single", type=int, default=20_000, help="payments scored one by one")
    args = parser.parse_args()

    data = read_fdh(args.data)
    events, labels = data.events, data.labels
    known = labels_with_delay(labels, 7)
    model = _model(args.registry, events, known, labels)
    rules = RuleSet.load()

    # whole-file batch, by stage, then through the scorer
    started = time.perf_counter()
    X = batch_features(events, known).select(FEATURES).to_numpy()
    t_features = time.perf_counter() - started
    started = time.perf_counter()
    model.predict(X)
    t_model = time.perf_counter() - started
    started = time.perf_counter()
    decisions = decide(X, {}, model, rules)
    t_decide = time.perf_counter() - started
    scorer = FraudScorer(model, rules)
    scorer.add_labels(known.head(0))
    started = time.perf_counter()
    out = scorer.score_batch(events)
    t_batch = time.perf_counter() - started
    batch = {
        "transactions": events.height,
        "seconds": round(t_batch, 3),
        "tx_per_s": round(events.height / t_batch),
        "stage_seconds": {
            "features": round(t_features, 3),
            "model_predict": round(t_model, 3),
            "decide_incl_predict_anomaly_rules_reasons": round(t_decide, 3),
        },
        "flagged": int((decisions.decision > 0).sum()),
        "decisions": out["decision"].value_counts().sort("decision").rows(),
    }

    # live micro-batches: April to June scored first, then July a day at a time
    scorer = FraudScorer(model, rules)
    before = events.filter(pl.col("time") < JULY)
    scorer.score_batch(before)
    scorer.add_labels(known.filter(pl.col("known_at") < JULY))
    july = events.filter(pl.col("time") >= JULY)
    days = [g for _, g in july.group_by(pl.col("time").dt.date(), maintain_order=True)]
    started = time.perf_counter()
    for day in days:
        scorer.score_batch(day)
    t_live = time.perf_counter() - started
    live = {"transactions": july.height, "batches": len(days), "seconds": round(t_live, 3),
            "tx_per_s": round(july.height / t_live)}

    # one at a time: June replayed into the per-entity state, then July payments
    scorer = FraudScorer(model, rules)
    scorer.score_batch(events.filter((pl.col("time") >= JUNE) & (pl.col("time") < JULY)))
    scorer.add_labels(known.filter((pl.col("known_at") >= JUNE) & (pl.col("known_at") < JULY)))
    rows = july.head(args.single).iter_rows(named=True)
    scorer.score_one(next(rows))  # builds the per-entity state from the history
    latencies = []
    flagged = 0
    for row in rows:
        started = time.perf_counter()
        decision = scorer.score_one(row)
        latencies.append(time.perf_counter() - started)
        flagged += decision["decision"] != "approve"
    ms = np.array(latencies) * 1000
    single = {
        "transactions": len(ms),
        "flagged": flagged,
        **{f"p{q}_ms": round(float(np.percentile(ms, q)), 4) for q in (50, 90, 99, 99.9)},
        "max_ms": round(float(ms.max()), 3),
        "mean_ms": round(float(ms.mean()), 4),
    }
    print(json.dumps({
        "model_version": model.version,
        "trees": model.booster.num_trees(),
        "polars_max_threads": os.environ.get("POLARS_MAX_THREADS"),
        "batch": batch,
        "live_batches": live,
        "single": single,
    }))


if __name__ == "__main__":
    main()
