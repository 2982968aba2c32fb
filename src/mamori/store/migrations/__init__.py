"""The operational database's schema, managed with Alembic migrations.

Every table of the operational store (`mamori.store.sql`) and of identity and case work
(`mamori.govern.identity_tables`) is created and changed here, one revision at a time, on
SQLite and PostgreSQL alike. `upgrade` brings a database to the newest revision; the
operational store calls it when it opens a database, so a fresh folder, an old embedded file
and a production PostgreSQL all end at the same schema.

A database made before migrations existed (tables created directly, no ``alembic_version``)
is upgraded in place: the first revisions create only what is missing. A version table whose
tables were dropped behind its back (a test resetting its database) counts as empty.

>>> import tempfile, sqlalchemy as sa
>>> engine = sa.create_engine(f"sqlite:///{tempfile.mkdtemp()}/m.db")
>>> upgrade(engine) == head()
True
>>> {"alerts", "incidents", "tenants", "users"} <= set(sa.inspect(engine).get_table_names())
True
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

__all__ = ["alembic_config", "current", "head", "upgrade"]

FOLDER = Path(__file__).resolve().parent

#: A table the first revision creates; without it the database is taken as empty.
_SENTINEL = "alerts"


def alembic_config(engine: sa.Engine | None = None) -> Config:
    """An Alembic configuration for these migrations (optionally bound to `engine`)."""
    config = Config()
    config.set_main_option("script_location", str(FOLDER))
    if engine is not None:
        url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
        config.set_main_option("sqlalchemy.url", url)
    return config


@functools.cache
def head() -> str:
    """The newest revision."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if revision is None:  # defensive: the package always ships its revisions
        raise RuntimeError(f"no migrations found in {FOLDER}")
    return revision


def current(engine: sa.Engine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: sa.Engine) -> str:
    """Bring the database to the newest revision; return it. Cheap when already there.

    On PostgreSQL, processes that start together on a new database (several workers, the
    API, a command) take turns: each migrates under one advisory lock, and the later ones
    find the schema at its newest revision."""
    with engine.connect() as connection:
        if _at_head(connection):
            return head()
    with _migration_lock(engine):
        return _upgrade(engine)


def _at_head(connection: sa.Connection) -> bool:
    revision = MigrationContext.configure(connection).get_current_revision()
    return revision == head() and sa.inspect(connection).has_table(_SENTINEL)


#: The PostgreSQL advisory lock key migrations take (any fixed 64-bit number).
_LOCK_KEY = 0x6D616D6F7269  # "mamori"


@contextmanager
def _migration_lock(engine: sa.Engine) -> Iterator[None]:
    if engine.dialect.name != "postgresql":  # SQLite: one file, its own write lock
        yield
        return
    with engine.connect() as lock:
        lock.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": _LOCK_KEY})
        try:
            yield
        finally:
            lock.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK_KEY})


def _upgrade(engine: sa.Engine) -> str:
    with engine.begin() as connection:
        if _at_head(connection):  # another process migrated it while we waited
            return head()
        context = MigrationContext.configure(connection)
        if context.get_current_revision() is not None and not sa.inspect(connection).has_table(
            _SENTINEL
        ):
            context.stamp(ScriptDirectory.from_config(alembic_config()), "base")
    with engine.begin() as connection:
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return head()
