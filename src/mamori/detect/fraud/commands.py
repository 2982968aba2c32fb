"""The fraud commands of the `mamori` CLI (registered in `mamori.cli`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

_DATE = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"])


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None else None


@click.command(name="fdh")
@click.option("--train", "train_path", required=True,
              type=click.Path(exists=True, path_type=Path), help="Handbook Parquet file.")
@click.option("--test", "test_path", required=True,
              type=click.Path(exists=True, path_type=Path),
              help="Later payments (may be the train file, split with --test-from).")
@click.option("--train-from", type=_DATE, help="First training day (UTC); default: file start.")
@click.option("--train-until", type=_DATE, help="Training end (exclusive); default: test - delay.")
@click.option("--test-from", type=_DATE, help="First test day (needed when --test is --train).")
@click.option("--test-until", type=_DATE, help="End of the test period (exclusive).")
@click.option("--delay-days", default=7.0, show_default=True,
              help="Days before a label is known (the handbook's delay).")
@click.option("--rules", "rules_path", type=click.Path(exists=True, path_type=Path),
              help="Analysts' rules TOML (default: the built-in rules).")
@click.option("--no-baselines", is_flag=True, help="Skip the handbook baselines.")
@click.option("--save-model", type=click.Path(path_type=Path),
              help="Add the trained model to this registry folder.")
@click.option("--json", "as_json", is_flag=True)
def eval_fdh(
    train_path: Path,
    test_path: Path,
    train_from: datetime | None,
    train_until: datetime | None,
    test_from: datetime | None,
    test_until: datetime | None,
    delay_days: float,
    rules_path: Path | None,
    no_baselines: bool,
    save_model: Path | None,
    as_json: bool,
) -> None:
    """Fraud Detection Handbook protocol: train on earlier weeks, score later ones as live.

    Example (one file, April to June 23 for training, July for testing):

      mamori eval fdh --train F --test F --test-from 2018-07-01 --json
    """
    from mamori.detect.fraud.evaluate import evaluate_fdh
    from mamori.detect.fraud.rules import RuleError, RuleSet
    from mamori.events.fdh import FdhFormatError

    def progress(message: str) -> None:
        if not as_json:
            click.echo(message, err=True)

    try:
        rules = RuleSet.load(rules_path) if rules_path else None
        result = evaluate_fdh(
            train_path, test_path,
            train_from=_utc(train_from), train_until=_utc(train_until),
            test_from=_utc(test_from), test_until=_utc(test_until),
            delay_days=delay_days, rules=rules, baselines=not no_baselines,
            progress=progress, registry=save_model,
        )
    except (ValueError, FdhFormatError, RuleError) as err:
        raise click.ClickException(str(err)) from err
    click.echo(json.dumps(result, indent=None if as_json else 2))
