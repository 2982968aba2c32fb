"""The audit chain: append-only, hash-chained records of everything the AI analyst does.

Every provider request and response (in the redacted form that was sent), every tool call,
policy refusal and triage decision, and every step of a response action (proposed,
approved, rejected, executed, failed, undone, refused: kinds ``action_<step>``) is one
record with who (actor and role), when, which tenant, which provider and model. Record
``n`` stores the SHA-256 of record ``n-1``, and its own hash covers its sequence number,
every field and that previous hash, so changing, removing or reordering any record breaks
the chain at that record; `AuditLog.verify` walks the chain and names the first record
that does not check out.

The chain proves the log was not altered *after* the fact by someone who cannot recompute
every later hash; to guard against a full rewrite, keep the head hash (`ChainReport.head`)
somewhere the database's administrators cannot write, and compare.

>>> import tempfile
>>> log = AuditLog(f"sqlite:///{tempfile.mkdtemp()}/audit.db")
>>> _ = log.record("policy_refusal", tenant="bank-a", actor="aoki", role="viewer",
...                body={"reason": "tier C allows the offline analyst only"})
>>> _ = log.record("triage_decision", tenant="bank-a", actor="aoki", body={"verdict": "benign"})
>>> report = log.verify()
>>> report.ok, report.records
(True, 2)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from mamori.govern.tables import AUDIT_METADATA, AUDIT_TABLE

__all__ = [
    "ACTION_KINDS",
    "GENESIS",
    "KINDS",
    "LEGACY_KINDS",
    "AuditLog",
    "AuditRecord",
    "ChainReport",
]

#: The previous hash of the first record.
GENESIS = "0" * 64

#: The record kind of each step of a response action (`mamori.respond.desk`); the step is
#: also in the body. ``undone``: an undo was executed, reversing the action it names.
ACTION_KINDS: dict[str, str] = {
    step: f"action_{step}"
    for step in ("proposed", "approved", "rejected", "executed", "failed", "undone", "refused")
}

#: What can be recorded.
KINDS = frozenset(
    {
        "provider_request",
        "provider_response",
        "provider_failure",
        "tool_call",
        "policy_refusal",
        "triage_decision",
        *ACTION_KINDS.values(),
    }
)

#: Kinds that older chains hold and that are no longer written: ``approval`` was every step
#: of a response action before the ``action_*`` kinds. `AuditLog.verify` checks them as any
#: other record (the kind is hashed like every field).
LEGACY_KINDS = frozenset({"approval"})

_HASHED = (
    "seq",
    "recorded_at",
    "tenant",
    "actor",
    "role",
    "kind",
    "provider",
    "model",
    "subject",
    "body",
    "prev_hash",
)


@dataclass(frozen=True)
class AuditRecord:
    """One link of the chain; `body` is the canonical JSON text that was hashed."""

    seq: int
    recorded_at: str
    tenant: str
    actor: str
    role: str
    kind: str
    provider: str | None
    model: str | None
    subject: str | None
    body: str
    prev_hash: str
    hash: str

    def data(self) -> Any:
        """The body, decoded."""
        return json.loads(self.body)


@dataclass(frozen=True)
class ChainReport:
    """The result of walking the chain: `first_bad` is the sequence number of the first record
    that does not check out (None when the chain is whole)."""

    ok: bool
    records: int
    head: str
    first_bad: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "head": self.head,
            "first_bad": self.first_bad,
            "reason": self.reason,
        }


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no insignificant whitespace: the form that is hashed."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def chain_hash(fields: dict[str, Any]) -> str:
    """The SHA-256 of a record's hashed fields (see `_HASHED`)."""
    payload = canonical_json([fields[name] for name in _HASHED])
    return hashlib.sha256(payload.encode()).hexdigest()


class AuditLog:
    """The audit chain in a SQL database (SQLite or PostgreSQL), through SQLAlchemy Core.

    Appends are serialised by the sequence number, the table's primary key: two writers
    that race for the same number cannot both insert it, and the loser retries on the new
    head.
    """

    def __init__(self, url: str, retries: int = 20) -> None:
        self.url = url
        self._engine = sa.create_engine(url)
        self._retries = retries
        AUDIT_METADATA.create_all(self._engine)

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def record(
        self,
        kind: str,
        *,
        tenant: str,
        actor: str,
        body: Any,
        role: str = "system",
        provider: str | None = None,
        model: str | None = None,
        subject: str | None = None,
    ) -> AuditRecord:
        """Append one record and return it."""
        if kind not in KINDS:
            raise ValueError(f"unknown audit record kind {kind!r}; known: {sorted(KINDS)}")
        table = AUDIT_TABLE
        last_error: Exception | None = None
        for _ in range(self._retries):
            try:
                with self._engine.begin() as connection:
                    head = connection.execute(
                        sa.select(table.c.seq, table.c.hash).order_by(table.c.seq.desc()).limit(1)
                    ).first()
                    fields: dict[str, Any] = {
                        "seq": 1 if head is None else int(head[0]) + 1,
                        "recorded_at": dt.datetime.now(dt.UTC).isoformat(),
                        "tenant": tenant,
                        "actor": actor,
                        "role": role,
                        "kind": kind,
                        "provider": provider,
                        "model": model,
                        "subject": subject,
                        "body": canonical_json(body),
                        "prev_hash": GENESIS if head is None else head[1],
                    }
                    fields["hash"] = chain_hash(fields)
                    connection.execute(table.insert(), fields)
                return AuditRecord(**fields)
            except sa.exc.IntegrityError as err:  # another writer took this sequence number
                last_error = err
        raise RuntimeError(f"could not append to the audit chain: {last_error}")

    def records(
        self, tenant: str | None = None, kind: str | None = None, subject: str | None = None
    ) -> list[AuditRecord]:
        """Records in chain order, optionally of one tenant, kind or subject."""
        query = sa.select(AUDIT_TABLE).order_by(AUDIT_TABLE.c.seq)
        if tenant is not None:
            query = query.where(AUDIT_TABLE.c.tenant == tenant)
        if kind is not None:
            query = query.where(AUDIT_TABLE.c.kind == kind)
        if subject is not None:
            query = query.where(AUDIT_TABLE.c.subject == subject)
        with self._engine.connect() as connection:
            return [AuditRecord(**row) for row in connection.execute(query).mappings()]

    def verify(self) -> ChainReport:
        """Walk the whole chain; report the first record that was changed, removed or moved."""
        expected_seq, prev = 1, GENESIS
        count = 0
        query = sa.select(AUDIT_TABLE).order_by(AUDIT_TABLE.c.seq)
        with self._engine.connect() as connection:
            for row in connection.execute(query).mappings():
                fields = dict(row)
                seq = int(fields["seq"])
                problem = None
                if seq != expected_seq:
                    problem = f"record {expected_seq} is missing (the next record is {seq})"
                elif fields["prev_hash"] != prev:
                    problem = (
                        f"record {seq} does not follow record {seq - 1}: "
                        "a record was removed or the records were reordered"
                    )
                elif chain_hash(fields) != fields["hash"]:
                    problem = f"record {seq} was changed after it was written"
                if problem is not None:
                    return ChainReport(False, count, prev, first_bad=seq, reason=problem)
                count += 1
                expected_seq, prev = seq + 1, fields["hash"]
        return ChainReport(True, count, prev)
