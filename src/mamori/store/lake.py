"""The event lake: every event batch as Parquet, partitioned by kind, tenant and day.

Layout (Hive partitioning, so DuckDB, Polars and Arrow all read it as one table per kind)::

    root/kind=flow/tenant=bank-a/day=2024-05-01/part-<digest>-<rows>.parquet

A part's name is derived from the sorted `event_id`s it holds, so writing the same batch
again (say after a restart replays a checkpointed batch) overwrites the same files instead
of duplicating them. The partition columns `kind` and `tenant` live in the path, not in the
file; `day` is the UTC date of `time`. Parts are written to a temporary name and renamed,
so a crash never leaves a half-written part for queries to trip over.

Hunting goes through `EventLake.query`, which runs one read-only SELECT in a fresh, locked
DuckDB connection: each kind is a view named after it (`"transaction"`, also aliased as
`transactions`, `flow`, `auth`, `winlog`, `log`), file access is confined to the lake and the
configuration is locked, so a query can neither write nor read anything outside the lake.

>>> import tempfile, datetime as dt
>>> lake = EventLake(Path(tempfile.mkdtemp()))
>>> batch = pl.DataFrame({"event_id": ["e1", "e2"], "tenant": ["bank-a", "bank-a"],
...     "time": [dt.datetime(2024, 5, 1, 9, tzinfo=dt.UTC)] * 2, "kind": ["flow", "flow"],
...     "dst_port": [443, 22]})
>>> lake.write(batch)
2
>>> lake.query("SELECT dst_port, day FROM flow ORDER BY dst_port").rows()
[(22, datetime.date(2024, 5, 1)), (443, datetime.date(2024, 5, 1))]
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import duckdb
import polars as pl

from mamori.events.schema import KINDS, conform, schema

__all__ = ["EventLake", "QueryError", "empty_view", "locked_connection", "sql_literal"]

#: Tenant names become directory names, so they are restricted to a safe alphabet.
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

#: Columns kept in the path rather than in each Parquet file.
_PARTITION_COLUMNS = ("kind", "tenant")

#: Extra view names, for readers who think in plurals (and to avoid quoting a keyword).
_ALIASES = {"transactions": "transaction"}

#: DuckDB types of the declared Polars types, for the empty views of kinds with no files.
_DUCKDB_TYPES: dict[type[pl.DataType], str] = {
    pl.String: "VARCHAR",
    pl.Int32: "INTEGER",
    pl.Int64: "BIGINT",
    pl.Float64: "DOUBLE",
    pl.Datetime: "TIMESTAMP WITH TIME ZONE",
}


class QueryError(ValueError):
    """A hunting query was refused (not a single read-only SELECT) or failed to run."""


class EventLake:
    """A Parquet event lake under `root`, written by batch and queried with DuckDB.

    Parameters
    ----------
    root:
        The lake's folder; created if missing.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    # --- writing ----------------------------------------------------------------------------

    def write(self, batch: pl.DataFrame) -> int:
        """Write one kind's batch; return the number of events written.

        The batch is conformed to its kind's schema (so every part of a kind has the same
        column types), split by tenant and UTC day, and each piece written as one part whose
        name depends only on its events: writing the same batch twice leaves the lake as
        writing it once.
        """
        if batch.height == 0:
            return 0
        kind = self._batch_kind(batch)
        events = conform(batch, kind)
        for column in ("event_id", "time", "tenant"):
            if events[column].null_count():
                raise ValueError(f"{kind} batch has events without {column!r}")
        bad = events.filter(~pl.col("tenant").str.contains(_TENANT.pattern))["tenant"]
        if bad.len():
            raise ValueError(f"tenant name {bad[0]!r} is not allowed in the lake")

        events = events.with_columns(_day=pl.col("time").dt.date())
        for (tenant, day), part in events.group_by(["tenant", "_day"], maintain_order=True):
            folder = self.root / f"kind={kind}" / f"tenant={tenant}" / f"day={day.isoformat()}"
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / _part_name(part["event_id"])
            temporary = target.with_suffix(".parquet.tmp")
            part.drop(*_PARTITION_COLUMNS, "_day").write_parquet(temporary, statistics=True)
            os.replace(temporary, target)
        return events.height

    @staticmethod
    def _batch_kind(batch: pl.DataFrame) -> str:
        if "kind" not in batch.columns:
            raise ValueError("event batch has no 'kind' column")
        kinds = batch["kind"].unique().to_list()
        if len(kinds) != 1 or kinds[0] not in KINDS:
            raise ValueError(
                f"an event batch must hold exactly one known kind, got {sorted(map(str, kinds))}"
            )
        return kinds[0]

    # --- reading ----------------------------------------------------------------------------

    def kinds(self) -> list[str]:
        """The kinds that have at least one part in the lake."""
        return [kind for kind in sorted(KINDS) if self._parts(kind)]

    def count(self, kind: str, tenant: str | None = None) -> int:
        """How many events of `kind` (for one tenant, or all) the lake holds."""
        schema(kind)  # raises on an unknown kind
        if tenant is not None and not _TENANT.match(tenant):
            raise ValueError(f"tenant name {tenant!r} is not allowed in the lake")
        folder = self.root / f"kind={kind}"
        pattern = f"tenant={tenant}/*/*.parquet" if tenant else "*/*/*.parquet"
        files = sorted(folder.glob(pattern))
        if not files:
            return 0
        return int(pl.scan_parquet(files).select(pl.len()).collect().item())

    def query(self, sql: str, limit: int | None = 10000) -> pl.DataFrame:
        """Run one read-only SELECT (or WITH … SELECT) over the lake; return at most `limit` rows.

        Raises `QueryError` for anything else (several statements, DDL, DML, COPY, ATTACH,
        SET, PRAGMA …), for access to files outside the lake, and for SQL that fails.
        """
        statements = self._parse(sql)
        if len(statements) != 1:
            raise QueryError(f"expected exactly one statement, got {len(statements)}")
        statement = statements[0]
        if statement.type != duckdb.StatementType.SELECT:
            raise QueryError(
                f"only SELECT queries are allowed in the event lake, not {statement.type.name}"
            )
        connection = self._connect()
        try:
            relation = connection.sql(statement.query)
            if relation is None:  # defensive: a SELECT always yields a relation
                raise QueryError("the query returned no result")
            if limit is not None:
                relation = relation.limit(limit)
            return relation.pl()
        except duckdb.Error as error:
            raise QueryError(f"query failed: {error}") from error
        finally:
            connection.close()

    @staticmethod
    def _parse(sql: str) -> list[duckdb.Statement]:
        try:
            return duckdb.extract_statements(sql)
        except duckdb.Error as error:
            raise QueryError(f"query does not parse: {error}") from error

    def _parts(self, kind: str) -> list[Path]:
        return sorted((self.root / f"kind={kind}").glob("*/*/*.parquet"))

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """A fresh in-memory DuckDB with one view per kind, confined to the lake and locked."""
        views = {kind: self._view_sql(kind) for kind in KINDS}
        return locked_connection(views, [str(self.root)])

    def _view_sql(self, kind: str) -> str:
        """The SELECT behind a kind's view: its parts, or an empty typed relation."""
        envelope = ["event_id", "time", "tenant", "source", "kind"]
        if self._parts(kind):
            glob = sql_literal(str(self.root / f"kind={kind}" / "*" / "*" / "*.parquet"))
            source = (
                f"read_parquet({glob}, hive_partitioning = true, union_by_name = true, "
                "hive_types = {'kind': VARCHAR, 'tenant': VARCHAR, 'day': DATE})"
            )
            columns = ", ".join(_ident(c) for c in envelope)
            excluded = ", ".join(_ident(c) for c in envelope)
            return f"SELECT {columns}, * EXCLUDE ({excluded}) FROM {source}"
        return empty_view(kind)


