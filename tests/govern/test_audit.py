"""The audit chain: every change, removal or reordering is found and named."""

from __future__ import annotations

import sqlalchemy as sa
from click.testing import CliRunner

from mamori.cli import main
from mamori.govern.audit import GENESIS, AuditLog
from mamori.govern.tables import AUDIT_TABLE


def filled(url: str, n: int = 6) -> AuditLog:
    log = AuditLog(url)
    for i in range(n):
        log.record(
            "provider_request" if i % 2 else "tool_call",
            tenant="bank-a",
            actor="aoki",
            role="analyst",
            provider="frontier",
            model="m1",
            subject="inc-1",
            body={"i": i, "text": "カード [CARD_1]"},
        )
    return log


def execute(url: str, statement: sa.Executable) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(statement)
    engine.dispose()


def test_an_intact_chain_verifies_and_links_each_record_to_the_last(audit_url: str) -> None:
    log = filled(audit_url)
    records = log.records()
    assert [r.seq for r in records] == [1, 2, 3, 4, 5, 6]
    assert records[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(records, records[1:], strict=False))
    report = log.verify()
    assert report.ok and report.records == 6 and report.head == records[-1].hash
    assert records[2].data() == {"i": 2, "text": "カード [CARD_1]"}


def test_a_changed_record_is_named(audit_url: str) -> None:
    log = filled(audit_url)
    t = AUDIT_TABLE
    execute(audit_url, t.update().where(t.c.seq == 4).values(body='{"i":4,"text":"edited"}'))
    report = log.verify()
    assert not report.ok and report.first_bad == 4 and "changed" in (report.reason or "")
    assert report.records == 3


def test_a_changed_actor_is_named(audit_url: str) -> None:
    log = filled(audit_url)
    execute(audit_url, AUDIT_TABLE.update().where(AUDIT_TABLE.c.seq == 2).values(actor="root"))
    assert log.verify().first_bad == 2


def test_a_removed_record_is_named(audit_url: str) -> None:
    log = filled(audit_url)
    execute(audit_url, AUDIT_TABLE.delete().where(AUDIT_TABLE.c.seq == 3))
    report = log.verify()
    assert not report.ok and report.first_bad == 4
    assert "record 3 is missing" in (report.reason or "")


def test_removing_the_first_record_is_found(audit_url: str) -> None:
    log = filled(audit_url)
    execute(audit_url, AUDIT_TABLE.delete().where(AUDIT_TABLE.c.seq == 1))
    assert log.verify().first_bad == 2


def test_reordered_records_are_named(audit_url: str) -> None:
    log = filled(audit_url)
    t = AUDIT_TABLE
    # swap records 3 and 5 by swapping their sequence numbers
    execute(audit_url, t.update().where(t.c.seq == 3).values(seq=1000))
    execute(audit_url, t.update().where(t.c.seq == 5).values(seq=3))
    execute(audit_url, t.update().where(t.c.seq == 1000).values(seq=5))
    report = log.verify()
    assert not report.ok and report.first_bad == 3
    assert "reordered" in (report.reason or "")


def test_unknown_record_kinds_are_refused(tmp_path) -> None:
    log = AuditLog(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        log.record("coffee", tenant="t", actor="a", body={})
    except ValueError as err:
        assert "coffee" in str(err)
    else:
        raise AssertionError("an unknown kind was recorded")


def test_the_command_fails_naming_the_first_bad_record(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'mamori.db'}"
    filled(url).close()
    runner = CliRunner()
    ok = runner.invoke(main, ["audit", "verify", "--data-dir", str(tmp_path)])
    assert ok.exit_code == 0 and "6 records" in ok.output
    execute(url, AUDIT_TABLE.update().where(AUDIT_TABLE.c.seq == 5).values(kind="approval"))
    bad = runner.invoke(main, ["audit", "verify", "--data-dir", str(tmp_path), "--json"])
    assert bad.exit_code == 1
    assert '"first_bad": 5' in bad.output
