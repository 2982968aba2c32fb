"""Hunting over one tenant's part of the event lake: read-only SQL, a time limit, a row limit.

The lake's own query (`mamori.store.lake.EventLake.query`) sees every tenant. A hunt runs in
a fresh DuckDB connection whose views (``transaction`` alias ``transactions``, ``flow``,
``auth``, ``winlog``, ``log``) read only the caller's partitions, whose file access is
confined to those partitions' folders, and whose configuration is then locked: a hunt can
neither write, nor read another tenant's files by path, nor change the limits. A query still
running after `timeout_s` is interrupted.

>>> import tempfile, datetime as dt
>>> from mamori.store.lake import EventLake
>>> lake = EventLake(Path(tempfile.mkdtemp()))
>>> t = dt.datetime(2024, 5, 1, 9, tzinfo=dt.UTC)
>>> _ = lake.write(pl.DataFrame({"event_id": ["e1", "e2"], "tenant": ["bank-a", "bank-b"],
...     "time": [t, t], "kind": ["flow", "flow"], "dst_port": [443, 22]}))
>>> hunt(lake.root, "bank-a", "SELECT tenant, dst_port FROM flow").rows()
[('bank-a', 443)]
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from mamori.events.schema import KINDS
from mamori.store.lake import QueryError, empty_view, locked_connection, sql_literal

__all__ = ["QueryError", "QueryTimeout", "hunt"]


class QueryTimeout(QueryError):
    """A hunt ran past its time limit and was interrupted."""


def hunt(
    lake_root: Path,
    tenant: str,
    sql: str,
    *,
    limit: int = 10_000,
    timeout_s: float = 10.0,
    parameters: list[Any] | None = None,
) -> pl.DataFrame:
    """Run one read-only SELECT over `tenant`'s events; at most `limit` rows."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as error:
        raise QueryError(f"query does not parse: {error}") from error
    if len(statements) != 1:
        raise QueryError(f"expected exactly one statement, got {len(statements)}")
    if statements[0].type != duckdb.StatementType.SELECT:
        raise QueryError(f"only SELECT queries are allowed, not {statements[0].type.name}")
    connection = _connect(Path(lake_root), tenant)
    timer = threading.Timer(timeout_s, connection.interrupt)
    timer.start()
    try:
        relation = connection.sql(statements[0].query, params=parameters)
        if relation is None:  # defensive: a SELECT always yields a relation
            raise QueryError("the query returned no result")
        return relation.limit(limit).pl()
    except duckdb.InterruptException as error:
        raise QueryTimeout(f"the query ran past its limit of {timeout_s:g} s") from error
    except duckdb.Error as error:
        raise QueryError(f"query failed: {error}") from error
    finally:
        timer.cancel()
        connection.close()


def _connect(root: Path, tenant: str) -> duckdb.DuckDBPyConnection:
    """A locked in-memory DuckDB with one view per kind over the tenant's partitions."""
    folders = {kind: root.resolve() / f"kind={kind}" / f"tenant={tenant}" for kind in KINDS}
    views = {kind: _view(kind, folder) for kind, folder in folders.items()}
    return locked_connection(views, [str(folder) for folder in folders.values()])


def _view(kind: str, folder: Path) -> str:
    """The SELECT behind a kind's view: the tenant's parts, or an empty typed relation."""
    if any(folder.glob("*/*.parquet")):
        glob = sql_literal(str(folder / "*" / "*.parquet"))
        return (
            f"SELECT * FROM read_parquet({glob}, hive_partitioning = true, "
            "union_by_name = true, hive_types = {'tenant': VARCHAR, 'day': DATE})"
        )
    return empty_view(kind)
