"""The operational database's schema through Alembic, on SQLite and (MAMORI_TEST_PG=1)
PostgreSQL: a fresh database, an old one made without migrations, and the identity tables."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from mamori.store.migrations import current, head, upgrade
from mamori.store.sql import METADATA, OperationalStore

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("MAMORI_TEST_PG") else [])
_ALL_TABLES = {
    "alerts", "incidents", "incident_alerts", "runs", "tenants", "users", "api_tokens",
    "sessions", "incident_cases", "incident_comments",
}  # fmt: skip


def _drop_everything(url: str) -> None:
    engine = sa.create_engine(url)
    found = sa.MetaData()
    found.reflect(engine)
    found.drop_all(engine)
    engine.dispose()


@pytest.fixture(params=_BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
        return
    _drop_everything(PG_URL)
    yield PG_URL
    _drop_everything(PG_URL)


def test_a_fresh_database_gets_every_table_at_the_newest_revision(url: str) -> None:
    OperationalStore(url).close()
    engine = sa.create_engine(url)
    assert set(sa.inspect(engine).get_table_names()) >= _ALL_TABLES
    assert current(engine) == head()
    engine.dispose()


def test_a_database_made_before_migrations_is_taken_over(url: str) -> None:
    engine = sa.create_engine(url)
    METADATA.create_all(engine)  # what the store did before Alembic
    assert current(engine) is None
    assert upgrade(engine) == head()
    assert set(sa.inspect(engine).get_table_names()) >= _ALL_TABLES
    engine.dispose()


def test_version_table_left_behind_by_dropped_tables_counts_as_empty(url: str) -> None:
    engine = sa.create_engine(url)
    upgrade(engine)
    METADATA.drop_all(engine)  # as the store tests' reset does
    upgrade(engine)
    assert "alerts" in sa.inspect(engine).get_table_names()
    engine.dispose()


def test_downgrade_to_the_store_revision_and_back(url: str) -> None:
    from alembic import command

    from mamori.store.migrations import alembic_config

    engine = sa.create_engine(url)
    upgrade(engine)
    command.downgrade(alembic_config(engine), "0001")
    assert "users" not in sa.inspect(engine).get_table_names()
    assert current(engine) == "0001"
    assert upgrade(engine) == head()
    assert "users" in sa.inspect(engine).get_table_names()
    engine.dispose()


def test_an_audit_chain_written_before_its_migration_is_taken_over(url: str) -> None:
    from mamori.govern.audit import AuditLog

    with AuditLog(url) as audit:  # the audit log creates its own table where it runs alone
        audit.record("tool_call", tenant="bank-a", actor="aiko", role="analyst", body={})
    OperationalStore(url).close()  # then the store's migrations reach the newest revision
    engine = sa.create_engine(url)
    assert "audit_records" in sa.inspect(engine).get_table_names()
    assert current(engine) == head()
    engine.dispose()
    with AuditLog(url) as audit:
        assert audit.verify().ok
