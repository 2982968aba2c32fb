"""Commands of the log-anomaly capability: ``mamori eval bgl``."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command(name="bgl")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--train-fraction",
    default=0.5,
    show_default=True,
    help="Share of the lines, earliest first, whose labels are learnt; the rest is scored.",
)
@click.option(
    "--similarity",
    default=0.4,
    show_default=True,
    help="Word overlap (Jaccard) at which a new template takes a labelled one's verdict.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def eval_bgl(file: Path, train_fraction: float, similarity: float, as_json: bool) -> None:
    """Precision, recall and F1 of anomalous lines on a labelled BGL log: templates mined
    without labels, verdicts learnt on the earlier part (time order), scored on the later
    part only.

    Example: mamori eval bgl ../shared/data/logs/loghub/BGL_2k.log --json
    """
    from mamori.detect.logs.bgl import evaluate_bgl

    if not 0.0 < train_fraction < 1.0 or not 0.0 < similarity <= 1.0:
        raise click.UsageError("--train-fraction must be in (0, 1) and --similarity in (0, 1]")
    click.echo(f"mining templates of {file} and scoring its later part…", err=True)
    try:
        result = evaluate_bgl(file, train_fraction=train_fraction, similarity=similarity)
    except ValueError as err:
        raise click.ClickException(str(err)) from err
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(
        f"precision {result['precision']} recall {result['recall']} F1 {result['f1']} on the "
        f"last {result['test_lines']} lines ({result['test_anomalies']} anomalous); "
        f"severity alone: F1 {result['baseline_severity_only']['f1']}"
    )
