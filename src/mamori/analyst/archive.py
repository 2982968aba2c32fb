"""Stored triages: every triage the gateway accepted (or fell back to), for the report and
the console to show with its citations and who wrote it.

One row per triage in the ``triages`` table (created by Alembic revision ``0004`` in the
operational store's database): tenant, incident, time, the provider and model that wrote it
(``offline`` after a fallback, with the provider that was asked and why it failed), verdict,
severity, confidence, the full validated triage as JSON in its local form (redaction tokens
restored), and the sequence number of the ``triage_decision`` record that closes the
exchange in the audit chain, so a reader can walk from the triage to every request and
response behind it. Reads are always scoped to one tenant.

>>> import tempfile
>>> from mamori.analyst.schema import Triage
>>> archive = TriageArchive(f"sqlite:///{tempfile.mkdtemp()}/m.db")
>>> triage = Triage.model_validate({"summary": "Card testing", "summary_citations": ["a1"],
...     "verdict": "malicious", "severity": "high", "confidence": 0.8})
>>> _ = archive.save("bank-a", "inc-1", triage, provider="offline", model=None,
...                  requested_provider="frontier", fallback_reason="timeout",
...                  actor="aoki", role="analyst", audit_seq=7)
>>> stored = archive.latest("bank-a", "inc-1")
>>> stored.view()["writer"], stored.view()["claims"][0]["citations"]
('offline analyst (fallback)', ['a1'])
>>> archive.latest("bank-b", "inc-1") is None
True
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from mamori.analyst.schema import Triage
from mamori.store.migrations import upgrade

__all__ = [
    "TRIAGES_METADATA",
    "TRIAGES_TABLE",
    "StoredTriage",
    "TriageArchive",
    "latest_views",
    "writer_label",
]

TRIAGES_METADATA = sa.MetaData()

TRIAGES_TABLE = sa.Table(
    "triages",
    TRIAGES_METADATA,
    sa.Column("triage_id", sa.String(), primary_key=True),
    sa.Column("tenant", sa.String(), nullable=False),
    sa.Column("incident_id", sa.String(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("provider", sa.String(), nullable=False),  # who wrote it: "offline" after fallback
    sa.Column("model", sa.String()),
    sa.Column("requested_provider", sa.String(), nullable=False),
    sa.Column("fell_back", sa.Boolean(), nullable=False),
    sa.Column("fallback_reason", sa.Text()),
    sa.Column("verdict", sa.String(), nullable=False),
    sa.Column("severity", sa.String(), nullable=False),
    sa.Column("confidence", sa.Float(), nullable=False),
    sa.Column("triage", sa.Text(), nullable=False),  # the validated Triage, tokens restored
    sa.Column("consistency", sa.Text()),
    sa.Column("actor", sa.String(), nullable=False),
    sa.Column("role", sa.String(), nullable=False),
    sa.Column("audit_seq", sa.BigInteger(), nullable=False),  # its triage_decision record
    sa.Index("ix_triages_tenant_incident", "tenant", "incident_id", "created_at"),
)

#: The offline analyst's provider name (as `mamori.analyst.gateway.OFFLINE`).
_OFFLINE = "offline"


def writer_label(provider: str, model: str | None, fell_back: bool) -> str:
    """Who wrote a triage, in words.

    >>> writer_label("frontier", "gpt-x", False), writer_label("offline", None, True)
    ('frontier (gpt-x)', 'offline analyst (fallback)')
    """
    if provider == _OFFLINE:
        return "offline analyst (fallback)" if fell_back else "offline analyst"
    return f"{provider} ({model})" if model else provider


@dataclass(frozen=True)
class StoredTriage:
    """One stored triage and how it came about."""

    triage_id: str
    tenant: str
    incident_id: str
    created_at: dt.datetime
    provider: str
    model: str | None
    requested_provider: str
    fell_back: bool
    fallback_reason: str | None
    consistency: str | None
    actor: str
    role: str
    audit_seq: int
    triage: Triage

    def claims(self) -> list[dict[str, Any]]:
        """Every factual claim in reading order: what kind, its text, the ids it cites."""
        t = self.triage
        found = [("summary", t.summary, t.summary_citations)]
        found += [
            ("technique", f"{x.technique_id} {x.name}".strip(), x.citations) for x in t.techniques
        ]
        found += [
            ("entity", f"{x.entity} ({x.role})" if x.role else x.entity, x.citations)
            for x in t.affected_entities
        ]
        found += [("timeline", f"{x.time} {x.what}", x.citations) for x in t.timeline]
        found += [
            ("action", f"{x.action} on {x.target}: {x.reason}", x.citations)
            for x in t.recommended_actions
        ]
        return [{"kind": k, "text": text, "citations": list(cited)} for k, text, cited in found]

    def view(self) -> dict[str, Any]:
        """What the report and the console show: the triage's fields, its claims, who wrote
        it and how (plain values; the templates escape them)."""
        return {
            **self.triage.model_dump(mode="json"),
            "triage_id": self.triage_id,
            "incident_id": self.incident_id,
            "created_at": self.created_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
            "provider": self.provider,
            "model": self.model,
            "requested_provider": self.requested_provider,
            "fell_back": self.fell_back,
            "fallback_reason": self.fallback_reason,
            "consistency": self.consistency,
            "writer": writer_label(self.provider, self.model, self.fell_back),
            "audit_seq": self.audit_seq,
            "claims": self.claims(),
        }


class TriageArchive:
    """The ``triages`` table of an operational database (SQLite or PostgreSQL)."""

    def __init__(self, url: str) -> None:
        self._engine = sa.create_engine(url)
        upgrade(self._engine)  # Alembic: the table comes with revision 0004

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def save(
        self,
        tenant: str,
        incident_id: str,
        triage: Triage,
        *,
        provider: str,
        model: str | None,
        requested_provider: str,
        actor: str,
        role: str,
        audit_seq: int,
        fallback_reason: str | None = None,
        consistency: str | None = None,
    ) -> str:
        """Store one triage; return its id."""
        triage_id = uuid.uuid4().hex
        row = {
            "triage_id": triage_id,
            "tenant": tenant,
            "incident_id": incident_id,
            "created_at": dt.datetime.now(dt.UTC),
            "provider": provider,
            "model": model,
            "requested_provider": requested_provider,
            "fell_back": fallback_reason is not None,
            "fallback_reason": fallback_reason,
            "verdict": triage.verdict,
            "severity": triage.severity,
            "confidence": triage.confidence,
            "triage": triage.model_dump_json(),
            "consistency": consistency,
            "actor": actor,
            "role": role,
            "audit_seq": audit_seq,
        }
        with self._engine.begin() as connection:
            connection.execute(TRIAGES_TABLE.insert(), row)
        return triage_id

    def latest(self, tenant: str, incident_id: str) -> StoredTriage | None:
        """The newest triage of one of the tenant's incidents (None: never triaged)."""
        found = self.latest_by_incident(tenant, [incident_id])
        return found.get(incident_id)

    def latest_by_incident(
        self, tenant: str, incident_ids: Iterable[str] | None = None
    ) -> dict[str, StoredTriage]:
        """The newest triage of each of the tenant's incidents (all, or those named)."""
        table = TRIAGES_TABLE
        newest = sa.select(
            table,
            sa.func.row_number()
            .over(
                partition_by=table.c.incident_id,
                order_by=(table.c.created_at.desc(), table.c.audit_seq.desc()),
            )
            .label("rank"),
        ).where(table.c.tenant == tenant)
        if incident_ids is not None:
            newest = newest.where(table.c.incident_id.in_(list(incident_ids)))
        ranked = newest.subquery()
        query = sa.select(*(ranked.c[c.name] for c in table.columns)).where(ranked.c.rank == 1)
        with self._engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return {row["incident_id"]: _stored(row) for row in rows}


def latest_views(url: str, tenants: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The latest triage of every incident of these tenants, by incident id, as the report
    shows it (`StoredTriage.view`)."""
    archive = TriageArchive(url)
    try:
        return {
            incident_id: stored.view()
            for tenant in tenants
            for incident_id, stored in archive.latest_by_incident(tenant).items()
        }
    finally:
        archive.close()


def _stored(row: Any) -> StoredTriage:
    values = {k: v for k, v in row.items() if k not in ("verdict", "severity", "confidence")}
    values["triage"] = Triage.model_validate_json(values["triage"])
    moment = values["created_at"]
    values["created_at"] = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment
    values["audit_seq"] = int(values["audit_seq"])
    return StoredTriage(**values)