def locked_connection(views: dict[str, str], allowed: list[str]) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB with `views` (name → SELECT, plus the plural aliases), file
    access confined to the `allowed` folders, its configuration then locked: no extension
    loads, no writes outside, no setting changed back."""
    connection = duckdb.connect(":memory:")
    try:
        connection.execute("SET autoinstall_known_extensions = false")
        connection.execute("SET autoload_known_extensions = false")
        connection.execute("SET TimeZone = 'UTC'")  # times come back as UTC, not local
        for name, select in views.items():
            connection.execute(f"CREATE VIEW {_ident(name)} AS {select}")
        for alias, kind in _ALIASES.items():
            connection.execute(f"CREATE VIEW {_ident(alias)} AS SELECT * FROM {_ident(kind)}")
        folders = ", ".join(sql_literal(folder) for folder in allowed)
        connection.execute(f"SET allowed_directories = [{folders}]")
        connection.execute("SET enable_external_access = false")
        connection.execute("SET lock_configuration = true")
    except BaseException:
        connection.close()
        raise
    return connection


def empty_view(kind: str) -> str:
    """The SELECT of a kind with no files yet: its declared columns (and `day`), no rows."""
    typed = [
        f"CAST(NULL AS {_DUCKDB_TYPES[type(dtype)]}) AS {_ident(name)}"
        for name, dtype in schema(kind).items()
    ]
    typed.append(f"CAST(NULL AS DATE) AS {_ident('day')}")
    return f"SELECT {', '.join(typed)} WHERE false"


def _part_name(event_ids: pl.Series) -> str:
    """A part's file name from its events: same events, same name."""
    joined = event_ids.sort().str.join("\x1f").item()
    digest = hashlib.blake2b(joined.encode(), digest_size=12).hexdigest()
    return f"part-{digest}-{event_ids.len()}.parquet"


def _ident(name: str) -> str:
    """A DuckDB identifier, quoted (`transaction` is a keyword)."""
    return '"' + name.replace('"', '""') + '"'


def sql_literal(text: str) -> str:
    """A DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"

