"""The BGL evaluation: flag anomalous lines of a labelled BlueGene/L log, learning only
from its earlier part and scoring only its later part.

What `evaluate_bgl` does with the file, in order:

1. Reads it with `mamori.events.loghub` (format ``bgl``): the label token (first column)
   is taken out of every line into a separate label and is never a feature.
2. Mines templates over all lines in time order with `TemplateMiner`, from the text
   ``COMPONENT level message`` (the same words printed by another component or at another
   level are another statement). Mining uses no labels.
3. Splits by time: the first `train_fraction` of the lines (in time order) are the past,
   whose labels stand for an analyst's earlier verdicts; the rest is the future.
4. Fits `TemplateVerdicts` on the past's templates and labels, predicts the future's lines,
   and reports precision, recall and F1 of the anomalous class on the future only, with
   how many future lines each route (known, similar, new template) decided and, for
   comparison, the label-free rule "flag every critical-or-worse line" (fatal, failure …).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from mamori.detect.logs.labelled import TemplateVerdicts
from mamori.detect.logs.source import CRITICAL
from mamori.detect.logs.templates import TemplateMiner
from mamori.events.loghub import read_loghub


def scores(truth: pl.Series, flagged: pl.Series) -> dict[str, Any]:
    """Precision, recall, F1 and the confusion counts of the positive class.

    >>> scores(pl.Series([True, True, False]), pl.Series([True, False, True]))["f1"]
    0.5
    """
    tp = int((truth & flagged).sum())
    fp = int((~truth & flagged).sum())
    fn = int((truth & ~flagged).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": fn,
    }


def evaluate_bgl(
    path: Path | str, train_fraction: float = 0.5, similarity: float = 0.4
) -> dict[str, Any]:
    """Scores of the time-split evaluation of one BGL file (see the module docstring)."""
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must lie between 0 and 1, not {train_fraction}")
    read = read_loghub(path, "bgl")
    if read.events.height < 2:
        raise ValueError(f"{path}: fewer than two readable BGL lines")
    lines = (
        pl.concat([read.events, read.labels.drop("event_id")], how="horizontal")
        .with_row_index("_order")
        .sort("time", "_order")
    )
    text = pl.concat_str(
        [pl.col("app").fill_null("-"), pl.col("severity").fill_null("-"), pl.col("message")],
        separator=" ",
    )
    mined = TemplateMiner().mine(lines.select(text.alias("t"))["t"])
    lines = lines.with_columns(text=mined["template"])
    cut = int(lines.height * train_fraction)
    past, future = lines.head(cut), lines.slice(cut)
    model = TemplateVerdicts(similarity).fit(past["text"], past["anomalous"])
    verdicts = model.predict(future["text"], future["severity"])
    truth = future["anomalous"]
    routes = (
        verdicts.with_columns(truth=truth)
        .group_by("route")
        .agg(
            lines=pl.len(),
            flagged=pl.col("anomalous").sum(),
            correct=(pl.col("anomalous") == pl.col("truth")).sum(),
        )
        .sort("route")
    )
    severe = future["severity"].str.to_lowercase().is_in(CRITICAL).fill_null(False)
    return {
        "file": str(path),
        "lines": read.read,
        "quarantined": read.quarantine.count,
        "method": "template verdicts learnt on the earlier part, scored on the later part",
        "train_fraction": train_fraction,
        "similarity": similarity,
        "train_lines": past.height,
        "train_anomalies": int(past["anomalous"].sum()),
        "train_until": str(past["time"].max()),
        "test_lines": future.height,
        "test_anomalies": int(truth.sum()),
        "templates": int(lines["text"].n_unique()),
        **scores(truth, verdicts["anomalous"]),
        "routes": {r["route"]: {k: r[k] for k in ("lines", "flagged", "correct")}
                   for r in routes.iter_rows(named=True)},  # fmt: skip
        "baseline_severity_only": scores(truth, severe),
    }
