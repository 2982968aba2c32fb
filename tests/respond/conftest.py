"""The response desk's database: SQLite always, PostgreSQL too when MAMORI_TEST_PG is set."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from mamori.govern.audit import AuditLog
from mamori.respond.desk import ResponseDesk
from mamori.respond.tables import ACTION_APPROVALS_TABLE, ACTION_REQUESTS_TABLE

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

_BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("MAMORI_TEST_PG") else [])


@pytest.fixture(params=_BACKENDS)
def desk_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL whose response tables start empty."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ops.db'}"
        return
    from mamori.store.migrations import upgrade

    engine = sa.create_engine(PG_URL)
    upgrade(engine)
    with engine.begin() as connection:
        for table in (ACTION_APPROVALS_TABLE, ACTION_REQUESTS_TABLE):
            connection.execute(table.delete())
    engine.dispose()
    yield PG_URL


@pytest.fixture
def desk(desk_url: str, tmp_path: Path) -> Iterator[ResponseDesk]:
    """A desk with its own audit chain (a fresh SQLite file, so the chain starts empty)."""
    audit = AuditLog(f"sqlite:///{tmp_path / 'audit.db'}")
    desk = ResponseDesk(desk_url, audit)
    yield desk
    desk.close()
    audit.close()
