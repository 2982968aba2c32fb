"""Audit-chain tests run on SQLite, and also on PostgreSQL when MAMORI_TEST_PG is set
(server on 127.0.0.1:5432, trust auth, database `test`, user postgres)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("MAMORI_TEST_PG") else [])


@pytest.fixture(params=_BACKENDS)
def audit_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'audit.db'}"
        return
    if importlib.util.find_spec("psycopg") is None:
        pytest.skip("MAMORI_TEST_PG is set but psycopg is not installed")
    import sqlalchemy as sa

    from mamori.govern.tables import AUDIT_METADATA

    engine = sa.create_engine(PG_URL)
    AUDIT_METADATA.drop_all(engine)
    engine.dispose()
    yield PG_URL
    engine = sa.create_engine(PG_URL)
    AUDIT_METADATA.drop_all(engine)
    engine.dispose()
