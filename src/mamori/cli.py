"""The `mamori` command.

Examples::

    mamori simulate --out sim --customers 5000 --days 2 --seed 7
    mamori run sim/events --data-dir data
    mamori incidents --data-dir data
    mamori query --data-dir data "SELECT channel, count(*) FROM transactions GROUP BY 1"
    mamori eval simulate --seed 11 --json
    mamori bench pipeline --events 1000000 --json
    mamori demo
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import polars as pl
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mamori.engine.incidents import LEVEL_NAMES, RAISE_LEVEL
from mamori.evaluate.simulation import score_run

console = Console(stderr=True)
out = Console()

LEVEL_STYLE = {1: "green", 2: "cyan", 3: "yellow", 4: "red", 5: "bold white on red"}


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    sys.exit(2)


def _date(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        _fail(f"not an ISO-8601 date or time: {value!r}")
        raise
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _store(data_dir: Path):  # noqa: ANN202 - imported lazily to keep --help fast
    from mamori.store.sql import OperationalStore, data_dir_url

    data_dir.mkdir(parents=True, exist_ok=True)
    return OperationalStore(data_dir_url(data_dir))


def _print_incidents(incidents: pl.DataFrame, limit: int = 20) -> None:
    table = Table(title=f"Incidents ({incidents.height})", show_lines=False)
    for col in ("level", "risk", "title", "stages", "alerts", "first seen"):
        table.add_column(col)
    for row in incidents.head(limit).iter_rows(named=True):
        level = int(row["level"])
        table.add_row(
            f"[{LEVEL_STYLE[level]}]{level} {LEVEL_NAMES[level]}[/]",
            str(row["risk"]),
            Text(row["title"] or ""),
            " → ".join(row["stages"] or []),
            str(row["alert_count"]),
            str(row["first_seen"])[:19],
        )
    out.print(table)


def _print_scenarios(result: dict[str, Any], title: str) -> None:
    table = Table(title=title)
    for col in ("scenario", "detected", "median time to detect", "stages missed"):
        table.add_column(col)
    for name, s in result["scenarios"].items():
        ttd = s["median_time_to_detect_s"]
        table.add_row(
            name,
            f"{s['detected']}/{s['instances']}",
            "—" if ttd is None else f"{ttd:.0f} s",
            ", ".join(s["stages_missed"]) or "none",
        )
    out.print(table)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mamori")
def main() -> None:
    """Mamori (守り): cyber-defence and fraud early warning for banks, on your own machines."""


# --- simulate --------------------------------------------------------------------------------


@main.command()
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), required=True, help="Folder to write."
)
@click.option("--seed", default=7, show_default=True)
@click.option("--customers", default=5000, show_default=True)
@click.option("--days", default=1, show_default=True)
@click.option(
    "--tenants", default="bank-a", show_default=True, help="Comma-separated institutions."
)
@click.option("--start", default="2026-11-02", show_default=True, help="First simulated day (UTC).")
@click.option(
    "--quiet-days",
    default=0,
    show_default=True,
    help="Leading days with no attacks (baselines learn).",
)
@click.option(
    "--campaign",
    is_flag=True,
    help="One attacker behind every institution's attacks (the same C2 address at each).",
)
def simulate(
    out_dir: Path,
    seed: int,
    customers: int,
    days: int,
    tenants: str,
    start: str,
    quiet_days: int,
    campaign: bool,
) -> None:
    """Simulate a bank under attack, with labelled ground truth.

    Example: mamori simulate --out sim --customers 5000 --days 2 --quiet-days 1
    (--tenants bank-a,bank-b,bank-c --campaign: three banks hit by one campaign)
    """
    from mamori.simulate import SimConfig, write_simulation

    cfg = SimConfig(
        seed=seed,
        customers=customers,
        days=days,
        tenants=tuple(t.strip() for t in tenants.split(",") if t.strip()),
        start=_date(start),
        quiet_days=quiet_days,
        campaign=campaign,
    )
    with console.status("simulating…"):
        summary = write_simulation(cfg, out_dir)
    click.echo(json.dumps(summary, indent=2, default=str))


# --- run ---------------------------------------------------------------------------------------


def run_pipeline(
    batches: Any,
    data_dir: Path,
    *,
    inputs: list[str],
    learn_until: datetime | None,
    fingerprint: str,
    read: Any = None,
    sigma_rules: tuple[Path, ...] = (),
    suppression: Any = None,
    intel: Any = None,
) -> dict[str, Any]:
    """Run the default pipeline into a data folder; returns the run summary.

    `read` is the readers' ReadSummary, whose counts the run record keeps, when reading files;
    `sigma_rules` are Sigma rule folders run live beside the default detectors, and `intel`
    a threat-intel IntelMatcher run beside them.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from mamori.engine.checkpoint import Checkpoint
    from mamori.engine.pipeline import Pipeline, default_detectors
    from mamori.store.lake import EventLake

    store = _store(data_dir)
    lake = EventLake(data_dir / "lake")
    checkpoint = Checkpoint(data_dir / "checkpoints" / fingerprint)
    detectors = default_detectors()
    if sigma_rules:
        from mamori.detect.sigma import SigmaDetector

        with console.status("compiling Sigma rules…"):
            sigma = SigmaDetector.from_paths(*sigma_rules)
        if sigma.report is not None:
            console.print(sigma.report.summary())
        detectors.append(sigma)
    if intel is not None:
        detectors.append(intel)
    pipeline = Pipeline(
        detectors,
        store=store,
        lake=lake,
        checkpoint=checkpoint,
        learn_until=learn_until,
        suppression=suppression,
    )
    run_id = store.start_run(
        "run", {"inputs": inputs, "sigma_rules": [str(p) for p in sigma_rules]}
    )
    with Progress(
        TextColumn("[bold]detecting"),
        BarColumn(),
        TextColumn("{task.fields[events]:,} events · {task.fields[alerts]:,} alerts"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("run", total=None, events=0, alerts=0)
        stats = pipeline.run(
            batches, on_batch=lambda s: progress.update(task, events=s.events, alerts=s.alerts)
        )
    tenants = sorted(set(store.tenants()))
    incidents_all = []
    for tenant in tenants:
        alerts = store.alerts(tenant)
        incidents, membership = pipeline.incidents(alerts)
        store.replace_incidents(tenant, incidents, membership)
        incidents_all.append(incidents)
    checkpoint.clear()
    incidents = pl.concat(incidents_all) if incidents_all else pipeline.incidents()[0]
    summary = {
        "run_id": run_id,
        **stats.as_dict(),
        "incidents": incidents.height,
        "incidents_raised": incidents.filter(pl.col("level") >= RAISE_LEVEL).height,
    }
    counts = {"events_accepted": stats.events}
    if read is not None:
        counts = {
            "events_read": read.read,
            "events_accepted": read.accepted,
            "events_quarantined": read.quarantined,
        }
    store.finish_run(run_id, alerts=stats.alerts, incidents=incidents.height, **counts)
    return summary


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--data-dir", type=click.Path(path_type=Path), default=Path("data"), show_default=True
)
@click.option("--kind", default=None, help="Stream kind of the inputs, if the files do not say.")
@click.option(
    "--tenant", default="default", show_default=True, help="Tenant of records that name none."
)
@click.option(
    "--learn-until", default=None, help="ISO time: before it, detectors learn but raise nothing."
)
@click.option(
    "--sigma-rules",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Sigma rule files or folders to run live too (the engine `mamori hunt` uses).",
)
@click.option(
    "--intel",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="STIX 2.1 bundles or MISP JSON (files or folders) to match events against.",
)
@click.option(
    "--allow-list",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML allow-list of alerts the bank silences (see docs/detection.md).",
)
@click.option(
    "--repeat-window",
    default=None,
    help="At most one alert per rule and entity per window, e.g. 1h.",
)
def run(
    paths: tuple[Path, ...],
    data_dir: Path,
    kind: str | None,
    tenant: str,
    learn_until: str | None,
    sigma_rules: tuple[Path, ...],
    intel: tuple[Path, ...],
    allow_list: Path | None,
    repeat_window: str | None,
) -> None:
    """Run the detectors over files or folders; store alerts and incidents.

    Example: mamori run sim/events --data-dir data --learn-until 2026-11-03
    Example: mamori run evidence/ --sigma-rules sigma/rules/windows
    Example: mamori run flows/ --intel feeds/stix --intel feeds/misp
    """
    from mamori.detect.rules import parse_duration
    from mamori.engine.suppression import Suppression, load_allow_list
    from mamori.events.ids import stable_ids
    from mamori.events.quarantine import Quarantine
    from mamori.events.readers import read_path
    from mamori.events.summary import ReadSummary

    try:
        suppression = Suppression(
            load_allow_list(allow_list) if allow_list else [],
            parse_duration(repeat_window) if repeat_window else None,
        )
    except ValueError as err:
        _fail(str(err))
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    files = sorted(str(p.resolve()) for p in paths)
    stamp = [f"{p}:{Path(p).stat().st_mtime_ns}" for p in files]
    stamp += [f"sigma:{p.resolve()}" for p in sigma_rules]  # another detector set
    stamp += [f"intel:{p.resolve()}" for p in intel]
    matcher = None
    if intel:
        from mamori.detect.intel.commands import load_matcher

        matcher = load_matcher(intel, console)
    fingerprint = stable_ids(pl.DataFrame({"k": ["|".join(stamp)]}), ["k"])[0][:16]
    # the whole input is re-read on a resumed run, so its quarantine is written anew
    quarantine_file = data_dir / "quarantine" / f"{fingerprint}.jsonl"
    quarantine_file.unlink(missing_ok=True)
    quarantine = Quarantine(quarantine_file)
    read = ReadSummary()

    def batches() -> Any:
        for path in paths:
            yield from read_path(
                path, kind=kind, tenant=tenant, quarantine=quarantine, summary=read
            )

    try:
        summary = run_pipeline(
            batches(),
            data_dir,
            inputs=files,
            learn_until=_date(learn_until),
            fingerprint=fingerprint,
            read=read,
            sigma_rules=sigma_rules,
            suppression=suppression,
            intel=matcher,
        )
    except ValueError as err:
        _fail(str(err))
        return
    summary.update(
        records_read=read.read,
        records_accepted=read.accepted,
        records_quarantined=read.quarantined,
        quarantined_by_reason=dict(read.by_reason),
        files_skipped=read.skipped,
        files_failed=read.failed,
        quarantine_file=str(quarantine_file) if read.quarantined else None,
    )
    click.echo(json.dumps(summary, indent=2, default=str))
    store = _store(data_dir)
    for t in store.tenants():
        _print_incidents(store.incidents(t, min_level=RAISE_LEVEL))


# --- reading the store -------------------------------------------------------------------------


@main.command()
@click.option(
    "--data-dir", type=click.Path(path_type=Path), default=Path("data"), show_default=True
)
@click.option("--tenant", default=None, help="Institution (default: every tenant in the store).")
@click.option("--limit", default=50, show_default=True)
@click.option("--detector", default=None)
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")
def alerts(
    data_dir: Path, tenant: str | None, limit: int, detector: str | None, as_json: bool
) -> None:
    """List alerts, newest first.  Example: mamori alerts --tenant bank-a --limit 20"""
    store = _store(data_dir)
    for t in [tenant] if tenant else store.tenants():
        frame = store.alerts(t, detector=detector).sort("time", descending=True).head(limit)
        if as_json:
            for row in frame.iter_rows(named=True):
                click.echo(json.dumps(row, default=str))
            continue
        table = Table(title=f"{t}: alerts")
        for col in ("time", "severity", "detector", "title", "entity", "explanation"):
            table.add_column(col)
        for row in frame.iter_rows(named=True):
            table.add_row(
                str(row["time"])[:19],
                row["severity"],
                row["detector"],
                Text(row["title"] or ""),
                Text(f"{row['entity_type']}:{row['entity_id']}"),
                Text(row["explanation"] or ""),
            )
        out.print(table)


@main.command()
@click.option(
    "--data-dir", type=click.Path(path_type=Path), default=Path("data"), show_default=True
)
@click.option("--tenant", default=None)
@click.option(
    "--min-level", default=RAISE_LEVEL, show_default=True, help="1 shows the watch list too."
)
@click.option("--json", "as_json", is_flag=True)
def incidents(data_dir: Path, tenant: str | None, min_level: int, as_json: bool) -> None:
    """List incidents by risk.  Example: mamori incidents --min-level 4"""
    store = _store(data_dir)
    for t in [tenant] if tenant else store.tenants():
        frame = store.incidents(t, min_level=min_level)
        if as_json:
            for row in frame.iter_rows(named=True):
                click.echo(json.dumps(row, default=str))
        else:
            _print_incidents(frame, limit=100)


@main.command()
@click.argument("sql")
@click.option(
    "--data-dir", type=click.Path(path_type=Path), default=Path("data"), show_default=True
)
@click.option("--limit", default=1000, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def query(sql: str, data_dir: Path, limit: int, as_json: bool) -> None:
    """Read-only SQL over the event lake (views: transactions, flow, auth, winlog, log).

    Example: mamori query "SELECT outcome, count(*) AS n FROM auth GROUP BY 1"
    """
    from mamori.store.lake import EventLake, QueryError

    try:
        frame = EventLake(data_dir / "lake").query(sql, limit=limit)
    except QueryError as err:
        _fail(str(err))
        return
    if as_json:
        click.echo(frame.write_json())
    else:
        with pl.Config(tbl_rows=limit, tbl_cols=-1, fmt_str_lengths=60):
            click.echo(str(frame))


# --- report and demo ------------------------------------------------------------------------------


def write_report(data_dir: Path, out_dir: Path, events: int | None = None) -> Path:
    """The HTML report of every tenant in a data folder."""
    from mamori.analyst.archive import latest_views
    from mamori.engine.incidents import institution_level
    from mamori.web.report import render_report

    store = _store(data_dir)
    tenants = store.tenants()
    if not tenants:
        _fail(f"no alerts in {data_dir}: run `mamori run` first")
    alerts = pl.concat([store.alerts(t) for t in tenants])
    incidents = pl.concat([store.incidents(t) for t in tenants])
    links = pl.concat([store.incident_links(t) for t in tenants])
    levels = institution_level(incidents)
    institution = (
        levels[0]
        if len(levels) == 1
        else {
            "tenant": ", ".join(tenants),
            "level": max(x["level"] for x in levels),
            "reasons": [r for x in levels for r in x["reasons"]],
            "incidents_by_level": {},
            "events": events,
        }
    )
    institution["events"] = events
    triages = latest_views(store.url, tenants)
    return render_report(alerts, incidents, links, institution, out_dir, triages=triages)


@main.command()
@click.option(
    "--data-dir", type=click.Path(path_type=Path), default=Path("data"), show_default=True
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Default: DATA_DIR/report",
)
def report(data_dir: Path, out_dir: Path | None) -> None:
    """Write the HTML report.  Example: mamori report --data-dir data"""
    path = write_report(data_dir, out_dir or data_dir / "report")
    out.print(f"report: {path}")


# `mamori serve` (the API and console over a data folder) is registered at the end, from
# mamori.api.commands; the report is served there at /report.


@main.command()
@click.option(
    "--data-dir", type=click.Path(path_type=Path), default=Path("demo-data"), show_default=True
)
@click.option("--customers", default=5000, show_default=True)
@click.option("--seed", default=2026, show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option(
    "--no-serve", is_flag=True, help="Stop after writing the report and the demo users."
)
def demo(data_dir: Path, customers: int, seed: int, port: int, no_serve: bool) -> None:
    """Simulate a day at a bank under attack, detect, and open the console on it.

    Three quiet days let the baselines learn the bank's habits, then a day with every attack
    scenario. The bank's tenant gets five console users (an analyst, two responders, an
    admin, an auditor) whose fresh passwords are printed once; then the API and console run
    on http://127.0.0.1:8000/console (report at /report) until Ctrl-C.

    Example: mamori demo --customers 2000 --no-serve
    """
    import shutil

    from mamori.simulate import SimConfig
    from mamori.simulate import simulate as make_sim

    shutil.rmtree(data_dir, ignore_errors=True)
    start = datetime(2026, 11, 2, tzinfo=UTC)
    cfg = SimConfig(
        seed=seed, customers=customers, days=4, tenants=("bank-a",), start=start, quiet_days=3
    )
    sim = make_sim(cfg)
    console.print(
        f"[bold]Simulating[/] bank-a: {customers:,} customers, "
        "three quiet days, then a day under attack"
    )

    def batches() -> Any:
        for chunk in sim.chunks():
            yield from (b for b in chunk.batches.values() if b.height)

    summary = run_pipeline(
        batches(),
        data_dir,
        inputs=["simulation"],
        learn_until=start + timedelta(days=3),
        fingerprint="demo",
    )
    console.print(
        f"{summary['events']:,} events in {summary['seconds']:.1f} s → "
        f"{summary['alerts']:,} alerts → {summary['incidents']:,} incidents, "
        f"{summary['incidents_raised']} raised"
    )
    store = _store(data_dir)
    _print_incidents(store.incidents("bank-a", min_level=RAISE_LEVEL))
    truth = sim.truth()
    truth.write_parquet(data_dir / "truth.parquet")
    _print_scenarios(
        score_run(
            truth,
            store.alerts("bank-a"),
            store.incidents("bank-a"),
            store.incident_links("bank-a"),
            customers=customers,
            days=1,
        ),
        "The injected attacks, against the ground truth",
    )
    path = write_report(data_dir, data_dir / "report", events=summary["events"])
    console.print(f"report: {path}")
    _open_demo_console(data_dir, port, serve=not no_serve)


def _open_demo_console(data_dir: Path, port: int, *, serve: bool) -> None:
    """The demo bank's users (passwords printed once), then the API and console."""
    from mamori.api.commands import run_server
    from mamori.api.demo import DEMO_TENANT, open_demo_bank
    from mamori.api.settings import ApiSettings

    users = open_demo_bank(data_dir)
    table = Table(title=f"Console users of {DEMO_TENANT} (passwords shown only now)")
    for column in ("username", "role", "password", "name"):
        table.add_column(column)
    for user in users:
        table.add_row(user.username, user.role, user.password, user.display_name)
    console.print(table)
    url = f"http://127.0.0.1:{port}"
    console.print(
        f"console: {url}/console  ·  report: {url}/report  ·  API: {url}/docs\n"
        "[yellow]Plain HTTP on the loopback address only: the console's cookies are sent "
        "without the Secure flag for this demo. Put TLS in front of `mamori serve` anywhere "
        "else.[/]"
    )
    if serve:
        run_server(ApiSettings(data_dir, secure_cookies=False), "127.0.0.1", port)


# --- hunt ---------------------------------------------------------------------------------------


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--rules",
    "rules_dirs",
    multiple=True,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Sigma rule files or folders (repeat for several).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "jsonl", "csv"]),
    default="table",
    show_default=True,
)
@click.option(
    "--min-level",
    type=click.Choice(["informational", "low", "medium", "high", "critical"]),
    default="informational",
    show_default=True,
)
def hunt(paths: tuple[Path, ...], rules_dirs: tuple[Path, ...], fmt: str, min_level: str) -> None:
    """Hunt with Sigma rules over EVTX and JSON-lines files: a timeline of hits.

    Example: mamori hunt evidence/ --rules sigma/rules --rules bank-rules --min-level high
    """
    from mamori.detect.sigma import SigmaDetector
    from mamori.engine.hunt import hunt as run_hunt
    from mamori.engine.hunt import summarise
    from mamori.events.summary import ReadSummary

    with console.status("compiling rules…"):
        detector = SigmaDetector.from_paths(*rules_dirs)
    read = ReadSummary()
    with console.status("hunting…"):
        hits = run_hunt(paths, detector, min_level=min_level, summary=read)
    if fmt == "jsonl":
        for row in hits.iter_rows(named=True):
            click.echo(json.dumps(row, default=str))
    elif fmt == "csv":
        click.echo(hits.with_columns(pl.col("attack").list.join(" ")).write_csv(), nl=False)
    else:
        table = Table(title=f"{hits.height:,} hits")
        for col in ("time", "level", "tactic", "rule", "computer", "file", "record"):
            table.add_column(col)
        for row in hits.iter_rows(named=True):
            table.add_row(
                str(row["time"])[:19],
                row["level"],
                row["tactic"] or "",
                Text(row["rule_title"] or ""),
                Text(row["computer"] or ""),
                Text(Path(row["file"] or "").name),
                str(row["record_id"]),
            )
        out.print(table)
    report = detector.report
    console.print(
        f"{read.read:,} events read ({read.quarantined:,} quarantined) · "
        f"{len(detector.rules):,} rules"
        + (f" · {len(report.failed)} rules not compiled" if report is not None else "")
    )
    console.print(json.dumps(summarise(hits)))


