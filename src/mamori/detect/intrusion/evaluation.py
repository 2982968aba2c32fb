"""The evaluations behind ``mamori eval nsl-kdd`` and ``mamori eval cicids``.

NSL-KDD: the classifier learns the attack categories of the training file, the novelty
score learns its normal connections, and a connection of the test file is called an
attack when the classifier gives the attack categories together at least one half, or its
novelty lies above the threshold that flags `budget` of normal training traffic. The
supervised model and the novelty score are also reported alone. Without a test file the
training file is split: every connection of the `holdout_types` goes to the test side
(attacks the models never see, as in the official test set), the rest is split at random,
`test_share` to the test side.

CIC-IDS2017: each class's flows are split by time, the earliest `train_share` to train and
the rest to test (each attack ran on its own day, so a random split would leak the day);
macro-F1 is over the classes with at least `min_flows` flows, and the novelty score,
fitted on BENIGN training flows with a threshold at `budget` of them, is reported as its
false-positive rate on BENIGN test flows and its recall on each attack class.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mamori.detect.intrusion.classifier import IntrusionClassifier
from mamori.detect.intrusion.novelty import NoveltyScore
from mamori.events.cicflowmeter import read_cicflowmeter
from mamori.events.flowread import FlowRead
from mamori.events.nslkdd import attack_categories, read_nslkdd

#: How the NSL-KDD categories are named in the results.
CATEGORY_NAMES = {"dos": "DoS", "probe": "Probe", "r2l": "R2L", "u2r": "U2R"}
NORMAL, UNKNOWN = "normal", "unknown"


def binary_scores(truth: np.ndarray, flagged: np.ndarray) -> dict[str, float]:
    """Accuracy, and precision, recall and F1 of the attack class (`truth` and `flagged`
    are booleans, True for an attack)."""
    tp = int(np.sum(truth & flagged))
    fp = int(np.sum(~truth & flagged))
    fn = int(np.sum(truth & ~flagged))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": round(float(np.mean(truth == flagged)), 4) if len(truth) else 0.0,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "false_positive_rate": round(fp / max(int(np.sum(~truth)), 1), 4),
    }


def recall_by(groups: np.ndarray, flagged: np.ndarray) -> dict[str, float | None]:
    """The share flagged within each group (None for a group with no rows)."""
    frame = pl.DataFrame({"group": groups, "flagged": flagged})
    rows = frame.group_by("group").agg(pl.col("flagged").mean(), pl.len()).sort("group")
    return {g: round(float(r), 4) for g, r, _ in rows.iter_rows()}


def nslkdd_categories(labels: pl.Series, categories: dict[str, str]) -> np.ndarray:
    """Each connection's category: NORMAL, a name of CATEGORY_NAMES' values, or UNKNOWN."""
    named = {k: CATEGORY_NAMES.get(v, UNKNOWN) for k, v in categories.items()}
    named[NORMAL] = NORMAL
    return labels.replace_strict(named, default=UNKNOWN, return_dtype=pl.String).to_numpy()


def evaluate_nslkdd(
    train: Path | str,
    test: Path | str | None = None,
    *,
    attack_types: Path | str | None = None,
    holdout_types: Sequence[str] = (),
    test_share: float = 0.3,
    budget: float = 0.02,
    seed: int = 7,
    save: Path | str | None = None,
) -> dict[str, Any]:
    """Train on `train` only, test on `test` (or on a split of `train`); see the module
    docstring. `attack_types` defaults to ``attack-types.csv`` beside the training file."""
    started = time.perf_counter()
    types_file = Path(attack_types) if attack_types else Path(train).parent / "attack-types.csv"
    categories = attack_categories(types_file) if types_file.exists() else {}
    train_read = _labelled(read_nslkdd(train), train)
    holdout = sorted(set(holdout_types))
    labels = train_read.features["label"]
    if test is not None:
        test_read = _labelled(read_nslkdd(test), test)
        fit_rows = ~labels.is_in(holdout).to_numpy()
        train_features, test_features = train_read.features.filter(fit_rows), test_read.features
    else:
        unseen = labels.is_in(holdout).to_numpy()
        rng = np.random.default_rng(seed)
        to_test = unseen | (rng.random(len(labels)) < test_share)
        train_features = train_read.features.filter(~to_test)
        test_features = train_read.features.filter(to_test)
    missing = set(holdout) - set(labels.unique().to_list())
    if missing:
        raise ValueError(f"holdout types not in the training file: {', '.join(sorted(missing))}")

    fit_category = nslkdd_categories(train_features["label"], categories)
    classifier = IntrusionClassifier(seed=seed).fit(
        train_features,
        pl.Series("category", fit_category),
        data={"source": str(train), "holdout_types": holdout, "labels": "attack categories"},
    )
    normal_rows = fit_category == NORMAL
    novelty = NoveltyScore(seed=seed).fit(train_features.filter(normal_rows))

    truth_category = nslkdd_categories(test_features["label"], categories)
    truth = truth_category != NORMAL
    proba = classifier.predict_proba(test_features)
    attack_share = 1.0 - proba[:, classifier.classes.index(NORMAL)]
    supervised = attack_share >= 0.5
    novel = novelty.score(test_features) > novelty.threshold(budget)
    combined = supervised | novel
    attacks = truth_category != NORMAL
    result: dict[str, Any] = {
        "train": str(train),
        "test": str(test) if test is not None else f"split of {train}",
        **binary_scores(truth, combined),
        "category_recall": recall_by(truth_category[attacks], combined[attacks]),
        "decision": f"attack when P(attack) >= 0.5 or novelty above {budget:.0%} of normal",
        "supervised": {
            **binary_scores(truth, supervised),
            "category_recall": recall_by(truth_category[attacks], supervised[attacks]),
        },
        "novelty": {
            "budget": budget,
            "threshold": round(novelty.threshold(budget), 4),
            **binary_scores(truth, novel),
            "category_recall": recall_by(truth_category[attacks], novel[attacks]),
        },
        "train_rows": train_features.height,
        "test_rows": test_features.height,
        "test_attacks": int(truth.sum()),
        "quarantined": train_read.summary.quarantined,
        "holdout_types": holdout,
    }
    if holdout:
        unseen_rows = test_features["label"].is_in(holdout).to_numpy()
        names = test_features["label"].to_numpy()[unseen_rows]
        result["holdout_recall"] = {
            "combined": recall_by(names, combined[unseen_rows]),
            "supervised": recall_by(names, supervised[unseen_rows]),
            "novelty": recall_by(names, novel[unseen_rows]),
        }
        result["known_types_accuracy"] = binary_scores(truth[~unseen_rows], combined[~unseen_rows])[
            "accuracy"
        ]
    result["calibration"] = classifier.card.calibration
    result["class_explanations"] = {
        k: [f["feature"] for f in v[:5]] for k, v in classifier.card.class_explanations.items()
    }
    if save is not None:
        classifier.card.metrics = {k: result[k] for k in ("accuracy", "precision", "recall", "f1")}
        classifier.save(Path(save) / "classifier")
        novelty.save(Path(save) / "novelty")
        result["saved"] = str(save)
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


def time_split(features: pl.DataFrame, times: pl.Series, train_share: float) -> np.ndarray:
    """True for the rows in the earliest `train_share` of their own label's flows."""
    frame = pl.DataFrame({"label": features["label"], "time": times}).with_row_index("_row")
    ranked = frame.with_columns(
        (
            pl.col("time").rank("ordinal").over("label")
            <= (pl.len().over("label") * train_share).round(6).floor()
        ).alias("train")
    )
    return ranked.sort("_row")["train"].to_numpy()


