"""The fraud decision log: every scored payment with its inputs, features and model version.

One row per decision in ``fraud_decisions`` (Alembic revision 0006): the transaction as
received, the feature vector the model saw, the model and rule-set versions, and the
decision as answered. That is what a replay needs (`mamori.detect.fraud.serving`) and what
an analyst reads when a customer asks why a payment was declined.

Writes are *write-behind*: `append` puts rows in memory and a writer thread commits
whatever has gathered in one transaction, at once when it is idle and every few
milliseconds under load, so a scoring request never waits for a commit. Rows waiting are
visible to `get` and `find_event` at once. `close()` commits everything still waiting, so
a clean shutdown loses nothing; a crash (SIGKILL, power) loses what was not yet committed,
at most the last few milliseconds of decisions (see docs/fraud.md, "Serving").

>>> import tempfile, sqlalchemy as sa
>>> from mamori.store.migrations import upgrade
>>> engine = sa.create_engine(f"sqlite:///{tempfile.mkdtemp()}/d.db"); _ = upgrade(engine)
>>> log = DecisionLog(engine)
>>> log.append([{"decision_id": "fd-1", "tenant": "bank-a", "event_id": "tx-1",
...     "time_us": 1, "scored_at_us": 2, "decision": "approve", "score": 0.1,
...     "model_version": "rules-only", "rules_version": "r1", "late": False,
...     "tx": "{}", "features": "[]", "result": '{"decision": "approve"}'}])
>>> log.close()
>>> log.get("bank-a", "fd-1")["decision"], log.get("bank-b", "fd-1")
('approve', None)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["DECISIONS_TABLE", "LABELS_TABLE", "DecisionLog"]

log = logging.getLogger("mamori.fraud.decisions")

DECISIONS_TABLE = sa.Table(
    "fraud_decisions",
    sa.MetaData(),
    sa.Column("decision_id", sa.String(), primary_key=True),
    sa.Column("tenant", sa.String(), nullable=False),
    sa.Column("event_id", sa.String(), nullable=False),
    sa.Column("time_us", sa.BigInteger(), nullable=False),  # the payment's time
    sa.Column("scored_at_us", sa.BigInteger(), nullable=False),
    sa.Column("decision", sa.String(), nullable=False),
    sa.Column("score", sa.Float(), nullable=False),
    sa.Column("model_version", sa.String(), nullable=False),  # "rules-only" without a model
    sa.Column("rules_version", sa.String(), nullable=False),
    sa.Column("late", sa.Boolean(), nullable=False),
    sa.Column("tx", sa.Text(), nullable=False),  # the transaction as scored (JSON)
    sa.Column("features", sa.Text(), nullable=False),  # FEATURES values (JSON, NaN as null)
    sa.Column("result", sa.Text(), nullable=False),  # the decision as answered (JSON)
    sa.UniqueConstraint("tenant", "event_id", name="uq_fraud_decisions_event"),
    sa.Index("ix_fraud_decisions_tenant_time", "tenant", "time_us"),
)

#: Confirmed fraud labels as received (Alembic revision 0008), replayed on a restart.
LABELS_TABLE = sa.Table(
    "fraud_labels",
    sa.MetaData(),
    sa.Column("tenant", sa.String(), primary_key=True),
    sa.Column("event_id", sa.String(), primary_key=True),
    sa.Column("known_at_us", sa.BigInteger(), primary_key=True),  # when it counts from
    sa.Column("fraud", sa.Boolean(), nullable=False),
    sa.Column("received_at_us", sa.BigInteger(), nullable=False),
)

_FLUSH_EVERY_S = 0.005


class DecisionLog:
    """The ``fraud_decisions`` table behind a write-behind queue (see the module text)."""

    def __init__(self, engine: sa.Engine, flush_every_s: float = _FLUSH_EVERY_S) -> None:
        self.engine = engine
        self.flush_every_s = flush_every_s
        self._waiting: dict[str, dict[str, Any]] = {}  # decision_id -> row, not yet committed
        self._wake = threading.Condition()
        self._closing = False
        self._insert = _insert_ignoring_duplicates(engine)
        self._writer = threading.Thread(target=self._write_loop, name="fraud-decisions",
                                        daemon=True)
        self._writer.start()

    # --- writing -------------------------------------------------------------------------

    def append(self, rows: list[dict[str, Any]]) -> None:
        """Queue decision rows (the table's columns) for the writer; visible at once."""
        with self._wake:
            if self._closing:
                raise RuntimeError("the decision log is closed")
            for row in rows:
                self._waiting[row["decision_id"]] = row
            self._wake.notify()

    def _write_loop(self) -> None:
        while True:
            with self._wake:
                while not self._waiting and not self._closing:
                    self._wake.wait()
                if not self._waiting and self._closing:
                    return
                batch = list(self._waiting.values())
            try:
                with self.engine.begin() as connection:
                    connection.execute(self._insert, batch)
            except sa.exc.SQLAlchemyError:
                log.exception("could not store %d fraud decisions; retrying", len(batch))
                threading.Event().wait(0.5)
                continue
            with self._wake:
                for row in batch:
                    if self._waiting.get(row["decision_id"]) is row:
                        del self._waiting[row["decision_id"]]
            threading.Event().wait(self.flush_every_s)  # let the next rows gather

    def waiting(self) -> int:
        """Decisions not yet committed."""
        with self._wake:
            return len(self._waiting)

    def close(self) -> None:
        """Commit everything waiting and stop the writer."""
        with self._wake:
            self._closing = True
            self._wake.notify()
        self._writer.join()

    # --- reading -------------------------------------------------------------------------

    def get(self, tenant: str, decision_id: str) -> dict[str, Any] | None:
        """A decision row of `tenant` by id (None if there is none, or it is another's)."""
        with self._wake:
            row = self._waiting.get(decision_id)
        if row is not None:
            return row if row["tenant"] == tenant else None
        t = DECISIONS_TABLE
        query = sa.select(t).where(t.c.tenant == tenant, t.c.decision_id == decision_id)
        with self.engine.connect() as connection:
            found = connection.execute(query).mappings().first()
        return dict(found) if found else None

    def find_event(self, tenant: str, event_id: str) -> dict[str, Any] | None:
        """`tenant`'s decision on the payment `event_id`, if it was scored."""
        with self._wake:
            for row in self._waiting.values():
                if row["tenant"] == tenant and row["event_id"] == event_id:
                    return row
        t = DECISIONS_TABLE
        query = sa.select(t).where(t.c.tenant == tenant, t.c.event_id == event_id)
        with self.engine.connect() as connection:
            found = connection.execute(query).mappings().first()
        return dict(found) if found else None

    def tenants(self) -> list[str]:
        """Tenants with stored decisions."""
        query = sa.select(DECISIONS_TABLE.c.tenant).distinct()
        with self.engine.connect() as connection:
            return sorted(connection.execute(query).scalars())

    def since(self, tenant: str, after_us: int) -> Iterator[tuple[str, str, int, str]]:
        """``(decision_id, event_id, time_us, tx)`` of `tenant`'s decisions on payments after
        `after_us`, in payment time order (to rebuild a scorer's state)."""
        t = DECISIONS_TABLE
        query = (
            sa.select(t.c.decision_id, t.c.event_id, t.c.time_us, t.c.tx)
            .where(t.c.tenant == tenant, t.c.time_us > after_us)
            .order_by(t.c.time_us, t.c.scored_at_us)
        )
        with self.engine.connect() as connection:
            for decision_id, event_id, time_us, tx in connection.execute(query):
                yield decision_id, event_id, int(time_us), tx

    def add_labels(self, rows: list[dict[str, Any]]) -> None:
        """Store label rows (the ``fraud_labels`` columns) at once; a label already stored
        (same tenant, payment and `known_at`) is kept as it was. Labels are few next to
        payments, so they are committed before the request answers."""
        if rows:
            with self.engine.begin() as connection:
                connection.execute(_insert_ignoring_duplicates(self.engine, LABELS_TABLE), rows)

    def labels(self, tenant: str) -> list[tuple[str, int, bool]]:
        """``(event_id, known_at_us, fraud)`` of `tenant`'s stored labels."""
        t = LABELS_TABLE
        query = sa.select(t.c.event_id, t.c.known_at_us, t.c.fraud).where(t.c.tenant == tenant)
        with self.engine.connect() as connection:
            return [(e, int(k), bool(f)) for e, k, f in connection.execute(query)]

    def latest_time(self, tenant: str) -> int | None:
        """The time of `tenant`'s latest stored payment (µs), if any."""
        t = DECISIONS_TABLE
        query = sa.select(sa.func.max(t.c.time_us)).where(t.c.tenant == tenant)
        with self.engine.connect() as connection:
            found = connection.execute(query).scalar()
        return None if found is None else int(found)


def _insert_ignoring_duplicates(engine: sa.Engine, table: sa.Table = DECISIONS_TABLE
                                ) -> sa.Insert:
    """An insert that skips a row already stored (two servers scoring one payment)."""
    if engine.dialect.name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return table.insert()