# --- eval and bench -------------------------------------------------------------------------------


@main.group(name="eval")
def eval_group() -> None:
    """Evaluations that print figures (JSON with --json)."""


@eval_group.command(name="simulate")
@click.option("--seed", default=11, show_default=True)
@click.option("--customers", default=5000, show_default=True)
@click.option("--days", default=1, show_default=True, help="Days under attack.")
@click.option("--quiet-days", default=6, show_default=True, help="Days before, to learn habits.")
@click.option("--tenants", default="bank-a", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def eval_simulate(
    seed: int, customers: int, days: int, quiet_days: int, tenants: str, as_json: bool
) -> None:
    """Detection of every simulated scenario, time to detect, and noise on benign activity.

    Example: mamori eval simulate --seed 11 --json
    """
    from mamori.engine.pipeline import Pipeline
    from mamori.simulate import SimConfig
    from mamori.simulate import simulate as make_sim

    start = datetime(2026, 11, 2, tzinfo=UTC)
    names = tuple(t.strip() for t in tenants.split(",") if t.strip())
    cfg = SimConfig(
        seed=seed,
        customers=customers,
        days=days + quiet_days,
        tenants=names,
        start=start,
        quiet_days=quiet_days,
    )
    sim = make_sim(cfg)
    pipeline = Pipeline(learn_until=start + timedelta(days=quiet_days))
    with console.status("simulating and detecting…"):
        stats = pipeline.run(
            b for chunk in sim.chunks() for b in chunk.batches.values() if b.height
        )
        incidents, membership = pipeline.incidents()
    result = score_run(
        sim.truth(), pipeline.alerts(), incidents, membership, customers=customers, days=days
    )
    result["events"] = stats.events
    result["seed"] = seed
    if as_json:
        click.echo(json.dumps(result, default=str))
        return
    _print_scenarios(result, f"Simulated scenarios (seed {seed})")
    out.print({k: v for k, v in result.items() if k not in ("scenarios", "instances")})


@eval_group.command(name="sigma-regression")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--rules",
    "rules_dirs",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Rule folders (default: rules, rules-emerging-threats, rules-threat-hunting beside DIR).",
)
@click.option("--json", "as_json", is_flag=True)
def eval_sigma_regression(directory: Path, rules_dirs: tuple[Path, ...], as_json: bool) -> None:
    """Run SigmaHQ's regression data: each rule must match its EVTX sample.

    Example: mamori eval sigma-regression ../shared/data/sigma/regression_data --json
    """
    from mamori.evaluate.sigma import regression

    folders = list(rules_dirs) or [
        directory.parent / name
        for name in ("rules", "rules-emerging-threats", "rules-threat-hunting")
        if (directory.parent / name).is_dir()
    ]
    if not folders:
        _fail(f"no rule folders given and none beside {directory}; use --rules DIR")
    with console.status("running the regression tests…"):
        result = regression(directory, folders)
    if as_json:
        click.echo(json.dumps(result))
    else:
        out.print(f"passed {result['passed']} of {result['total']}")
        for failure in result["failures"]:
            click.echo(f"  {failure['rule_id']}: {failure['reason']} ({failure['file']})")


