"""Case work on incidents: status, assignee, release to the sector, and comments.

Incidents are derived: the engine regroups a tenant's alerts and replaces its incident list
as alerts arrive. What people decide about an incident is kept apart, keyed by tenant and
incident id, so a regrouping never undoes it (an incident's id comes from its tenant and
first alert, so it survives the incident growing). The case's status, where set, overrides
the engine's "open".

>>> import tempfile, sqlalchemy as sa
>>> from mamori.store.migrations import upgrade
>>> engine = sa.create_engine(f"sqlite:///{tempfile.mkdtemp()}/c.db"); _ = upgrade(engine)
>>> book = CaseBook(engine)
>>> book.update("bank-a", "i1", "aiko", status="investigating", assignee="ken")["status"]
'investigating'
>>> book.cases("bank-b", ["i1"])
{}
>>> _ = book.comment("bank-a", "i1", "aiko", "Called the branch.")
>>> [c["body"] for c in book.comments("bank-a", "i1")], book.comments("bank-b", "i1")
(['Called the branch.'], [])
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

__all__ = ["STATUSES", "CaseBook"]

#: The statuses a person can give an incident.
STATUSES = ("open", "investigating", "contained", "resolved", "false_positive")

CASE_METADATA = sa.MetaData()
_TIME = sa.DateTime(timezone=True)

CASES_TABLE = sa.Table(
    "incident_cases",
    CASE_METADATA,
    sa.Column("tenant", sa.String(), primary_key=True),
    sa.Column("incident_id", sa.String(), primary_key=True),
    sa.Column("status", sa.String()),
    sa.Column("assignee", sa.String()),
    sa.Column("released", sa.Boolean(), nullable=False),
    sa.Column("updated_at", _TIME, nullable=False),
    sa.Column("updated_by", sa.String(), nullable=False),
)

COMMENTS_TABLE = sa.Table(
    "incident_comments",
    CASE_METADATA,
    sa.Column("comment_id", sa.String(), primary_key=True),
    sa.Column("tenant", sa.String(), nullable=False),
    sa.Column("incident_id", sa.String(), nullable=False),
    sa.Column("author", sa.String(), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("created_at", _TIME, nullable=False),
)

_UNSET: Any = object()


class CaseBook:
    """Cases and comments in the operational database, always read and written per tenant.

    `on_change(tenant)` is called after a case of the tenant changed.
    """

    def __init__(
        self, engine: sa.Engine, on_change: Callable[[str], None] | None = None
    ) -> None:
        self._engine = engine
        self._on_change = on_change

    def cases(self, tenant: str, incident_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The tenant's cases of these incidents, by incident id (absent: never touched)."""
        if not incident_ids:
            return {}
        query = sa.select(CASES_TABLE).where(
            CASES_TABLE.c.tenant == tenant, CASES_TABLE.c.incident_id.in_(list(incident_ids))
        )
        with self._engine.connect() as connection:
            return {r["incident_id"]: dict(r) for r in connection.execute(query).mappings()}

    def released(self) -> list[tuple[str, str]]:
        """(tenant, incident id) of every incident released to the sector."""
        query = sa.select(CASES_TABLE.c.tenant, CASES_TABLE.c.incident_id).where(
            CASES_TABLE.c.released.is_(True)
        )
        with self._engine.connect() as connection:
            return [(r[0], r[1]) for r in connection.execute(query)]

    def update(
        self,
        tenant: str,
        incident_id: str,
        by: str,
        *,
        status: str | None = _UNSET,
        assignee: str | None = _UNSET,
        released: bool = _UNSET,
    ) -> dict[str, Any]:
        """Change a case (only the fields given); return it."""
        if status is not _UNSET and status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        key = (CASES_TABLE.c.tenant == tenant, CASES_TABLE.c.incident_id == incident_id)
        with self._engine.begin() as connection:
            row = connection.execute(sa.select(CASES_TABLE).where(*key)).mappings().first()
            case = (
                dict(row)
                if row
                else {"tenant": tenant, "incident_id": incident_id, "status": None,
                      "assignee": None, "released": False}
            )
            for name, value in (("status", status), ("assignee", assignee), ("released", released)):
                if value is not _UNSET:
                    case[name] = value
            case.update(updated_at=_now(), updated_by=by)
            if row:
                connection.execute(CASES_TABLE.update().where(*key).values(case))
            else:
                connection.execute(CASES_TABLE.insert(), case)
        if self._on_change is not None:
            self._on_change(tenant)
        return case

    def comment(self, tenant: str, incident_id: str, author: str, body: str) -> dict[str, Any]:
        """Add a comment to an incident's case; return it."""
        row = {
            "comment_id": secrets.token_hex(8),
            "tenant": tenant,
            "incident_id": incident_id,
            "author": author,
            "body": body,
            "created_at": _now(),
        }
        with self._engine.begin() as connection:
            connection.execute(COMMENTS_TABLE.insert(), row)
        return row

    def comments(self, tenant: str, incident_id: str) -> list[dict[str, Any]]:
        """An incident's comments, oldest first."""
        query = (
            sa.select(COMMENTS_TABLE)
            .where(COMMENTS_TABLE.c.tenant == tenant, COMMENTS_TABLE.c.incident_id == incident_id)
            .order_by(COMMENTS_TABLE.c.created_at, COMMENTS_TABLE.c.comment_id)
        )
        with self._engine.connect() as connection:
            return [dict(r) for r in connection.execute(query).mappings()]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
