"""`mamori intel check`: what a threat-intel feed gives, and `--intel` for `mamori run`."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import click


def _load(paths: tuple[Path, ...], max_age_days: float | None = None) -> Any:
    from mamori.detect.intel.loading import load_intel
    from mamori.detect.intel.stix import IntelFormatError

    try:
        return load_intel(paths, timedelta(days=max_age_days) if max_age_days else None)
    except IntelFormatError as err:
        raise click.ClickException(str(err)) from None


def load_matcher(paths: tuple[Path, ...], console: Any) -> Any:
    """An IntelMatcher over the feeds at `paths`, its load summary printed to `console`."""
    from mamori.detect.intel.matcher import IntelMatcher

    intel = _load(paths)
    summary = intel.summary()
    console.print(
        f"threat intel: {summary['indicators_loaded']:,} indicators loaded from "
        f"{summary['files']} files, {summary['indicators_skipped']:,} skipped "
        f"({', '.join(f'{k}: {v}' for k, v in summary['skipped_by_reason'].items()) or 'none'})"
    )
    return IntelMatcher(intel)


@click.group(name="intel")
def intel_group() -> None:
    """Threat-intel feeds: STIX 2.1 bundles and MISP events."""


@intel_group.command(name="check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--max-age-days",
    type=float,
    default=None,
    help="MISP attributes stop matching this long after their last sighting or change.",
)
@click.option("--skipped", "show_skipped", is_flag=True, help="List each skipped indicator.")
def intel_check(paths: tuple[Path, ...], max_age_days: float | None, show_skipped: bool) -> None:
    """Load feeds and print what would be matched and what is skipped, with reasons (JSON).

    Example: mamori intel check ../shared/data/intel --skipped
    """
    intel = _load(paths, max_age_days)
    summary = intel.summary()
    if show_skipped:
        summary["skipped"] = [vars(s) for s in intel.skipped]
        summary["parts_left_out_detail"] = [vars(s) for s in intel.partial]
    click.echo(json.dumps(summary, indent=2))
