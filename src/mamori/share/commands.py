"""`mamori share export` and `mamori share pull`: the sector exchange from the command line."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("share")
def share_group() -> None:
    """Sector exchange: release alerts as STIX 2.1, pull peers' indicators over TAXII 2.1."""


@share_group.command("export")
@click.argument("alerts", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--policy", "policy_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TOML file with the tenant's [share] release policy.")
@click.option("--peer", required=True, help="The peer the bundle is for (AMBER needs it listed).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the bundle here (default: stdout).")
@click.option("--received", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              multiple=True, help="Bundles pulled from the sector (mamori share pull): what "
              "came in under AMBER is never released lower. Repeatable.")
def share_export(alerts: Path, policy_path: Path, peer: str, out: Path | None,
                 received: tuple[Path, ...]) -> None:
    """Release an alerts Parquet file as a STIX 2.1 bundle under the tenant's policy.

    Example: mamori share export alerts.parquet --policy mamori.toml --peer sector-hub
    --received feeds/sector.json
    """
    import orjson
    import polars as pl

    from mamori.share.export import (
        ReleaseError,
        ReleasePolicy,
        bundle,
        received_levels,
        release,
        stricter,
    )

    try:
        policy = ReleasePolicy.from_toml(policy_path)
    except ReleaseError as err:
        raise click.ClickException(str(err)) from None
    floors: dict[str, str] = {}
    for path in received:
        try:
            pulled = orjson.loads(path.read_bytes()).get("objects", [])
        except (orjson.JSONDecodeError, AttributeError) as err:
            raise click.ClickException(f"{path}: not a STIX bundle ({err})") from None
        for key, level in received_levels(pulled).items():
            floors[key] = stricter(level, floors.get(key))
    objects = release(pl.read_parquet(alerts), policy, peer, received=floors)
    text = orjson.dumps(bundle(objects), option=orjson.OPT_INDENT_2)
    if out:
        out.write_bytes(text)
        click.echo(f"{len(objects)} objects written to {out}", err=True)
    else:
        click.echo(text.decode())


@share_group.command("pull")
@click.option("--url", required=True, help="The peer's base URL, e.g. https://hub:8443")
@click.option("--token", envvar="MAMORI_TAXII_TOKEN", required=True,
              help="Bearer token (or MAMORI_TAXII_TOKEN).")
@click.option("--collection", default="indicators", show_default=True)
@click.option("--added-after", default=None, help="Only objects added after this timestamp.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Write the pulled objects as a STIX bundle (usable with mamori run --intel).")
def share_pull(url: str, token: str, collection: str, added_after: str | None,
               out: Path) -> None:
    """Pull a peer's collection into a STIX bundle file that intel matching loads.

    Example: mamori share pull --url https://hub:8443 --out feeds/sector.json
    """
    import httpx
    import orjson

    from mamori.share.client import PeerError, TaxiiPeer
    from mamori.share.export import bundle

    with httpx.Client(base_url=url, timeout=30) as http:
        try:
            objects, mark = TaxiiPeer(http, token).pull(collection, added_after)
        except (PeerError, httpx.HTTPError) as err:
            raise click.ClickException(str(err)) from None
    out.write_bytes(orjson.dumps(bundle(objects), option=orjson.OPT_INDENT_2))
    click.echo(f"{len(objects)} objects pulled from {collection}; next --added-after {mark}")


@click.group("sector")
def sector_group() -> None:
    """The sector hub: campaigns seen at k or more institutions, and the early-warning level."""


@sector_group.command("status")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("data"), show_default=True,
              help="The hub's data folder (its mamori.toml [sector] table is read).")
@click.option("--database-url", default=None, help="Default: sqlite:///DATA_DIR/mamori.db")
def sector_status_command(data_dir: Path, database_url: str | None) -> None:
    """Print the sector early-warning level and the campaigns as JSON: what each is about,
    its level, how many institutions saw it, and which of them agreed to be named.

    Example: mamori sector status --data-dir data
    """
    import orjson
    import sqlalchemy as sa

    from mamori.share.hub import HubError, HubJournal, HubSettings, sector_status
    from mamori.store.migrations import upgrade
    from mamori.store.sql import STORE_FILE, data_dir_url

    database = database_url or data_dir_url(data_dir)
    if database_url is None and not (data_dir / STORE_FILE).exists():
        raise click.ClickException(f"no hub database in {data_dir} (run mamori serve there)")
    try:
        settings = HubSettings.from_data_dir(data_dir)
    except HubError as err:
        raise click.ClickException(str(err)) from None
    engine = sa.create_engine(database)
    try:
        upgrade(engine)
        status = sector_status(HubJournal(engine), settings)
    finally:
        engine.dispose()
    click.echo(orjson.dumps(status, option=orjson.OPT_INDENT_2).decode())


@sector_group.command("demo")
@click.option("--customers", default=200, show_default=True, help="Customers per bank.")
@click.option("--seed", default=7, show_default=True)
@click.option("--k", default=3, show_default=True, help="Institutions that make a campaign.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON at the end.")
def sector_demo(customers: int, seed: int, k: int, as_json: bool) -> None:
    """Three simulated banks hit by one coordinated campaign: each detects, releases STIX
    over TAXII to a sector hub, the hub raises a sector campaign, every bank receives it.

    Example: mamori sector demo --customers 200
    """
    import orjson

    from mamori.share.demo import run_sector_demo

    say = (lambda line: click.echo(line, err=True)) if as_json else click.echo
    result = run_sector_demo(customers=customers, seed=seed, k=k, say=say)
    if as_json:
        click.echo(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
