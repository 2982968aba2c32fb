"""The event lake: partitioning, stable part names, hunting queries and their guard rails."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from mamori.events.schema import conform
from mamori.store.lake import EventLake, QueryError

T0 = dt.datetime(2024, 5, 1, 22, 0, tzinfo=dt.UTC)


def flows(n: int = 6, tenant_of=lambda i: "bank-a" if i % 3 else "bank-b") -> pl.DataFrame:
    """`n` flow events one hour apart from 22:00, so they span two days."""
    return conform(
        pl.DataFrame(
            {
                "event_id": [f"f{i}" for i in range(n)],
                "time": [T0 + dt.timedelta(hours=i) for i in range(n)],
                "tenant": [tenant_of(i) for i in range(n)],
                "source": ["zeek"] * n,
                "src_ip": ["10.0.0.5"] * n,
                "dst_ip": ["203.0.113.9"] * n,
                "dst_port": [443 + i for i in range(n)],
                "bytes_out": [1000 * i for i in range(n)],
            }
        ),
        "flow",
    )


def transactions(n: int = 4) -> pl.DataFrame:
    return conform(
        pl.DataFrame(
            {
                "event_id": [f"t{i}" for i in range(n)],
                "time": [T0 + dt.timedelta(minutes=i) for i in range(n)],
                "tenant": ["bank-a"] * n,
                "account": ["acc-1"] * n,
                "customer": ["c1"] * n,
                "amount": [10.0 * (i + 1) for i in range(n)],
                "currency": ["EUR"] * n,
                "ip": ["203.0.113.9"] * n,
            }
        ),
        "transaction",
    )


@pytest.fixture
def lake(tmp_path: Path) -> EventLake:
    return EventLake(tmp_path / "lake")


def parts(lake: EventLake) -> list[str]:
    return sorted(str(p.relative_to(lake.root)) for p in lake.root.rglob("*.parquet"))


def test_write_partitions_by_kind_tenant_and_day(lake: EventLake) -> None:
    assert lake.write(flows()) == 6
    folders = {str(Path(p).parent) for p in parts(lake)}
    assert folders == {
        "kind=flow/tenant=bank-a/day=2024-05-01",
        "kind=flow/tenant=bank-a/day=2024-05-02",
        "kind=flow/tenant=bank-b/day=2024-05-01",
        "kind=flow/tenant=bank-b/day=2024-05-02",
    }
    assert lake.count("flow") == 6
    assert lake.count("flow", "bank-a") == 4
    assert lake.count("flow", "bank-b") == 2
    assert lake.count("auth") == 0
    assert lake.kinds() == ["flow"]


def test_rewriting_a_batch_overwrites_instead_of_duplicating(lake: EventLake) -> None:
    lake.write(flows())
    first = parts(lake)
    lake.write(flows())
    lake.write(flows().reverse())  # same events, other order: same parts
    assert parts(lake) == first
    assert lake.count("flow") == 6
    assert lake.query("SELECT count(*) AS n FROM flow")["n"].item() == 6
    # a batch with other events gets other parts, even in the same partitions
    lake.write(flows(7).with_columns(event_id=pl.format("g{}", pl.col("event_id"))))
    assert lake.count("flow") == 13
    assert not list(lake.root.rglob("*.tmp"))


def test_round_trip_keeps_types_and_partition_columns(lake: EventLake) -> None:
    lake.write(flows())
    back = lake.query("SELECT * FROM flow ORDER BY event_id")
    assert back.columns[:5] == ["event_id", "time", "tenant", "source", "kind"]
    assert back.schema["time"] == pl.Datetime("us", "UTC")
    assert back.schema["dst_port"] == pl.Int32
    assert back.schema["day"] == pl.Date
    assert back["time"].to_list() == flows()["time"].to_list()
    assert back["kind"].unique().to_list() == ["flow"]
    assert back.filter(pl.col("event_id") == "f0")["tenant"].item() == "bank-b"


def test_query_joins_several_kinds(lake: EventLake) -> None:
    lake.write(flows())
    lake.write(transactions())
    joined = lake.query(
        """
        WITH hits AS (SELECT DISTINCT dst_ip FROM flow WHERE tenant = 'bank-a')
        SELECT t.event_id, t.amount FROM "transaction" AS t JOIN hits ON t.ip = hits.dst_ip
        ORDER BY t.amount
        """
    )
    assert joined["amount"].to_list() == [10.0, 20.0, 30.0, 40.0]
    assert lake.query("SELECT count(*) AS n FROM transactions")["n"].item() == 4
    assert lake.kinds() == ["flow", "transaction"]


def test_limit(lake: EventLake) -> None:
    lake.write(flows())
    assert lake.query("SELECT * FROM flow", limit=2).height == 2
    assert lake.query("SELECT * FROM flow", limit=None).height == 6


def test_empty_kinds_are_queryable_with_their_schema(lake: EventLake) -> None:
    for kind in ("transaction", "transactions", "flow", "auth", "winlog", "log"):
        result = lake.query(f'SELECT * FROM "{kind}"')
        assert result.height == 0
        assert result.columns[:5] == ["event_id", "time", "tenant", "source", "kind"]
    assert lake.query('SELECT amount FROM "transaction"').schema["amount"] == pl.Float64


def test_open_kind_keeps_extra_columns(lake: EventLake) -> None:
    batch = pl.DataFrame(
        {
            "event_id": ["w1", "w2"],
            "time": [T0, T0],
            "tenant": ["bank-a", "bank-a"],
            "EventID": [4688, 1],
            "OriginalFileName": ["evil.exe", None],
        }
    ).with_columns(kind=pl.lit("winlog"))
    lake.write(batch)
    assert lake.query("SELECT OriginalFileName FROM winlog WHERE EventID = 4688").item() == (
        "evil.exe"
    )


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE x AS SELECT * FROM flow",
        "INSERT INTO flow SELECT * FROM flow",
        "COPY (SELECT * FROM flow) TO '/tmp/mamori-leak.csv'",
        "ATTACH '/tmp/mamori-other.db' AS other",
        "DROP VIEW flow",
        "SET enable_external_access = true",
        "PRAGMA database_list",
        "INSTALL httpfs",
        "SELECT 1; SELECT 2",
        "SELECT 1; DROP VIEW flow",
        "",
    ],
)
def test_refuses_anything_but_one_select(lake: EventLake, sql: str) -> None:
    with pytest.raises(QueryError):
        lake.query(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM read_parquet('{root}/../outside.parquet')",
    ],
)
def test_refuses_files_outside_the_lake(lake: EventLake, sql: str) -> None:
    outside = lake.root.parent / "outside.parquet"
    flows().write_parquet(outside)
    with pytest.raises(QueryError, match="(?i)permission|access"):
        lake.query(sql.format(root=lake.root))


def test_bad_sql_is_a_query_error(lake: EventLake) -> None:
    with pytest.raises(QueryError, match="parse"):
        lake.query("SELEC * FROM flow")
    with pytest.raises(QueryError, match="failed"):
        lake.query("SELECT no_such_column FROM flow")


def test_write_rejects_bad_batches(lake: EventLake) -> None:
    with pytest.raises(ValueError, match="kind"):
        lake.write(pl.concat([flows(1), transactions(1)], how="diagonal"))
    with pytest.raises(ValueError, match="tenant name"):
        lake.write(flows(2, tenant_of=lambda i: "../escape"))
    assert parts(lake) == []
    assert lake.write(flows(0)) == 0