#: Classes that the same scan from different hosts produces: nmap run from outside through
#: the firewall (``Portscan``) and from an infected inside host (``Infiltration -
#: Portscan``). The flow statistics alone barely tell them apart (the addresses do, and
#: are not features), so macro-F1 is also reported with them merged, under its own key.
SAME_SCAN = ("Infiltration - Portscan", "Portscan")


def class_scores(
    truth: np.ndarray, predicted: np.ndarray, classes: list[str], scored: list[str]
) -> tuple[dict[str, float], float]:
    """F1 of each of `classes`, and their mean over `scored`."""
    from sklearn.metrics import f1_score

    per_class = f1_score(truth, predicted, labels=classes, average=None, zero_division=0)
    f1 = {c: round(float(s), 4) for c, s in zip(classes, per_class, strict=True)}
    return f1, round(float(np.mean([f1[c] for c in scored])), 4) if scored else 0.0


def confusion(truth: np.ndarray, predicted: np.ndarray) -> dict[str, dict[str, int]]:
    """Per true class, how many of its flows went to each predicted class (non-zero only)."""
    frame = pl.DataFrame(
        {"truth": truth, "predicted": predicted},
        schema={"truth": pl.String, "predicted": pl.String},
    )
    cells = frame.group_by("truth", "predicted").len().sort("truth", "predicted")
    out: dict[str, dict[str, int]] = {}
    for t, p, n in cells.iter_rows():
        out.setdefault(t, {})[p] = n
    return out


