"""Fraud scoring speed: one payment at a time (latency) and whole batches (throughput).

Run per core:

    POLARS_MAX_THREADS=1 .venv/bin/python benchmarks/fraud_scoring.py --registry DIR

`DIR` is a model registry written by ``mamori eval fdh ... --save-model DIR`` (its newest
model is used); without one, a model is trained here on April to June 23 with the same
protocol. LightGBM always predicts on one thread. Prints JSON:

- ``backtest``: `FraudScorer.score_batch` on the whole file as one batch, with its labels
  (each known 7 days after its payment), from an empty scorer; its time includes compiling
  the model's trees (once per model; ``batch.stage_cpu_s.compile_trees_once``);
- ``batch``: `FraudScorer.score_batch` on July as one batch after April to June were
  scored (features over the 90-day history, model, anomaly score, rules, reasons), and the
  CPU time of each stage, run apart as the scorer runs them (the features its model and
  rules read, the labels with their payments' entities);
- ``live_batches``: July scored in day-sized micro-batches the same way;
- ``single``: `FraudScorer.score_one` on July payments one at a time after June was
  scored: latency percentiles in milliseconds.

Throughput is given per wall-clock second and per CPU second of this process (with one
Polars and one LightGBM thread, the per-core figure even on a machine shared with other
work); latency as wall-clock and as this thread's CPU time.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import polars as pl

from mamori.detect.fraud.decision import decide
from mamori.detect.fraud.features import (
    FEATURES,
    batch_features,
    label_items,
    labels_with_delay,
)
from mamori.detect.fraud.model import FraudModel, train
from mamori.detect.fraud.registry import ModelRegistry
from mamori.detect.fraud.rules import RuleSet
from mamori.detect.fraud.scorer import FraudScorer
from mamori.events.fdh import read_fdh

JULY = datetime(2018, 7, 1, tzinfo=UTC)
JUNE = datetime(2018, 6, 1, tzinfo=UTC)
T = TypeVar("T")


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


def _timed(work: Callable[[], T]) -> tuple[T, float, float]:
    """The result of `work`, its wall-clock and its CPU seconds (this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _cpu(work: Callable[[], T]) -> tuple[T, float]:
    """The result of `work` and its CPU seconds (this process)."""
    result, _, cpu = _timed(work)
    return result, cpu


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

    # a backtest: the whole file as one batch, its labels arriving as live (7 days late)
    out, wall, cpu = _timed(lambda: FraudScorer(model, rules).score_batch(events, labels=known))
    backtest = {
        "transactions": events.height,
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "tx_per_s_wall": round(events.height / wall),
        "tx_per_cpu_s": round(events.height / cpu),
        "decisions": dict(out["decision"].value_counts().sort("decision").rows()),
    }

    # one large batch: April to June scored first (untimed), then July as one batch
    before = events.filter(pl.col("time") < JULY)
    july = events.filter(pl.col("time") >= JULY)
    july_labels = known.filter(pl.col("known_at") < JULY)
    scorer = FraudScorer(model, rules)
    scorer.score_batch(before)
    scorer.add_labels(july_labels)
    (out, wall, cpu) = _timed(lambda: scorer.score_batch(july))
    history = before.filter(pl.col("time") >= JULY - timedelta(days=90))
    frame = pl.concat([history, july])
    items = label_items(frame, july_labels)  # labels with their payments' entities, as kept
    needed = {n for n in rules.names if n in FEATURES} | model.inputs  # what the scorer reads
    stage = {}
    features, stage["features"] = _cpu(
        lambda: batch_features(frame, items, first=history.height, only=needed))
    columns, stage["feature_columns"] = _cpu(lambda: {f: features[f].to_numpy() for f in FEATURES})
    _, stage["model_predict_compiled"] = _cpu(lambda: model.predict_columns(columns))
    _, stage["anomaly_score"] = _cpu(lambda: model.anomaly_score(columns))
    decisions, stage["decide_incl_predict_anomaly_rules_reasons"] = _cpu(
        lambda: decide(columns, {}, model, rules))
    flagged = np.column_stack([columns[f][decisions.flagged] for f in FEATURES])
    _, stage["reasons_treeshap"] = _cpu(lambda: model.contributions(flagged))
    _, stage["compile_trees_once"] = _cpu(
        lambda: FraudModel(model.booster, model.anomaly, model.card).compile_trees())
    _, stage["decision_frame"] = _cpu(lambda: decisions.frame(july["event_id"], july["time"]))
    batch = {
        "transactions": july.height,
        "history_rows": history.height,
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "tx_per_s_wall": round(july.height / wall),
        "tx_per_cpu_s": round(july.height / cpu),
        "stage_cpu_s": {k: round(v, 3) for k, v in stage.items()},
        "flagged": len(decisions.flagged),
        "decisions": dict(out["decision"].value_counts().sort("decision").rows()),
    }

    # live micro-batches: July a day at a time after April to June
    scorer = FraudScorer(model, rules)
    scorer.score_batch(before)
    scorer.add_labels(july_labels)
    days = [g for _, g in july.group_by(pl.col("time").dt.date(), maintain_order=True)]
    _, wall, cpu = _timed(lambda: [scorer.score_batch(day) for day in days])
    live = {"transactions": july.height, "batches": len(days), "wall_s": round(wall, 3),
            "cpu_s": round(cpu, 3), "tx_per_s_wall": round(july.height / wall),
            "tx_per_cpu_s": round(july.height / cpu)}

    # one at a time: June replayed into the per-entity state, then July payments
    scorer = FraudScorer(model, rules)
    scorer.score_batch(events.filter((pl.col("time") >= JUNE) & (pl.col("time") < JULY)))
    scorer.add_labels(known.filter((pl.col("known_at") >= JUNE) & (pl.col("known_at") < JULY)))
    rows = july.head(args.single).iter_rows(named=True)
    scorer.score_one(next(rows))  # builds the per-entity state from the history
    wall_ms, cpu_ms = [], []
    flagged = 0
    for row in rows:
        w0, c0 = time.perf_counter(), time.thread_time()
        decision = scorer.score_one(row)
        cpu_ms.append((time.thread_time() - c0) * 1000)
        wall_ms.append((time.perf_counter() - w0) * 1000)
        flagged += decision["decision"] != "approve"
    single: dict[str, Any] = {"transactions": len(wall_ms), "flagged": flagged}
    for name, values in (("wall", np.array(wall_ms)), ("cpu", np.array(cpu_ms))):
        single[name] = {
            **{f"p{q}_ms": round(float(np.percentile(values, q)), 4) for q in (50, 90, 99, 99.9)},
            "max_ms": round(float(values.max()), 3),
        }
    print(json.dumps({
        "model_version": model.version,
        "trees": model.booster.num_trees(),
        "polars_max_threads": os.environ.get("POLARS_MAX_THREADS"),
        "backtest": backtest,
        "batch": batch,
        "live_batches": live,
        "single": single,
    }))


if __name__ == "__main__":
    main()
