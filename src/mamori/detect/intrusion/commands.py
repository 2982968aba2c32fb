"""``mamori eval nsl-kdd`` and ``mamori eval cicids``: the intrusion models' figures."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click


def _report(result: dict[str, Any], as_json: bool, headline: list[str]) -> None:
    if as_json:
        click.echo(json.dumps(result))
        return
    for key in headline:
        click.echo(f"{key}: {json.dumps(result.get(key))}")


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@click.command(name="nsl-kdd")
@click.option(
    "--train", "train", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--test",
    "test",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Test file (same 43-column format); without it the training file is split.",
)
@click.option(
    "--attack-types",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="name,category CSV (default: attack-types.csv beside the training file).",
)
@click.option(
    "--holdout-types",
    default="",
    help="Comma-separated attack names kept out of training and tested as unseen attacks.",
)
@click.option("--test-share", default=0.3, show_default=True, help="Share tested, without --test.")
@click.option(
    "--budget", default=0.02, show_default=True, help="Novelty false-positive budget on normal."
)
@click.option("--seed", default=7, show_default=True)
@click.option("--save", type=click.Path(path_type=Path), help="Folder to save the models in.")
@click.option("--json", "as_json", is_flag=True)
def eval_nslkdd(
    train: Path,
    test: Path | None,
    attack_types: Path | None,
    holdout_types: str,
    test_share: float,
    budget: float,
    seed: int,
    save: Path | None,
    as_json: bool,
) -> None:
    """Train on an NSL-KDD training file, call each test connection normal or attack.

    Prints accuracy, and precision, recall and F1 of the attack class, with recall per
    category (DoS, Probe, R2L, U2R, unknown), for the classifier and novelty score combined
    and for each alone.

    Example: mamori eval nsl-kdd --train KDDTrain+_20Percent.txt --test KDDTest+.txt --json

    Example: mamori eval nsl-kdd --train KDDTrain+_20Percent.txt
    --holdout-types back,nmap,warezclient,guess_passwd,buffer_overflow,rootkit --json
    """
    from mamori.detect.intrusion.evaluation import evaluate_nslkdd

    click.echo("training and scoring…", err=True)
    try:
        result = evaluate_nslkdd(
            train,
            test,
            attack_types=attack_types,
            holdout_types=[t.strip() for t in holdout_types.split(",") if t.strip()],
            test_share=test_share,
            budget=budget,
            seed=seed,
            save=save,
        )
    except ValueError as err:
        _fail(str(err))
        return
    _report(result, as_json, ["accuracy", "precision", "recall", "f1", "category_recall"])


@click.command(name="cicids")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--train-share", default=0.7, show_default=True, help="Earliest share that trains.")
@click.option("--min-flows", default=500, show_default=True, help="Classes in the macro-F1.")
@click.option(
    "--budget", default=0.01, show_default=True, help="Novelty false-positive budget on BENIGN."
)
@click.option("--seed", default=7, show_default=True)
@click.option("--save", type=click.Path(path_type=Path), help="Folder to save the model in.")
@click.option(
    "--forward-validation",
    is_flag=True,
    help="Also fit on the earliest 60, 75 and 90 % of each class's training flows and score "
    "the rest of them (how the classifier's settings were chosen; three more fits).",
)
@click.option("--json", "as_json", is_flag=True)
def eval_cicids(
    directory: Path,
    train_share: float,
    min_flows: int,
    budget: float,
    seed: int,
    save: Path | None,
    forward_validation: bool,
    as_json: bool,
) -> None:
    """Time-split evaluation on labelled CICFlowMeter CSVs (CIC-IDS2017).

    The earliest 70 % of every class's flows train, the latest 30 % test; prints macro-F1
    over the classes with at least 500 flows, F1 per class, and the novelty score's recall
    per class at a 1 % false-positive budget on BENIGN.

    Example: mamori eval cicids ../shared/data/network/cicids2017-improved --json
    """
    from mamori.detect.intrusion.evaluation import FORWARD_CUTS, evaluate_cicids

    click.echo("training and scoring…", err=True)
    try:
        result = evaluate_cicids(
            directory,
            train_share=train_share,
            min_flows=min_flows,
            budget=budget,
            seed=seed,
            save=save,
            forward_cuts=FORWARD_CUTS if forward_validation else (),
        )
    except ValueError as err:
        _fail(str(err))
        return
    _report(result, as_json, ["macro_f1", "per_class_f1", "novelty"])
