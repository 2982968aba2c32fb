"""The audit chain over HTTP, for auditors and admins (``read_audit``).

``GET /v1/audit`` lists the caller's tenant's records, newest first, ``limit`` at a time;
``kind``, ``actor``, ``since`` and ``until`` (ISO-8601; without an offset, UTC) filter
them. The answer's ``next_before`` is the ``before`` of the next (older) page, null on the
last one. Each record carries its body decoded and its chain fields (``seq``,
``prev_hash``, ``hash``).

``GET /v1/audit/verify`` walks the **whole chain**: there is one chain for the whole
server, record ``n`` hashing record ``n-1`` whichever tenant that was, so a tenant's own
records cannot be checked alone (their links run through other tenants' records). The
answer says whether the chain is whole and, when it is not, the sequence number of the
first record that does not check out, why (removed, reordered or changed; the reason names
sequence numbers only) and whether that record is the caller's tenant's. It gives nothing
else of other tenants' records: no bodies, actors, kinds, hashes (not the head either;
operators keep the head with ``mamori audit verify``) or counts of theirs; ``records`` is
how many of the caller's tenant's records lie in the part of the chain that checked out.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query

from mamori.api.actions import ResponseContext, response_context
from mamori.api.responses import OrjsonResponse
from mamori.api.security import require
from mamori.api.services import Services, services
from mamori.govern.identity import Principal
from mamori.govern.tables import AUDIT_TABLE

__all__ = ["router"]

router = APIRouter(prefix="/v1/audit", tags=["audit"])

Auditor = Annotated[Principal, Depends(require("read_audit"))]


def _stamp(moment: dt.datetime) -> str:
    """A time as the chain writes ``recorded_at`` (UTC ISO-8601), so strings compare as
    times."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(dt.UTC).isoformat()


def _record(row: Any) -> dict[str, Any]:
    record = dict(row)
    record["body"] = json.loads(record["body"])
    return record


@router.get("")
def list_records(
    who: Auditor,
    found: Annotated[Services, Depends(services)],
    _chain: Annotated[ResponseContext, Depends(response_context)],  # creates the table
    kind: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="Older seqs")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> OrjsonResponse:
    """The tenant's audit records, newest first, filtered and paged (see the module)."""
    table = AUDIT_TABLE
    query = sa.select(table).where(table.c.tenant == who.tenant)
    if kind is not None:
        query = query.where(table.c.kind == kind)
    if actor is not None:
        query = query.where(table.c.actor == actor)
    if since is not None:
        query = query.where(table.c.recorded_at >= _stamp(since))
    if until is not None:
        query = query.where(table.c.recorded_at < _stamp(until))
    if before is not None:
        query = query.where(table.c.seq < before)
    query = query.order_by(table.c.seq.desc()).limit(limit + 1)
    with found.engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    records = [_record(r) for r in rows[:limit]]
    more = len(rows) > limit
    return OrjsonResponse(
        {
            "records": records,
            "count": len(records),
            "next_before": records[-1]["seq"] if more else None,
        }
    )


@router.get("/verify")
def verify_chain(
    who: Auditor,
    found: Annotated[Services, Depends(services)],
    context: Annotated[ResponseContext, Depends(response_context)],
) -> OrjsonResponse:
    """Walk the whole chain; answer whether it is whole and where it first breaks, without
    other tenants' records (see the module)."""
    report = context.audit.verify()
    table = AUDIT_TABLE
    mine = sa.select(sa.func.count()).where(table.c.tenant == who.tenant)
    if report.first_bad is not None:
        mine = mine.where(table.c.seq < report.first_bad)
    owner = sa.select(table.c.tenant).where(table.c.seq == report.first_bad)
    with found.engine.connect() as connection:
        records = int(connection.execute(mine).scalar_one())
        bad_owner = None if report.ok else connection.execute(owner).scalar()
    return OrjsonResponse(
        {
            "ok": report.ok,
            "scope": "whole chain",
            "records": records,
            "first_bad": report.first_bad,
            "first_bad_is_yours": None if report.ok else bad_owner == who.tenant,
            "reason": report.reason,
        }
    )