def evaluate_cicids(
    folder: Path | str,
    *,
    train_share: float = 0.7,
    validation_share: float = 0.2,
    min_flows: int = 500,
    budget: float = 0.01,
    benign: str = "BENIGN",
    seed: int = 7,
    save: Path | str | None = None,
    forward_cuts: tuple[float, ...] = (),
) -> dict[str, Any]:
    """Time-split evaluation of a folder of labelled CICFlowMeter CSVs (module docstring).

    Besides the test figures, a model fitted on the earliest part of the training share
    is scored on its latest `validation_share` (per class, by time), and, for each of
    `forward_cuts`, one fitted on that earliest share of the training flows is scored on
    the rest of them: the splits on which the model's settings are chosen; the test part
    never is."""
    started = time.perf_counter()
    read = _labelled(read_cicflowmeter(folder), folder)
    times = read.events.select("event_id", "time")
    features = read.features.join(times, on="event_id", how="left", maintain_order="left")
    train = time_split(features, features["time"], train_share)
    train_features, test_features = features.filter(train), features.filter(~train)
    counts = dict(features["label"].value_counts().iter_rows())
    classes = sorted(counts)
    scored = [c for c in classes if counts[c] >= min_flows]

    validation_truth, validation_predicted = _later_part(
        train_features, 1.0 - validation_share, seed
    )
    _, validation_f1 = class_scores(validation_truth, validation_predicted, classes, scored)
    forward = [
        class_scores(*_later_part(train_features, cut, seed), classes, scored)[1]
        for cut in forward_cuts
    ]
    train_features, test_features = train_features.drop("time"), test_features.drop("time")

    classifier = IntrusionClassifier(seed=seed).fit(
        train_features,
        train_features["label"],
        data={"source": str(folder), "split": f"earliest {train_share:.0%} of each class"},
    )
    truth = test_features["label"].to_numpy()
    predicted = classifier.predict(test_features).to_numpy()
    f1, macro_f1 = class_scores(truth, predicted, classes, scored)
    result: dict[str, Any] = {
        "folder": str(folder),
        "macro_f1": macro_f1,
        "macro_f1_classes": scored,
        "macro_f1_all_classes": round(float(np.mean(list(f1.values()))), 4),
        "accuracy": round(float(np.mean(truth == predicted)), 4),
        "per_class_f1": f1,
        "confusion": confusion(truth, predicted),
        "validation": {
            "split": f"latest {validation_share:.0%} of each class's training flows",
            "rows": len(validation_truth),
            "macro_f1": validation_f1,
            "confusion": confusion(validation_truth, validation_predicted),
        },
        "flows": counts,
        "train_rows": train_features.height,
        "test_rows": test_features.height,
        "quarantined": read.summary.quarantined,
    }
    if forward_cuts:
        result["forward_validation"] = {
            "split": "fit on the earliest share of each class's training flows, score the rest",
            "cuts": list(forward_cuts),
            "macro_f1": forward,
            "mean": round(float(np.mean(forward)), 4),
        }
    if all(c in counts for c in SAME_SCAN):
        merged_name = " + ".join(SAME_SCAN)
        merge = {c: merged_name for c in SAME_SCAN}
        merged_classes = sorted({merge.get(c, c) for c in classes})
        merged_scored = sorted({merge.get(c, c) for c in scored})
        as_merged = np.vectorize(lambda c: merge.get(c, c), otypes=[object])
        merged_f1, merged_macro = class_scores(
            as_merged(truth), as_merged(predicted), merged_classes, merged_scored
        )
        result["same_scan_merged"] = {
            "note": "NOT the headline figure: the two port-scan classes counted as one",
            "merged": list(SAME_SCAN),
            "macro_f1": merged_macro,
            "macro_f1_classes": merged_scored,
            "f1": merged_f1[merged_name],
        }
    if benign in counts:
        novelty = NoveltyScore(seed=seed).fit(train_features.filter(pl.col("label") == benign))
        flagged = novelty.score(test_features) > novelty.threshold(budget)
        recall = recall_by(truth, flagged)
        result["novelty"] = {
            "budget": budget,
            "threshold": round(novelty.threshold(budget), 4),
            "benign_false_positive_rate": recall.pop(benign, None),
            "recall": recall,
            "attack_recall": round(float(np.mean(flagged[truth != benign])), 4),
        }
    result["calibration"] = classifier.card.calibration
    if save is not None:
        classifier.card.metrics = {k: result[k] for k in ("macro_f1", "per_class_f1", "accuracy")}
        classifier.save(Path(save) / "classifier")
        result["saved"] = str(save)
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


#: The training shares `mamori eval cicids --forward-validation` fits on.
FORWARD_CUTS = (0.6, 0.75, 0.9)


def _later_part(train: pl.DataFrame, cut: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Truth and predictions on the training flows after the earliest `cut` of each class
    (`train` still has its `time`), from a model fitted on that earliest part."""
    early = time_split(train, train["time"], cut)
    fit, later = train.filter(early).drop("time"), train.filter(~early).drop("time")
    predicted = IntrusionClassifier(seed=seed).fit(fit, fit["label"]).predict(later)
    return later["label"].to_numpy(), predicted.to_numpy()


def _labelled(read: FlowRead, source: Path | str) -> FlowRead:
    """The read, refused when its flows carry no label to evaluate against."""
    if read.features.height == 0:
        raise ValueError(f"{source}: no flows could be read ({read.summary})")
    if "label" not in read.features.columns or read.features["label"].null_count():
        raise ValueError(f"{source}: every flow needs a label to be evaluated")
    return read
