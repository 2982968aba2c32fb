"""Alembic's entry point: runs the migrations on the connection `upgrade` hands over, or on
``sqlalchemy.url`` when Alembic is run from the command line. Imported anywhere else (a
doctest collector), it does nothing."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context


def _run(connection: sa.Connection) -> None:
    context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    """Run the migrations Alembic asked for."""
    config = context.config
    given = config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as own:
        _run(own)
    engine.dispose()


if hasattr(context, "config"):  # only inside an Alembic run
    main()
