"""The response desk: propose → approve → execute → record, with four eyes and an audit trail.

Anyone who may act on incidents (an analyst, a responder, an admin), a detection rule or the
AI analyst *proposes* an action from the catalogue on an entity. Responders *approve* or
*reject* it: nobody may decide on their own proposal, each person decides once, and a
high-impact action needs two different approvers (four eyes), any other one. An approved
action is *executed* by a responder through the desk's connector (dry-run unless a bank
configures a live one) and the connector's answer is recorded; an executed action that can
be undone can have its undo proposed, which goes through the same approval. Every step,
refusals included, is a record in the audit chain.

>>> import tempfile
>>> from mamori.govern.audit import AuditLog
>>> folder = tempfile.mkdtemp()
>>> desk = ResponseDesk(f"sqlite:///{folder}/ops.db", AuditLog(f"sqlite:///{folder}/ops.db"))
>>> r = desk.propose("bank-a", "freeze_account", "account:A-77", actor="aoki", role="analyst",
...                  reason="mule pattern")
>>> r["impact"], r["approvals_needed"], r["status"]
('high', 2, 'proposed')
>>> desk.approve("bank-a", r["request_id"], actor="aoki", role="responder")
Traceback (most recent call last):
...
mamori.respond.desk.NotAllowed: aoki proposed this action and may not approve it
>>> desk.approve("bank-a", r["request_id"], actor="sato", role="responder")["status"]
'proposed'
>>> desk.approve("bank-a", r["request_id"], actor="ito", role="responder")["status"]
'approved'
>>> done = desk.execute("bank-a", r["request_id"], actor="sato", role="responder")
>>> done["status"], done["dry_run"]
('executed', True)
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import sqlalchemy as sa

from mamori.govern.audit import ACTION_KINDS, AuditLog
from mamori.respond.catalogue import (
    CATALOGUE,
    UNDO_ACTIONS,
    CatalogueError,
    approvals_needed,
    lookup,
    resolve_inputs,
)
from mamori.respond.connectors import Connector, DryRunConnector
from mamori.respond.playbooks import Playbook, plan
from mamori.respond.tables import ACTION_APPROVALS_TABLE, ACTION_REQUESTS_TABLE
from mamori.store.migrations import upgrade

__all__ = [
    "APPROVER_ROLES",
    "AUDIT_KINDS",
    "PROPOSER_ROLES",
    "STATUSES",
    "NotAllowed",
    "RequestNotFound",
    "ResponseDesk",
    "ResponseError",
    "WrongState",
]

#: Roles that may propose an action.
PROPOSER_ROLES = frozenset({"analyst", "responder", "admin"})
#: Roles that may approve, reject and execute.
APPROVER_ROLES = frozenset({"responder", "admin"})
#: The audit chain's record kind of each step of the flow (the step is in the body too); an
#: executed undo is recorded as ``action_undone``.
AUDIT_KINDS = ACTION_KINDS

STATUSES = ("proposed", "approved", "rejected", "executed", "failed", "undone")
ProposerKind = Literal["person", "rule", "ai"]


class ResponseError(Exception):
    """A request the desk refuses."""


class RequestNotFound(ResponseError, LookupError):
    """No such action request in this tenant."""


class NotAllowed(ResponseError, PermissionError):
    """The caller may not take this step (role, own proposal, second vote)."""


class WrongState(ResponseError):
    """The request is not in a state that allows this step."""


class ResponseDesk:
    """Action requests in the operational database; every step audited.

    Parameters
    ----------
    url:
        SQLAlchemy URL of the operational database (migrated to the newest schema).
    audit:
        The audit chain every step is appended to.
    connector:
        Carries out executed actions; without one, execution is a dry run that records
        what would have been sent.
    """

    def __init__(self, url: str, audit: AuditLog, connector: Connector | None = None) -> None:
        self._engine = sa.create_engine(url)
        upgrade(self._engine)
        self.audit = audit
        self.connector: Connector = connector or DryRunConnector()

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    # --- proposing --------------------------------------------------------------------------

    def propose(
        self,
        tenant: str,
        action_id: str,
        target: str,
        *,
        actor: str,
        role: str,
        reason: str,
        inputs: Mapping[str, Any] | None = None,
        incident_id: str | None = None,
        proposer_kind: ProposerKind = "person",
        playbook_run: str | None = None,
        step: int | None = None,
        undo_of: str | None = None,
    ) -> dict[str, Any]:
        """Propose one action; return the new request."""
        if proposer_kind == "person" and role not in PROPOSER_ROLES:
            self._refuse(tenant, actor, role, None, f"role {role} may not propose actions")
        if action_id in UNDO_ACTIONS and undo_of is None:
            raise CatalogueError(f"{action_id} reverses another action: use propose_undo")
        action = lookup(action_id)
        resolved = resolve_inputs(action, target, inputs or {})
        if not reason.strip():
            raise CatalogueError("a proposal needs a reason")
        request_id = uuid.uuid4().hex
        row: dict[str, Any] = {
            "request_id": request_id,
            "tenant": tenant,
            "action_id": action_id,
            "target": target,
            "inputs": json.dumps(resolved, sort_keys=True),
            "impact": action.impact,
            "approvals_needed": approvals_needed(action.impact),
            "incident_id": incident_id,
            "playbook_run": playbook_run,
            "step": step,
            "undo_of": undo_of,
            "reason": reason.strip(),
            "status": "proposed",
            "proposed_by": actor,
            "proposer_kind": proposer_kind,
            "proposed_at": _now(),
        }
        with self._engine.begin() as connection:
            connection.execute(ACTION_REQUESTS_TABLE.insert(), row)
        self._audit(
            tenant,
            actor,
            role,
            row["request_id"],
            "proposed",
            row,
            {
                "reason": row["reason"],
                "proposer_kind": proposer_kind,
                "undo_of": undo_of,
            },
        )
        return self.request(tenant, request_id)

    def propose_playbook(
        self,
        tenant: str,
        playbook: Playbook,
        entities: Sequence[str],
        *,
        actor: str,
        role: str,
        reason: str,
        incident_id: str | None = None,
        proposer_kind: ProposerKind = "person",
    ) -> list[dict[str, Any]]:
        """Propose every action of a playbook for an incident's entities, as one chain."""
        steps = plan(playbook, entities)
        if not steps:
            raise CatalogueError(f"playbook {playbook.playbook_id} has no step for these entities")
        run = uuid.uuid4().hex
        return [
            self.propose(
                tenant,
                s.action_id,
                s.target,
                actor=actor,
                role=role,
                reason=f"{playbook.title}: {reason}",
                inputs=s.inputs,
                incident_id=incident_id,
                proposer_kind=proposer_kind,
                playbook_run=run,
                step=s.step,
            )
            for s in steps
        ]

    def propose_undo(
        self, tenant: str, request_id: str, *, actor: str, role: str, reason: str
    ) -> dict[str, Any]:
        """Propose the action that reverses an executed request."""
        original = self.request(tenant, request_id)
        action = CATALOGUE.get(original["action_id"])
        if action is None or action.undo is None:
            raise WrongState(f"{original['action_id']} cannot be undone")
        if original["status"] != "executed":
            state = original["status"]
            raise WrongState(f"only an executed action can be undone, not a {state} one")
        return self.propose(
            tenant,
            action.undo,
            original["target"],
            actor=actor,
            role=role,
            reason=reason,
            incident_id=original["incident_id"],
            undo_of=request_id,
        )

    # --- deciding ---------------------------------------------------------------------------

    def approve(
        self, tenant: str, request_id: str, *, actor: str, role: str, comment: str = ""
    ) -> dict[str, Any]:
        """Add one approval; the request is approved once it has as many as it needs."""
        return self._decide(tenant, request_id, actor, role, "approve", comment)

    def reject(
        self, tenant: str, request_id: str, *, actor: str, role: str, comment: str = ""
    ) -> dict[str, Any]:
        """Reject the request; one rejection ends it."""
        return self._decide(tenant, request_id, actor, role, "reject", comment)

    def _decide(
        self, tenant: str, request_id: str, actor: str, role: str, decision: str, comment: str
    ) -> dict[str, Any]:
        request = self.request(tenant, request_id)
        if role not in APPROVER_ROLES:
            self._refuse(tenant, actor, role, request_id, f"role {role} may not {decision}")
        if request["proposed_by"] == actor:
            self._refuse(
                tenant,
                actor,
                role,
                request_id,
                f"{actor} proposed this action and may not {decision} it",
            )
        if request["status"] != "proposed":
            raise WrongState(f"the request is {request['status']}, no longer open for decision")
        if any(a["approver"] == actor for a in request["approvals"]):
            self._refuse(tenant, actor, role, request_id, f"{actor} has already decided")
        now = _now()
        with self._engine.begin() as connection:
            try:
                connection.execute(
                    ACTION_APPROVALS_TABLE.insert(),
                    {
                        "request_id": request_id,
                        "approver": actor,
                        "tenant": tenant,
                        "role": role,
                        "decision": decision,
                        "comment": comment.strip() or None,
                        "decided_at": now,
                    },
                )
            except sa.exc.IntegrityError:
                raise NotAllowed(f"{actor} has already decided") from None
            approvals = connection.execute(
                sa.select(sa.func.count()).where(
                    ACTION_APPROVALS_TABLE.c.request_id == request_id,
                    ACTION_APPROVALS_TABLE.c.decision == "approve",
                )
            ).scalar_one()
            new_status = None
            if decision == "reject":
                new_status = "rejected"
            elif approvals >= request["approvals_needed"]:
                new_status = "approved"
            if new_status is not None:
                table = ACTION_REQUESTS_TABLE
                changed = connection.execute(
                    table.update()
                    .where(table.c.request_id == request_id, table.c.status == "proposed")
                    .values(status=new_status, decided_at=now)
                ).rowcount
                if changed == 0:
                    raise WrongState("the request was decided by someone else meanwhile")
        step = "approved" if decision == "approve" else "rejected"
        self._audit(
            tenant,
            actor,
            role,
            request_id,
            step,
            request,
            {
                "comment": comment.strip() or None,
                "approvals": int(approvals),
                "approvals_needed": request["approvals_needed"],
            },
        )
        return self.request(tenant, request_id)

    # --- executing --------------------------------------------------------------------------

    def execute(self, tenant: str, request_id: str, *, actor: str, role: str) -> dict[str, Any]:
        """Carry out an approved request through the connector and record the result."""
        request = self.request(tenant, request_id)
        if role not in APPROVER_ROLES:
            self._refuse(tenant, actor, role, request_id, f"role {role} may not execute actions")
        if request["status"] != "approved":
            state = request["status"]
            raise WrongState(f"only an approved action can be executed, not a {state} one")
        if request["playbook_run"] is not None:
            self._check_chain(tenant, request)
        table = ACTION_REQUESTS_TABLE
        with self._engine.begin() as connection:  # claim it: one execution only
            claimed = connection.execute(
                table.update()
                .where(table.c.request_id == request_id, table.c.status == "approved")
                .values(status="executing", executed_by=actor, executed_at=_now())
            ).rowcount
        if claimed == 0:
            raise WrongState("the action is being executed by someone else")
        payload = {
            "request_id": request_id,
            "tenant": tenant,
            "action": request["action_id"],
            "target": request["target"],
            "inputs": request["inputs"],
            "incident_id": request["incident_id"],
            "undo_of": request["undo_of"],
            "proposed_by": request["proposed_by"],
            "approved_by": [a["approver"] for a in request["approvals"]],
            "executed_by": actor,
        }
        try:
            delivery = self.connector.deliver(payload)
            ok, dry_run, detail = delivery.ok, delivery.dry_run, delivery.detail
        except Exception as err:  # noqa: BLE001 - a connector's failure is recorded, not raised
            ok, dry_run, detail = False, self.connector.dry_run, {"error": repr(err)}
        status = "executed" if ok else "failed"
        with self._engine.begin() as connection:
            connection.execute(
                table.update()
                .where(table.c.request_id == request_id)
                .values(status=status, dry_run=dry_run, result=json.dumps(detail, default=str))
            )
            if ok and request["undo_of"] is not None:
                connection.execute(
                    table.update()
                    .where(table.c.request_id == request["undo_of"], table.c.tenant == tenant)
                    .values(status="undone")
                )
        self._audit(
            tenant,
            actor,
            role,
            request_id,
            status,
            request,
            {
                "dry_run": dry_run,
                "result": detail,
            },
        )
        return self.request(tenant, request_id)

    def _check_chain(self, tenant: str, request: dict[str, Any]) -> None:
        """Refuse a playbook step while an earlier step is neither executed nor rejected."""
        table = ACTION_REQUESTS_TABLE
        with self._engine.connect() as connection:
            blocking = connection.execute(
                sa.select(table.c.step, table.c.action_id, table.c.status)
                .where(
                    table.c.tenant == tenant,
                    table.c.playbook_run == request["playbook_run"],
                    table.c.step < request["step"],
                    table.c.status.not_in(("executed", "rejected", "undone")),
                )
                .order_by(table.c.step)
            ).first()
        if blocking is not None:
            raise WrongState(
                f"playbook step {blocking[0] + 1} ({blocking[1]}) is {blocking[2]}; "
                "steps run in order"
            )

    # --- reading ----------------------------------------------------------------------------

    def request(self, tenant: str, request_id: str) -> dict[str, Any]:
        """One request of the tenant with its decisions, or `RequestNotFound`."""
        found = self.requests(tenant, request_ids=[request_id])
        if not found:
            raise RequestNotFound(f"no action request {request_id!r}")
        return found[0]

    def requests(
        self,
        tenant: str,
        *,
        status: str | None = None,
        incident_id: str | None = None,
        request_ids: Sequence[str] | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        """The tenant's requests, newest first, each with its decisions under "approvals"."""
        table = ACTION_REQUESTS_TABLE
        query = sa.select(table).where(table.c.tenant == tenant)
        if status is not None:
            query = query.where(table.c.status == status)
        if incident_id is not None:
            query = query.where(table.c.incident_id == incident_id)
        if request_ids is not None:
            query = query.where(table.c.request_id.in_(list(request_ids)))
        query = query.order_by(
            table.c.proposed_at.desc(), table.c.playbook_run, table.c.step
        ).limit(limit)
        decisions = ACTION_APPROVALS_TABLE
        with self._engine.connect() as connection:
            rows = [dict(r) for r in connection.execute(query).mappings()]
            ids = [r["request_id"] for r in rows]
            votes: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
            if ids:
                for vote in connection.execute(
                    sa.select(decisions)
                    .where(decisions.c.tenant == tenant, decisions.c.request_id.in_(ids))
                    .order_by(decisions.c.decided_at)
                ).mappings():
                    entry = dict(vote)
                    entry["decided_at"] = _utc(entry["decided_at"])
                    votes[entry["request_id"]].append(entry)
        for row in rows:
            row["inputs"] = json.loads(row["inputs"])
            row["result"] = json.loads(row["result"]) if row["result"] else None
            for name in ("proposed_at", "decided_at", "executed_at"):
                row[name] = _utc(row[name])
            row["approvals"] = votes[row["request_id"]]
            row["title"] = lookup(row["action_id"]).title
        return rows

    # --- audit ------------------------------------------------------------------------------

    def _audit(
        self,
        tenant: str,
        actor: str,
        role: str,
        request_id: str | None,
        step: str,
        request: Mapping[str, Any] | None,
        extra: Mapping[str, Any],
    ) -> None:
        body: dict[str, Any] = {"step": step}
        if request is not None:
            body |= {
                "action": request["action_id"],
                "target": request["target"],
                "impact": request["impact"],
                "incident_id": request["incident_id"],
            }
        body |= {k: v for k, v in extra.items() if v is not None}
        undo_of = request["undo_of"] if request is not None and step == "executed" else None
        if undo_of is not None:
            body["undo_of"] = undo_of
        self.audit.record(
            AUDIT_KINDS["undone" if undo_of is not None else step],
            tenant=tenant,
            actor=actor,
            role=role,
            subject=request_id,
            body=body,
        )

    def _refuse(self, tenant: str, actor: str, role: str, request_id: str | None, why: str) -> None:
        self._audit(tenant, actor, role, request_id, "refused", None, {"reason": why})
        raise NotAllowed(why)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    """A stored time as aware UTC (SQLite gives it back naive)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
