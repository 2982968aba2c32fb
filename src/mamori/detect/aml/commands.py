"""Commands of the AML capability: ``mamori eval amlsim``."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command(name="amlsim")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--batch-rows", default=1_000, show_default=True, help="Transfers per batch.")
@click.option(
    "--flag-score",
    default=0.5,
    show_default=True,
    help="Account risk at which an account is flagged (0.5: any typology at its threshold).",
)
@click.option("--json", "as_json", is_flag=True)
def eval_amlsim(folder: Path, batch_rows: int, flag_score: float, as_json: bool) -> None:
    """Recall of laundering accounts against the share of accounts flagged, on an AMLSim
    export streamed through the AML detector.

    Example: mamori eval amlsim ../shared/data/aml/amlsim-export --json
    """
    from mamori.detect.aml.evaluation import evaluate_amlsim
    from mamori.events.amlsim import AmlsimFormatError

    if batch_rows < 1 or not 0.0 < flag_score <= 1.0:
        raise click.UsageError("--batch-rows must be positive and --flag-score in (0, 1]")
    click.echo(f"streaming {folder} through the AML detector…", err=True)
    try:
        result = evaluate_amlsim(folder, batch_rows=batch_rows, flag_score=flag_score)
    except AmlsimFormatError as err:
        raise click.ClickException(str(err)) from err
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(
        f"recall {result['recall']} flagging {result['flagged_share']:.1%} of "
        f"{result['n_accounts']} accounts ({result['n_laundering']} laundering); "
        f"centre recall {result['centre_recall']}, alert recall {result['alert_recall']}, "
        f"recall in evidence {result['recall_in_evidence']}"
    )
    for point in result["curve"]:
        click.echo(f"  {point}")
