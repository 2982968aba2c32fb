"""Processes that start together on a new PostgreSQL database (two workers and the console
of a deployment) all end at the newest revision: they migrate one at a time."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from mamori.store.migrations import head

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
FRESH = "mamori_concurrent_upgrade"

UPGRADE = (
    "import sys, sqlalchemy as sa\n"
    "from mamori.store.migrations import upgrade\n"
    "engine = sa.create_engine(sys.argv[1]); print(upgrade(engine)); engine.dispose()\n"
)


@pytest.mark.skipif(not os.environ.get("MAMORI_TEST_PG"), reason="needs MAMORI_TEST_PG")
def test_processes_upgrading_a_new_database_at_once_all_succeed() -> None:
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {FRESH}")
        admin.execute(f"CREATE DATABASE {FRESH}")
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{FRESH}"
    try:
        processes = [
            subprocess.Popen([sys.executable, "-c", UPGRADE, url], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
            for _ in range(5)
        ]
        outputs = [p.communicate(timeout=120)[0] for p in processes]
        assert [p.returncode for p in processes] == [0] * 5, outputs
        assert [o.strip().splitlines()[-1] for o in outputs] == [head()] * 5
        engine = sa.create_engine(url)
        with engine.connect() as connection:
            assert {"alerts", "users", "sector_objects"} <= set(
                sa.inspect(connection).get_table_names()
            )
        engine.dispose()
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {FRESH} WITH (FORCE)")
