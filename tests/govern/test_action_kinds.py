"""Response steps have their own record kinds (action_proposed … action_undone); chains
written before them, with every step as ``approval``, still verify, and stay tamper-evident."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mamori.cli import main
from mamori.govern import audit as audit_module
from mamori.govern.audit import ACTION_KINDS, KINDS, LEGACY_KINDS, AuditLog
from mamori.govern.tables import AUDIT_TABLE
from mamori.respond.desk import NotAllowed, ResponseDesk
from tests.govern.test_audit import execute


def _legacy_steps(log: AuditLog, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three steps recorded as the desk did before the action kinds existed."""
    with monkeypatch.context() as patch:
        patch.setattr(audit_module, "KINDS", KINDS | LEGACY_KINDS)
        for actor, step in (("a", "proposed"), ("b", "approved"), ("b", "executed")):
            log.record(
                "approval",
                tenant="bank-a",
                actor=actor,
                role="responder",
                subject="old-request",
                body={"step": step, "action": "block_ip", "target": "ip:203.0.113.9"},
            )


def test_response_steps_have_their_own_kinds_and_an_undo_says_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mamori.db'}"
    desk = ResponseDesk(url, AuditLog(url))
    r = desk.propose("bank-a", "block_ip", "ip:203.0.113.9", actor="a", role="analyst",
                     reason="scanner")  # fmt: skip
    desk.approve("bank-a", r["request_id"], actor="b", role="responder")
    desk.execute("bank-a", r["request_id"], actor="b", role="responder")
    undo = desk.propose_undo("bank-a", r["request_id"], actor="b", role="responder", reason="fp")
    desk.approve("bank-a", undo["request_id"], actor="c", role="responder")
    desk.execute("bank-a", undo["request_id"], actor="c", role="responder")
    no = desk.propose("bank-a", "freeze_card", "card:4111", actor="a", role="analyst",
                      reason="declines")  # fmt: skip
    desk.reject("bank-a", no["request_id"], actor="b", role="responder")
    with pytest.raises(NotAllowed):
        desk.approve("bank-a", no["request_id"], actor="v", role="viewer")

    def kinds(subject: str) -> list[str]:
        return [x.kind for x in desk.audit.records(subject=subject)]

    assert kinds(r["request_id"]) == ["action_proposed", "action_approved", "action_executed"]
    assert kinds(undo["request_id"]) == ["action_proposed", "action_approved", "action_undone"]
    undone = desk.audit.records(kind="action_undone")[0].data()
    assert undone["undo_of"] == r["request_id"] and undone["step"] == "executed"
    assert kinds(no["request_id"]) == ["action_proposed", "action_rejected", "action_refused"]
    assert {x.kind for x in desk.audit.records()} <= set(ACTION_KINDS.values())
    assert desk.audit.verify().ok


def test_a_chain_with_old_approval_records_and_new_kinds_verifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'mamori.db'}"
    log = AuditLog(url)
    _legacy_steps(log, monkeypatch)
    desk = ResponseDesk(url, log)
    r = desk.propose("bank-a", "block_ip", "ip:198.51.100.4", actor="a", role="analyst",
                     reason="scanner")  # fmt: skip
    desk.approve("bank-a", r["request_id"], actor="b", role="responder")
    assert [x.kind for x in log.records()] == [
        "approval", "approval", "approval", "action_proposed", "action_approved",
    ]  # fmt: skip
    runner = CliRunner()
    ok = runner.invoke(main, ["audit", "verify", "--data-dir", str(tmp_path)])
    assert ok.exit_code == 0 and "5 records" in ok.output, ok.output
    # an old record is as tamper-evident as a new one
    execute(url, AUDIT_TABLE.update().where(AUDIT_TABLE.c.seq == 2).values(kind="action_approved"))
    bad = runner.invoke(main, ["audit", "verify", "--data-dir", str(tmp_path), "--json"])
    assert bad.exit_code == 1 and '"first_bad": 2' in bad.output


def test_the_old_kind_is_no_longer_written(tmp_path: Path) -> None:
    log = AuditLog(f"sqlite:///{tmp_path / 'a.db'}")
    with pytest.raises(ValueError, match="approval"):
        log.record("approval", tenant="t", actor="a", body={})
