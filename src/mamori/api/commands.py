"""Commands of the API: `mamori serve`, and `mamori tenants` / `mamori users` for operators.

Examples::

    mamori tenants create bank-a --name "Bank A"
    mamori users create aiko --tenant bank-a --role analyst --password
    mamori users token aiko --name siem-feed
    mamori serve --data-dir data --port 8000
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from mamori.govern.policy import ROLES

if TYPE_CHECKING:
    from mamori.api.settings import ApiSettings

DATA_DIR = click.option(
    "--data-dir", type=click.Path(path_type=Path), default=Path("data"), show_default=True
)
DATABASE = click.option(
    "--database-url",
    default=None,
    envvar="MAMORI_DATABASE_URL",
    show_envvar=True,
    help="Default: sqlite:///DATA_DIR/mamori.db. Give it through the environment where it "
    "holds a password.",
)


def _identity(data_dir: Path, database_url: str | None):  # noqa: ANN202 - lazy imports
    import sqlalchemy as sa

    from mamori.api.settings import ApiSettings
    from mamori.govern.identity import Identity
    from mamori.store.migrations import upgrade

    data_dir.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(ApiSettings(data_dir, database_url=database_url).database)
    upgrade(engine)
    return Identity(engine)


def _fail(message: str) -> None:
    raise click.ClickException(message)


@click.command(name="serve")
@DATA_DIR
@DATABASE
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option(
    "--insecure-cookies",
    is_flag=True,
    help="Send console cookies without the Secure flag (plain-HTTP development only).",
)
@click.option("--access-log/--no-access-log", default=False, show_default=True)
@click.option(
    "--listing-cache-s",
    type=float,
    default=1.0,
    show_default=True,
    help="Seconds the first pages of alert and incident listings are kept (0: never).",
)
def serve(
    data_dir: Path,
    database_url: str | None,
    host: str,
    port: int,
    insecure_cookies: bool,
    access_log: bool,
    listing_cache_s: float,
) -> None:
    """Run the API (and console) over a data folder with uvicorn.

    OpenAPI at /openapi.json, your tenant's HTML report at /report.

    Example: mamori serve --data-dir data --port 8000
    """
    from mamori.api.settings import ApiSettings

    settings = ApiSettings(
        data_dir,
        database_url=database_url,
        secure_cookies=not insecure_cookies,
        listing_cache_s=listing_cache_s,
    )
    run_server(settings, host, port, access_log=access_log)


def run_server(settings: ApiSettings, host: str, port: int, *, access_log: bool = False) -> None:
    """Serve the API and console with uvicorn (one worker: the tenant engines, token cache,
    rate limits and kept listing pages live in this process) until Ctrl-C.

    The objects alive once the app is built (modules, routes, the detectors' tables: some
    250,000) are frozen out of the garbage collector's full passes, which otherwise stop
    every request for ~50-120 ms now and then.
    """
    import gc

    import uvicorn

    from mamori.api.app import create_app

    app = create_app(settings)
    gc.collect()
    gc.freeze()
    click.echo(f"Mamori API on http://{host}:{port}/ (docs at /docs, Ctrl-C to stop)", err=True)
    try:
        uvicorn.run(app, host=host, port=port, access_log=access_log)
    finally:
        gc.unfreeze()


@click.group(name="tenants")
def tenants_group() -> None:
    """Create and list tenants (institutions and the sector)."""


@tenants_group.command(name="create")
@click.argument("tenant")
@click.option("--name", default=None, help="Display name.")
@click.option("--sector", is_flag=True, help="A sector tenant (sees what institutions release).")
@DATA_DIR
@DATABASE
def tenants_create(
    tenant: str, name: str | None, sector: bool, data_dir: Path, database_url: str | None
) -> None:
    """Add a tenant.  Example: mamori tenants create bank-a --name "Bank A" """
    from mamori.govern.identity import IdentityError

    try:
        row = _identity(data_dir, database_url).create_tenant(
            tenant, name, "sector" if sector else "institution"
        )
    except IdentityError as error:
        _fail(str(error))
        return
    click.echo(f"tenant {row['tenant']} ({row['kind']})")


@tenants_group.command(name="list")
@DATA_DIR
@DATABASE
def tenants_list(data_dir: Path, database_url: str | None) -> None:
    """List tenants.  Example: mamori tenants list"""
    for row in _identity(data_dir, database_url).tenants():
        click.echo(f"{row['tenant']}\t{row['kind']}\t{row['name']}")


@click.group(name="users")
def users_group() -> None:
    """Create users and issue API tokens."""


@users_group.command(name="create")
@click.argument("username")
@click.option("--tenant", required=True)
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice(ROLES),
    help="Repeat for several roles.",
)
@click.option(
    "--password",
    is_flag=True,
    help="Ask for a console password (else the user has API tokens only).",
)
@DATA_DIR
@DATABASE
def users_create(
    username: str,
    tenant: str,
    roles: tuple[str, ...],
    password: bool,
    data_dir: Path,
    database_url: str | None,
) -> None:
    """Add a user.  Example: mamori users create aiko --tenant bank-a --role analyst --password"""
    from mamori.govern.identity import IdentityError

    secret = (
        click.prompt("password", hide_input=True, confirmation_prompt=True) if password else None
    )
    try:
        user = _identity(data_dir, database_url).create_user(
            tenant, username, roles, password=secret
        )
    except IdentityError as error:
        _fail(str(error))
        return
    click.echo(f"user {user['username']} of {user['tenant']}: {', '.join(user['roles'])}")


@users_group.command(name="token")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for, e.g. siem-feed.")
@click.option("--days", type=int, default=None, help="Expire after this many days.")
@DATA_DIR
@DATABASE
def users_token(
    username: str, name: str, days: int | None, data_dir: Path, database_url: str | None
) -> None:
    """Issue an API token (printed once).  Example: mamori users token aiko --name siem-feed"""
    import datetime as dt

    from mamori.govern.identity import IdentityError

    try:
        token, record = _identity(data_dir, database_url).issue_token(
            username, name, expires_in=None if days is None else dt.timedelta(days=days)
        )
    except IdentityError as error:
        _fail(str(error))
        return
    click.echo(token)
    click.echo(f"token id {record['token_id']} for {username} of {record['tenant']}", err=True)
