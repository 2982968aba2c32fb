"""The operational store: alerts, incidents and runs in SQL, through SQLAlchemy Core.

SQLite is the embedded default (``sqlite:///data/mamori.db``) and PostgreSQL the production
store (``postgresql+psycopg://user@host/db``); the same code runs on both. The only place
that knows the dialect is `_insert_ignoring_duplicates`, which needs each dialect's
``INSERT … ON CONFLICT DO NOTHING``.

Callers see Polars frames, dicts and plain values, never SQLAlchemy. Every row carries its
`tenant` and every read takes the tenant to filter on; passing ``tenant=None`` is an
explicit sector-wide (admin) read. Lists (`related`, `attack`, `event_ids`, an incident's
`stages` …) are stored as JSON text, times as timezone-aware UTC, and both come back in
their Polars types (``List(String)``, ``Datetime("us", "UTC")``).

>>> import tempfile, datetime as dt
>>> store = OperationalStore(f"sqlite:///{tempfile.mkdtemp()}/mamori.db")
>>> alerts = conform_alerts(pl.DataFrame({"alert_id": ["a1"], "tenant": ["bank-a"],
...     "time": [dt.datetime(2024, 5, 1, 9, tzinfo=dt.UTC)], "detector": ["sigma"],
...     "rule_id": ["r1"], "severity": ["high"], "score": [0.9], "attack": [["T1059"]]}))
>>> store.add_alerts(alerts), store.add_alerts(alerts)
(1, 0)
>>> store.alerts("bank-a")["attack"].to_list(), store.alerts("bank-b").height
([['T1059']], 0)
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa

from mamori.events.schema import ALERT, INCIDENT, INCIDENT_LINK, conform_alerts
from mamori.store.migrations import upgrade as upgrade_schema

__all__ = ["RUN_COUNTS", "OperationalStore", "conform_incidents"]

#: The counts `finish_run` accepts.
RUN_COUNTS = ("events_read", "events_accepted", "events_quarantined", "alerts", "incidents")

#: Rows per INSERT batch; SQLAlchemy further pages each batch into multi-row VALUES.
_CHUNK = 5000
#: Ids per IN (...) list, well under every dialect's parameter limit.
_IN_CHUNK = 1000

_UTC_TIME = sa.DateTime(timezone=True)

METADATA = sa.MetaData()

ALERTS_TABLE = sa.Table(
    "alerts",
    METADATA,
    sa.Column("alert_id", sa.String(), primary_key=True),
    sa.Column("time", _UTC_TIME, nullable=False),
    sa.Column("tenant", sa.String(), nullable=False),
    sa.Column("detector", sa.String(), nullable=False),
    sa.Column("rule_id", sa.String(), nullable=False),
    sa.Column("title", sa.Text()),
    sa.Column("severity", sa.String()),
    sa.Column("score", sa.Float()),
    sa.Column("entity_type", sa.String()),
    sa.Column("entity_id", sa.String()),
    sa.Column("related", sa.Text()),  # JSON list of "type:id"
    sa.Column("stage", sa.String()),
    sa.Column("attack", sa.Text()),  # JSON list of ATT&CK ids
    sa.Column("event_ids", sa.Text()),  # JSON list
    sa.Column("explanation", sa.Text()),
    sa.Index("ix_alerts_tenant_time", "tenant", "time"),
)

INCIDENTS_TABLE = sa.Table(
    "incidents",
    METADATA,
    sa.Column("incident_id", sa.String(), primary_key=True),
    sa.Column("tenant", sa.String(), nullable=False),
    sa.Column("first_seen", _UTC_TIME, nullable=False),
    sa.Column("last_seen", _UTC_TIME, nullable=False),
    sa.Column("raised_at", _UTC_TIME),
    sa.Column("title", sa.Text()),
    sa.Column("risk", sa.Integer(), nullable=False),
    sa.Column("level", sa.Integer(), nullable=False),
    sa.Column("status", sa.String(), nullable=False, server_default="open"),
    sa.Column("stages", sa.Text()),
    sa.Column("entities", sa.Text()),
    sa.Column("reasons", sa.Text()),
    sa.Column("alert_count", sa.Integer(), nullable=False),
    sa.Column("detectors", sa.Text()),
    sa.Column("updated_at", _UTC_TIME, nullable=False),
    sa.Index("ix_incidents_tenant_risk", "tenant", "risk"),
)

INCIDENT_ALERTS_TABLE = sa.Table(
    "incident_alerts",
    METADATA,
    sa.Column("incident_id", sa.String(), primary_key=True),
    sa.Column("alert_id", sa.String(), primary_key=True),
    sa.Column("tenant", sa.String(), nullable=False),
    sa.Index("ix_incident_alerts_alert", "alert_id"),
)

RUNS_TABLE = sa.Table(
    "runs",
    METADATA,
    sa.Column("run_id", sa.String(), primary_key=True),
    sa.Column("started_at", _UTC_TIME, nullable=False),
    sa.Column("finished_at", _UTC_TIME),
    sa.Column("command", sa.String(), nullable=False),
    sa.Column("inputs", sa.Text()),  # JSON
    *(sa.Column(name, sa.Integer()) for name in RUN_COUNTS),
    sa.Column("status", sa.String(), nullable=False),
)

_ALERT_LISTS = ("related", "attack", "event_ids")
_INCIDENT_LISTS = ("stages", "entities", "reasons", "detectors")


#: The embedded store's file in a data folder, when no database URL is given.
STORE_FILE = "mamori.db"


def data_dir_url(data_dir: Path | str) -> str:
    """The SQLAlchemy URL of the embedded (SQLite) store in a data folder.

    >>> data_dir_url("data")
    'sqlite:///data/mamori.db'
    """
    return f"sqlite:///{Path(data_dir) / STORE_FILE}"


class OperationalStore:
    """Alerts, incidents and runs in a SQL database (SQLite or PostgreSQL).

    Parameters
    ----------
    url:
        A SQLAlchemy database URL, e.g. ``sqlite:///data/mamori.db`` or
        ``postgresql+psycopg://mamori@db/mamori``. The schema is created or brought up to
        date by the Alembic migrations of `mamori.store.migrations`.
        An in-memory SQLite URL gives each pooled connection its own empty database, so use
        a file.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine = sa.create_engine(url)
        upgrade_schema(self._engine)  # Alembic: creates or upgrades every table

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def __enter__(self) -> OperationalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OperationalStore({self._engine.url.render_as_string(hide_password=True)!r})"

    # --- alerts -----------------------------------------------------------------------------

    def add_alerts(self, alerts: pl.DataFrame) -> int:
        """Store alerts; return how many were new.

        Alerts whose `alert_id` is already stored (or repeated within `alerts`) are skipped,
        so adding the same alerts twice stores them once. Each chunk first looks up which of
        its ids are stored and inserts only the others, with ``ON CONFLICT DO NOTHING`` so
        that a concurrent writer of the same alerts cannot cause an error or a duplicate
        (it can only make the returned count too high by the alerts both wrote at once).
        """
        if alerts.height == 0:
            return 0
        frame = conform_alerts(alerts).unique(subset="alert_id", keep="first", maintain_order=True)
        frame = frame.with_columns(_json_text(c) for c in _ALERT_LISTS)
        statement = self._insert_ignoring_duplicates(ALERTS_TABLE)
        inserted = 0
        with self._engine.begin() as connection:
            for chunk in frame.iter_slices(_CHUNK):
                stored = _stored_alert_ids(connection, chunk["alert_id"].to_list())
                new = chunk.filter(~pl.col("alert_id").is_in(stored)) if stored else chunk
                if new.height:
                    connection.execute(statement, new.to_dicts())
                    inserted += new.height
        return inserted

    def alerts(
        self,
        tenant: str | None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int | None = None,
        detector: str | None = None,
    ) -> pl.DataFrame:
        """A tenant's alerts in time order (ALERT schema).

        `since` is inclusive, `until` exclusive (naive datetimes are read as UTC); with
        `limit`, the latest `limit` alerts. ``tenant=None`` reads every tenant.
        """
        table = ALERTS_TABLE
        query = sa.select(table)
        if tenant is not None:
            query = query.where(table.c.tenant == tenant)
        if since is not None:
            query = query.where(table.c.time >= _utc(since))
        if until is not None:
            query = query.where(table.c.time < _utc(until))
        if detector is not None:
            query = query.where(table.c.detector == detector)
        if limit is not None:
            query = query.order_by(table.c.time.desc(), table.c.alert_id.desc()).limit(limit)
        with self._engine.connect() as connection:
            frame = _frame(connection.execute(query), ALERT, _ALERT_LISTS)
        return frame.sort(["time", "alert_id"])

    def alert_counts(self) -> dict[str, int]:
        """How many alerts each tenant has stored (to notice alerts other processes wrote)."""
        return self._rows_per_tenant(ALERTS_TABLE)

    def grouped_alert_counts(self) -> dict[str, int]:
        """How many of each tenant's alerts belong to an incident."""
        return self._rows_per_tenant(INCIDENT_ALERTS_TABLE)

    def _rows_per_tenant(self, table: sa.Table) -> dict[str, int]:
        query = sa.select(table.c.tenant, sa.func.count()).group_by(table.c.tenant)
        with self._engine.connect() as connection:
            return {tenant: int(n) for tenant, n in connection.execute(query)}

    # --- incidents --------------------------------------------------------------------------

    def upsert_incidents(self, incidents: pl.DataFrame, links: pl.DataFrame) -> None:
        """Store incidents and their alert links, replacing incidents with the same id.

        `incidents` has the `INCIDENT` columns (`status` defaults to "open", `updated_at` to
        now); `links` has `incident_id` and `alert_id`, and replaces every link of the
        incidents given. A link to an incident not in `incidents` is an error.
        """
        frame = conform_incidents(incidents)
        if frame.height == 0:
            return
        link_frame = _conform_links(links, frame)
        ids = frame["incident_id"].to_list()
        frame = frame.with_columns(_json_text(c) for c in _INCIDENT_LISTS)
        with self._engine.begin() as connection:
            for chunk in _batched(ids, _IN_CHUNK):
                connection.execute(
                    INCIDENT_ALERTS_TABLE.delete().where(
                        INCIDENT_ALERTS_TABLE.c.incident_id.in_(chunk)
                    )
                )
                connection.execute(
                    INCIDENTS_TABLE.delete().where(INCIDENTS_TABLE.c.incident_id.in_(chunk))
                )
            for rows in _chunks(frame):
                connection.execute(INCIDENTS_TABLE.insert(), rows)
            for rows in _chunks(link_frame):
                connection.execute(INCIDENT_ALERTS_TABLE.insert(), rows)

    def replace_incidents(self, tenant: str, incidents: pl.DataFrame, links: pl.DataFrame) -> None:
        """Make `incidents` the tenant's whole incident list (a regrouping of its alerts).

        Incidents of the tenant whose id is not in the new list are removed with their links;
        the rest are upserted as by `upsert_incidents`.
        """
        if incidents.height and set(incidents["tenant"].unique().to_list()) != {tenant}:
            raise ValueError(f"replace_incidents for {tenant!r} got incidents of other tenants")
        keep = incidents["incident_id"].to_list() if incidents.height else []
        inc, lnk = INCIDENTS_TABLE, INCIDENT_ALERTS_TABLE
        with self._engine.begin() as connection:
            stale = [
                r[0]
                for r in connection.execute(
                    sa.select(inc.c.incident_id).where(inc.c.tenant == tenant)
                )
                if r[0] not in set(keep)
            ]
            for chunk in _batched(stale, _IN_CHUNK):
                connection.execute(lnk.delete().where(lnk.c.incident_id.in_(chunk)))
                connection.execute(inc.delete().where(inc.c.incident_id.in_(chunk)))
        self.upsert_incidents(incidents, links)

    def incident_links(self, tenant: str) -> pl.DataFrame:
        """Which alerts make up which of the tenant's incidents (INCIDENT_LINK schema)."""
        table = INCIDENT_ALERTS_TABLE
        query = sa.select(table.c.incident_id, table.c.alert_id).where(table.c.tenant == tenant)
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        return pl.DataFrame(rows, schema=INCIDENT_LINK, orient="row")

    def incidents(
        self, tenant: str | None, min_level: int | None = None, limit: int | None = None
    ) -> pl.DataFrame:
        """A tenant's incidents, riskiest first, then most recent (INCIDENT schema)."""
        table = INCIDENTS_TABLE
        query = sa.select(table).order_by(
            table.c.risk.desc(), table.c.last_seen.desc(), table.c.incident_id
        )
        if tenant is not None:
            query = query.where(table.c.tenant == tenant)
        if min_level is not None:
            query = query.where(table.c.level >= min_level)
        if limit is not None:
            query = query.limit(limit)
        with self._engine.connect() as connection:
            return _frame(connection.execute(query), INCIDENT, _INCIDENT_LISTS)

    def incident(self, tenant: str | None, incident_id: str) -> dict[str, Any] | None:
        """One incident as a dict, with its alerts (a frame, time order) under "alerts".

        None if the incident does not exist or belongs to another tenant.
        """
        table = INCIDENTS_TABLE
        query = sa.select(table).where(table.c.incident_id == incident_id)
        if tenant is not None:
            query = query.where(table.c.tenant == tenant)
        links = INCIDENT_ALERTS_TABLE
        alerts_query = (
            sa.select(ALERTS_TABLE)
            .join(links, links.c.alert_id == ALERTS_TABLE.c.alert_id)
            .where(links.c.incident_id == incident_id)
            .order_by(ALERTS_TABLE.c.time, ALERTS_TABLE.c.alert_id)
        )
        with self._engine.connect() as connection:
            found = _frame(connection.execute(query), INCIDENT, _INCIDENT_LISTS)
            if found.height == 0:
                return None
            owner = found["tenant"][0]
            alerts_query = alerts_query.where(
                links.c.tenant == owner, ALERTS_TABLE.c.tenant == owner
            )
            alerts = _frame(connection.execute(alerts_query), ALERT, _ALERT_LISTS)
        record = found.row(0, named=True)
        record["alerts"] = alerts
        return record

    # --- runs -------------------------------------------------------------------------------

    def start_run(self, command: str, inputs: dict[str, Any] | Sequence[Any]) -> str:
        """Record the start of a run (`mamori run`, a worker's batch …); return its id."""
        run_id = uuid.uuid4().hex
        with self._engine.begin() as connection:
            connection.execute(
                RUNS_TABLE.insert(),
                {
                    "run_id": run_id,
                    "started_at": _now(),
                    "command": command,
                    "inputs": json.dumps(inputs, default=str, sort_keys=True),
                    "status": "running",
                },
            )
        return run_id

    def finish_run(self, run_id: str, status: str = "ok", **counts: int) -> None:
        """Record the end of a run with its counts (see `RUN_COUNTS`)."""
        unknown = sorted(set(counts) - set(RUN_COUNTS))
        if unknown:
            raise ValueError(f"unknown run counts {unknown}; known: {', '.join(RUN_COUNTS)}")
        with self._engine.begin() as connection:
            result = connection.execute(
                RUNS_TABLE.update()
                .where(RUNS_TABLE.c.run_id == run_id)
                .values(finished_at=_now(), status=status, **counts)
            )
            if result.rowcount == 0:
                raise KeyError(f"no run {run_id!r}")

    def runs(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Runs, newest first, as dicts (`inputs` decoded, times UTC)."""
        query = sa.select(RUNS_TABLE).order_by(RUNS_TABLE.c.started_at.desc(), RUNS_TABLE.c.run_id)
        if limit is not None:
            query = query.limit(limit)
        with self._engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        out = []
        for row in rows:
            run = dict(row)
            run["inputs"] = json.loads(run["inputs"]) if run["inputs"] is not None else None
            run["started_at"] = _as_utc(run["started_at"])
            run["finished_at"] = _as_utc(run["finished_at"])
            out.append(run)
        return out

    # --- tenants ----------------------------------------------------------------------------

    def tenants(self) -> list[str]:
        """Every tenant that has alerts or incidents, sorted."""
        query = sa.union(
            sa.select(ALERTS_TABLE.c.tenant).distinct(),
            sa.select(INCIDENTS_TABLE.c.tenant).distinct(),
        )
        with self._engine.connect() as connection:
            return sorted(row[0] for row in connection.execute(query))

    # --- dialect ----------------------------------------------------------------------------

    def _insert_ignoring_duplicates(self, table: sa.Table) -> Any:
        """``INSERT … ON CONFLICT DO NOTHING`` for this engine's dialect."""
        dialect = self._engine.dialect.name
        if dialect == "sqlite":
            from sqlalchemy.dialects import sqlite

            return sqlite.insert(table).on_conflict_do_nothing()
        if dialect == "postgresql":
            from sqlalchemy.dialects import postgresql

            return postgresql.insert(table).on_conflict_do_nothing()
        raise NotImplementedError(f"the operational store does not support {dialect!r}")


# --- frames in and out ----------------------------------------------------------------------


def conform_incidents(incidents: pl.DataFrame) -> pl.DataFrame:
    """Cast an incidents frame to `INCIDENT`, filling defaults and checking ranges."""
    missing = [
        c
        for c in ("incident_id", "tenant", "first_seen", "last_seen", "risk", "level")
        if c not in incidents.columns
    ]
    if missing:
        raise ValueError(f"incidents frame lacks required columns: {missing}")
    defaults: dict[str, pl.Expr] = {
        "status": pl.lit("open"),
        "alert_count": pl.lit(0),
        "updated_at": pl.lit(_now()),
    }
    columns = []
    for name, dtype in INCIDENT.items():
        value = pl.col(name) if name in incidents.columns else pl.lit(None)
        if name in defaults:
            value = value.fill_null(defaults[name])
        elif isinstance(dtype, pl.List):
            value = value.fill_null(pl.lit([], dtype))
        columns.append(value.cast(dtype).alias(name))
    frame = incidents.select(columns).unique("incident_id", keep="last", maintain_order=True)
    bad = frame.filter(~pl.col("risk").is_between(0, 100) | ~pl.col("level").is_between(1, 5))
    if bad.height:
        row = bad.row(0, named=True)
        raise ValueError(
            f"incident {row['incident_id']}: risk {row['risk']} (0-100) "
            f"or level {row['level']} (1-5) out of range"
        )
    return frame


def _conform_links(links: pl.DataFrame, incidents: pl.DataFrame) -> pl.DataFrame:
    """The links frame, deduplicated, with each link's tenant taken from its incident."""
    missing = [c for c in INCIDENT_LINK if c not in links.columns]
    if missing:
        raise ValueError(f"links frame lacks required columns: {missing}")
    frame = links.select(pl.col(c).cast(t) for c, t in INCIDENT_LINK.items()).unique()
    frame = frame.join(incidents.select("incident_id", "tenant"), on="incident_id", how="left")
    orphans = frame.filter(pl.col("tenant").is_null())
    if orphans.height:
        raise ValueError(
            f"link to incident {orphans['incident_id'][0]!r}, which is not in the incidents frame"
        )
    return frame


def _json_text(column: str) -> pl.Expr:
    """A list column as JSON text (null stays null), without a Python loop."""
    wrapped = pl.struct(pl.col(column)).struct.json_encode()  # {"column":[...]}
    prefix = len(json.dumps(column)) + 2  # the `{"column":` before the list
    body = wrapped.str.slice(prefix, wrapped.str.len_bytes() - prefix - 1)
    return pl.when(pl.col(column).is_null()).then(None).otherwise(body).alias(column)


def _frame(
    result: sa.CursorResult[Any], target: dict[str, pl.DataType], json_columns: Iterable[str]
) -> pl.DataFrame:
    """Build a frame of `target`'s schema from a query result (JSON lists decoded)."""
    names = list(result.keys())
    rows = result.fetchall()
    values: Iterable[Sequence[Any]] = zip(*rows, strict=True) if rows else [[] for _ in names]
    json_columns = set(json_columns)
    series = []
    for name, column in zip(names, values, strict=True):
        dtype = target[name]
        if name in json_columns:
            raw = pl.Series(name, column, dtype=pl.String())
            series.append(raw.str.json_decode(dtype))
        else:
            # Aware datetimes (PostgreSQL) are converted to UTC; naive ones (SQLite) were
            # written as UTC and are read as such.
            series.append(pl.Series(name, column, dtype=dtype))
    return pl.DataFrame(series).select(target.keys())


def _stored_alert_ids(connection: sa.Connection, alert_ids: list[str]) -> list[str]:
    """Which of `alert_ids` the alerts table already holds."""
    column = ALERTS_TABLE.c.alert_id
    stored: list[str] = []
    for batch in _batched(alert_ids, _IN_CHUNK):
        stored.extend(connection.execute(sa.select(column).where(column.in_(batch))).scalars())
    return stored


def _chunks(frame: pl.DataFrame) -> Iterator[list[dict[str, Any]]]:
    """A frame's rows as dicts, `_CHUNK` at a time."""
    for offset in range(0, frame.height, _CHUNK):
        yield frame.slice(offset, _CHUNK).to_dicts()


def _batched(items: list[str], size: int) -> Iterator[list[str]]:
    for offset in range(0, len(items), size):
        yield items[offset : offset + size]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(moment: dt.datetime) -> dt.datetime:
    """A query bound in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _as_utc(moment: dt.datetime | None) -> dt.datetime | None:
    """A stored time as an aware UTC datetime (SQLite returns it naive)."""
    return None if moment is None else _utc(moment)