@main.group()
def bench() -> None:
    """Benchmarks that print figures (JSON with --json)."""


@bench.command(name="pipeline")
@click.option("--events", default=1_000_000, show_default=True, help="Events to push through.")
@click.option("--customers", default=20_000, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def bench_pipeline(events: int, customers: int, as_json: bool) -> None:
    """Pipeline throughput (events/s, detector time only) and peak memory on the simulator mix.

    Run with POLARS_MAX_THREADS=1 for a per-core figure.  Example: mamori bench pipeline --json
    """
    from mamori.evaluate.bench import bench_pipeline as run_bench

    result = run_bench(events=events, customers=customers)
    if as_json:
        click.echo(json.dumps(result))
    else:
        out.print(result)


@bench.command(name="sigma")
@click.option("--events", default=1_000_000, show_default=True, help="Events to push through.")
@click.option("--json", "as_json", is_flag=True)
def bench_sigma_command(events: int, as_json: bool) -> None:
    """Sigma throughput (events/s) and peak memory with every SigmaHQ rule loaded, over the
    EVTX samples repeated to EVENTS. Run with POLARS_MAX_THREADS=1 for a per-core figure.

    Example: POLARS_MAX_THREADS=1 mamori bench sigma --json
    """
    from mamori.evaluate.sigma_bench import bench_sigma

    with console.status("benchmarking the Sigma detector…"):
        result = bench_sigma(events=events)
    if as_json:
        click.echo(json.dumps(result))
    else:
        out.print(result)


# --- commands owned by capability packages ------------------------------------------------------
# Each capability keeps its commands beside its code and registers them here, one line each:
#   from mamori.<package>.commands import <command>; eval_group.add_command(<command>)
from mamori.detect.aml.commands import eval_amlsim  # noqa: E402

eval_group.add_command(eval_amlsim)
from mamori.detect.intrusion.commands import eval_cicids, eval_nslkdd  # noqa: E402

eval_group.add_command(eval_nslkdd)
eval_group.add_command(eval_cicids)
from mamori.detect.logs.commands import eval_bgl  # noqa: E402

eval_group.add_command(eval_bgl)
from mamori.detect.fraud.commands import eval_fdh  # noqa: E402

eval_group.add_command(eval_fdh)
from mamori.analyst.commands import (  # noqa: E402
    audit_group,
    eval_injection,
    eval_redaction,
    triage,
)

main.add_command(triage)
main.add_command(audit_group)
eval_group.add_command(eval_redaction)
eval_group.add_command(eval_injection)

from mamori.detect.intel.commands import intel_group  # noqa: E402

main.add_command(intel_group)

from mamori.stream.commands import publish, worker  # noqa: E402

main.add_command(worker)
main.add_command(publish)

from mamori.api.commands import serve, tenants_group, users_group  # noqa: E402

main.add_command(serve)
main.add_command(tenants_group)
main.add_command(users_group)

from mamori.share.commands import sector_group, share_group  # noqa: E402

main.add_command(share_group)
main.add_command(sector_group)


if __name__ == "__main__":
    main()
