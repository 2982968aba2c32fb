"""The response desk: four eyes, no self-approval, roles, playbook order, undo, audit trail."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mamori.respond.catalogue import CatalogueError
from mamori.respond.desk import NotAllowed, RequestNotFound, ResponseDesk, WrongState
from mamori.respond.playbooks import PLAYBOOKS


def _steps(desk: ResponseDesk, request_id: str) -> list[str]:
    return [r.data()["step"] for r in desk.audit.records(subject=request_id)]


def test_high_impact_needs_two_different_responders(desk: ResponseDesk) -> None:
    r = desk.propose(
        "bank-a", "isolate_host", "host:ws-17", actor="aoki", role="analyst", reason="beacon"
    )
    assert (r["impact"], r["approvals_needed"]) == ("high", 2)
    after_one = desk.approve("bank-a", r["request_id"], actor="sato", role="responder")
    assert after_one["status"] == "proposed"
    with pytest.raises(NotAllowed, match="already decided"):
        desk.approve("bank-a", r["request_id"], actor="sato", role="responder")
    with pytest.raises(WrongState, match="proposed"):
        desk.execute("bank-a", r["request_id"], actor="sato", role="responder")
    done = desk.approve("bank-a", r["request_id"], actor="ito", role="admin")
    assert done["status"] == "approved"
    assert [a["approver"] for a in done["approvals"]] == ["sato", "ito"]


def test_medium_impact_needs_one_approver(desk: ResponseDesk) -> None:
    r = desk.propose(
        "bank-a", "block_ip", "ip:203.0.113.9", actor="aoki", role="analyst", reason="C2"
    )
    assert r["approvals_needed"] == 1 and r["inputs"] == {"duration_hours": 24}
    assert desk.approve("bank-a", r["request_id"], actor="sato", role="responder")["status"] == (
        "approved"
    )


def test_nobody_approves_their_own_proposal_and_refusals_are_audited(desk: ResponseDesk) -> None:
    r = desk.propose(
        "bank-a", "freeze_card", "card:4111", actor="sato", role="responder", reason="testing"
    )
    with pytest.raises(NotAllowed, match="proposed this action"):
        desk.approve("bank-a", r["request_id"], actor="sato", role="responder")
    with pytest.raises(NotAllowed, match="proposed this action"):
        desk.reject("bank-a", r["request_id"], actor="sato", role="responder")
    assert desk.request("bank-a", r["request_id"])["approvals"] == []
    assert _steps(desk, r["request_id"]) == ["proposed", "refused", "refused"]


def test_roles(desk: ResponseDesk) -> None:
    with pytest.raises(NotAllowed):
        desk.propose("bank-a", "block_ip", "ip:1.2.3.4", actor="v", role="viewer", reason="x")
    r = desk.propose("bank-a", "block_ip", "ip:1.2.3.4", actor="a", role="analyst", reason="x")
    for role in ("viewer", "analyst", "auditor"):
        with pytest.raises(NotAllowed):
            desk.approve("bank-a", r["request_id"], actor="b", role=role)
    desk.approve("bank-a", r["request_id"], actor="b", role="responder")
    with pytest.raises(NotAllowed):
        desk.execute("bank-a", r["request_id"], actor="c", role="analyst")


def test_rejection_ends_the_request(desk: ResponseDesk) -> None:
    r = desk.propose(
        "bank-a",
        "freeze_account",
        "account:A1",
        actor="ai-analyst",
        role="system",
        reason="mule",
        proposer_kind="ai",
    )
    desk.approve("bank-a", r["request_id"], actor="sato", role="responder")
    rejected = desk.reject(
        "bank-a", r["request_id"], actor="ito", role="responder", comment="known payroll account"
    )
    assert rejected["status"] == "rejected"
    with pytest.raises(WrongState):
        desk.approve("bank-a", r["request_id"], actor="kato", role="responder")


def test_dry_run_by_default_records_what_would_be_sent(desk: ResponseDesk) -> None:
    r = desk.propose(
        "bank-a",
        "block_domain",
        "domain:evil.example",
        actor="a",
        role="analyst",
        reason="phishing kit",
        incident_id="inc-1",
    )
    desk.approve("bank-a", r["request_id"], actor="b", role="responder")
    done = desk.execute("bank-a", r["request_id"], actor="b", role="responder")
    assert done["status"] == "executed" and done["dry_run"] is True
    sent = done["result"]["would_send"]
    assert (sent["action"], sent["target"], sent["approved_by"]) == (
        "block_domain",
        "domain:evil.example",
        ["b"],
    )
    with pytest.raises(WrongState):
        desk.execute("bank-a", r["request_id"], actor="b", role="responder")
    assert _steps(desk, r["request_id"]) == ["proposed", "approved", "executed"]
    assert desk.audit.verify().ok


def test_undo_goes_through_approval_and_marks_the_original(desk: ResponseDesk) -> None:
    r = desk.propose("bank-a", "freeze_card", "card:4111", actor="a", role="analyst", reason="x")
    desk.approve("bank-a", r["request_id"], actor="b", role="responder")
    with pytest.raises(WrongState, match="executed"):
        desk.propose_undo("bank-a", r["request_id"], actor="a", role="analyst", reason="oops")
    desk.execute("bank-a", r["request_id"], actor="b", role="responder")
    undo = desk.propose_undo(
        "bank-a", r["request_id"], actor="a", role="analyst", reason="customer confirmed"
    )
    assert (undo["action_id"], undo["undo_of"], undo["target"]) == (
        "unfreeze_card",
        r["request_id"],
        "card:4111",
    )
    desk.approve("bank-a", undo["request_id"], actor="b", role="responder")
    desk.execute("bank-a", undo["request_id"], actor="b", role="responder")
    assert desk.request("bank-a", r["request_id"])["status"] == "undone"


def test_irreversible_action_has_no_undo(desk: ResponseDesk) -> None:
    r = desk.propose(
        "bank-a",
        "recall_payment",
        "account:A1",
        actor="a",
        role="analyst",
        reason="APP scam",
        inputs={"payment_ref": "PAY-9"},
    )
    for approver in ("b", "c"):
        desk.approve("bank-a", r["request_id"], actor=approver, role="responder")
    desk.execute("bank-a", r["request_id"], actor="b", role="responder")
    with pytest.raises(WrongState, match="cannot be undone"):
        desk.propose_undo("bank-a", r["request_id"], actor="a", role="analyst", reason="x")
    with pytest.raises(CatalogueError, match="propose_undo"):
        desk.propose("bank-a", "unfreeze_card", "card:1", actor="a", role="analyst", reason="x")


def test_catalogue_checks_targets_and_inputs(desk: ResponseDesk) -> None:
    with pytest.raises(CatalogueError, match="not in the response catalogue"):
        desk.propose("bank-a", "wire_transfer", "account:A1", actor="a", role="analyst", reason="x")
    with pytest.raises(CatalogueError, match="applies to"):
        desk.propose("bank-a", "block_ip", "host:ws1", actor="a", role="analyst", reason="x")
    with pytest.raises(CatalogueError, match="needs payment_ref"):
        desk.propose("bank-a", "hold_payment", "account:A1", actor="a", role="analyst", reason="x")
    with pytest.raises(CatalogueError, match="takes no input"):
        desk.propose(
            "bank-a",
            "block_ip",
            "ip:1.2.3.4",
            actor="a",
            role="analyst",
            reason="x",
            inputs={"port": 22},
        )


def test_tenants_do_not_see_each_other(desk: ResponseDesk) -> None:
    r = desk.propose("bank-a", "block_ip", "ip:1.2.3.4", actor="a", role="analyst", reason="x")
    with pytest.raises(RequestNotFound):
        desk.request("bank-b", r["request_id"])
    with pytest.raises(RequestNotFound):
        desk.approve("bank-b", r["request_id"], actor="b", role="responder")
    assert desk.requests("bank-b") == [] and len(desk.requests("bank-a")) == 1


def test_playbook_steps_run_in_order(desk: ResponseDesk) -> None:
    chain = desk.propose_playbook(
        "bank-a",
        PLAYBOOKS["card_fraud"],
        ["card:4111", "customer:c9"],
        actor="a",
        role="analyst",
        reason="card testing",
        incident_id="inc-7",
    )
    assert [(c["step"], c["action_id"]) for c in chain] == [
        (0, "freeze_card"),
        (1, "notify_customer"),
        (2, "open_case"),
    ]
    assert chain[1]["inputs"] == {"template": "card_frozen"}
    for c in chain:
        desk.approve("bank-a", c["request_id"], actor="b", role="responder")
    with pytest.raises(WrongState, match=r"step 1 \(freeze_card\)"):
        desk.execute("bank-a", chain[2]["request_id"], actor="b", role="responder")
    desk.execute("bank-a", chain[0]["request_id"], actor="b", role="responder")
    desk.execute("bank-a", chain[1]["request_id"], actor="b", role="responder")
    assert (
        desk.execute("bank-a", chain[2]["request_id"], actor="b", role="responder")["status"]
        == "executed"
    )
    assert {r["status"] for r in desk.requests("bank-a", incident_id="inc-7")} == {"executed"}


def test_every_step_is_in_the_audit_chain(desk: ResponseDesk) -> None:
    r = desk.propose(
        "bank-a", "disable_user_account", "user:jdoe", actor="a", role="analyst", reason="insider"
    )
    desk.approve("bank-a", r["request_id"], actor="b", role="responder", comment="ok")
    desk.approve("bank-a", r["request_id"], actor="c", role="responder")
    desk.execute("bank-a", r["request_id"], actor="c", role="responder")
    records = desk.audit.records(tenant="bank-a", subject=r["request_id"])
    assert [x.kind for x in records] == [
        "action_proposed",
        "action_approved",
        "action_approved",
        "action_executed",
    ]
    assert [(x.actor, x.data()["step"]) for x in records] == [
        ("a", "proposed"),
        ("b", "approved"),
        ("c", "approved"),
        ("c", "executed"),
    ]
    assert records[1].data()["comment"] == "ok" and records[2].data()["approvals"] == 2
    assert desk.audit.verify().ok


def test_migration_creates_the_tables_as_declared(desk: ResponseDesk, desk_url: str) -> None:
    from mamori.respond.tables import RESPOND_METADATA

    engine = sa.create_engine(desk_url)
    inspector = sa.inspect(engine)
    for table in RESPOND_METADATA.tables.values():
        columns = [c["name"] for c in inspector.get_columns(table.name)]
        assert columns == [c.name for c in table.columns]
    engine.dispose()
