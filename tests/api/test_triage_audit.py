"""Triage and the audit chain over the API: roles, two banks, the triage's way into the
stored triages and the chain, paging and filters, and chain verification that tells a bank
nothing of another bank's records."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from mamori.api.app import create_app
from mamori.govern.identity import PERMISSIONS, ROLES
from mamori.govern.tables import AUDIT_TABLE
from tests.api.conftest import World, settings_for_tests, stuffing_lines
from tests.api.test_isolation import _secrets_of

TRIAGE = "/v1/incidents/{}/triage"


def _statuses(world: World, bank: str, incident: str) -> dict[str, dict[str, int]]:
    """Each role of `bank` on the four new routes, with `incident` filled in."""
    calls = {
        "triage": ("POST", TRIAGE.format(incident), {"provider": "offline"}),
        "read_triage": ("GET", TRIAGE.format(incident), None),
        "audit": ("GET", "/v1/audit", None),
        "verify": ("GET", "/v1/audit/verify", None),
    }
    return {
        role: {
            name: world.client.request(
                method, path, json=body, headers=world.auth(f"{bank}-{role}")
            ).status_code
            for name, (method, path, body) in calls.items()
        }
        for role in ROLES
    }


def test_every_role_on_the_new_routes(world: World) -> None:
    incident = world.incidents["bank-a"][-1]
    first = world.client.post(TRIAGE.format(incident), headers=world.auth("bank-a-analyst"))
    assert first.status_code == 200, first.text
    got = _statuses(world, "bank-a", incident)
    for role in ROLES:
        triages = role in PERMISSIONS["work_cases"]
        audits = role in PERMISSIONS["read_audit"]
        assert got[role]["triage"] == (200 if triages else 403), (role, got[role])
        assert got[role]["read_triage"] == 200, (role, got[role])
        assert got[role]["audit"] == (200 if audits else 403), (role, got[role])
        assert got[role]["verify"] == (200 if audits else 403), (role, got[role])
    assert {r for r in ROLES if got[r]["triage"] == 200} == {"analyst", "responder", "admin"}
    assert {r for r in ROLES if got[r]["audit"] == 200} == {"auditor", "admin"}


def test_a_triage_is_stored_readable_and_in_the_audit_chain(world: World) -> None:
    incident = world.incidents["bank-a"][0]
    made = world.client.post(
        TRIAGE.format(incident), json={}, headers=world.auth("bank-a-analyst")
    )
    assert made.status_code == 200, made.text
    answer = made.json()
    assert answer["incident_id"] == incident
    assert (answer["provider"], answer["model"], answer["fell_back"]) == ("offline", None, False)
    assert answer["tier"] == "C" and answer["requests_sent"] == 0
    cited = {c for claim in answer["claims"] for c in claim["citations"]}
    assert cited and cited <= set(world.alerts["bank-a"])  # cites bank A's own alerts
    read = world.client.get(TRIAGE.format(incident), headers=world.auth("bank-a-viewer"))
    assert read.status_code == 200
    assert read.json()["triage_id"] == answer["triage_id"]
    assert read.json()["verdict"] == answer["verdict"]

    audit = world.client.get(
        "/v1/audit?kind=triage_decision&actor=bank-a-analyst&limit=1000",
        headers=world.auth("bank-a-auditor"),
    ).json()
    decisions = [r for r in audit["records"] if r["subject"] == incident]
    assert decisions, audit
    newest = decisions[0]
    assert newest["seq"] == answer["audit_seq"]
    assert newest["body"]["verdict"] == answer["verdict"]
    assert (newest["tenant"], newest["role"], newest["provider"]) == (
        "bank-a",
        "analyst",
        "offline",
    )


def test_a_refused_provider_is_403_and_audited(world: World) -> None:
    incident = world.incidents["bank-a"][0]
    answer = world.client.post(
        TRIAGE.format(incident), json={"provider": "frontier"}, headers=world.auth("bank-a-admin")
    )
    assert answer.status_code == 403
    assert "frontier" in answer.json()["error"]["message"]
    refusals = world.client.get(
        "/v1/audit?kind=policy_refusal&limit=5", headers=world.auth("bank-a-admin")
    ).json()["records"]
    assert refusals[0]["provider"] == "frontier" and refusals[0]["actor"] == "bank-a-admin"


def test_a_never_triaged_incident_answers_204_and_an_unknown_one_404(world: World) -> None:
    services = world.client.app.state.services  # type: ignore[attr-defined]
    services.identity.create_tenant("bank-c")  # its own bank: other tests triage A's and B's
    services.identity.create_user("bank-c", "bank-c-analyst", ["analyst"])
    headers = {
        "Authorization": "Bearer " + services.identity.issue_token("bank-c-analyst", "t")[0]
    }
    sent = world.client.post(
        "/v1/ingest?kind=auth",
        content=stuffing_lines(),
        headers={**headers, "Content-Type": "application/x-ndjson"},
    )
    assert sent.status_code == 202 and services.intake.wait_settled("bank-c", 60)
    incident = services.store.incidents("bank-c")["incident_id"][0]
    assert world.client.get(TRIAGE.format(incident), headers=headers).status_code == 204
    assert world.client.get(TRIAGE.format("nope"), headers=headers).status_code == 404
    assert world.client.post(TRIAGE.format("nope"), headers=headers).status_code == 404
    assert world.client.post(TRIAGE.format(incident), headers=headers).status_code == 200
    assert world.client.get(TRIAGE.format(incident), headers=headers).status_code == 200


def test_bank_a_cannot_triage_read_triages_or_audit_records_of_bank_b(world: World) -> None:
    b_incident = world.incidents["bank-b"][0]
    made = world.client.post(TRIAGE.format(b_incident), headers=world.auth("bank-b-responder"))
    assert made.status_code == 200
    b_audit_before = world.client.get(
        "/v1/audit?limit=1000", headers=world.auth("bank-b-auditor")
    ).json()["records"]
    secrets = _secrets_of(world, "bank-b") + [made.json()["triage_id"]]
    for role in ROLES:
        headers = world.auth(f"bank-a-{role}")
        for method in ("POST", "GET"):
            answer = world.client.request(method, TRIAGE.format(b_incident), headers=headers)
            assert answer.status_code in (403, 404), (role, method, answer.status_code)
            assert not [s for s in secrets if s in answer.text and s != b_incident]
        for path in ("/v1/audit?limit=1000", "/v1/audit/verify"):
            answer = world.client.get(path, headers=headers)
            assert not [s for s in secrets if s in answer.text], (role, path)
            if answer.status_code == 200 and path.startswith("/v1/audit?"):
                assert {r["tenant"] for r in answer.json()["records"]} <= {"bank-a"}
    # B's triage and chain are as they were: nothing was triaged or recorded for B by A
    after = world.client.get("/v1/audit?limit=1000", headers=world.auth("bank-b-auditor"))
    assert after.json()["records"] == b_audit_before
    latest = world.client.get(TRIAGE.format(b_incident), headers=world.auth("bank-b-viewer"))
    assert latest.json()["triage_id"] == made.json()["triage_id"]


def test_audit_pages_newest_first_and_filters_by_time(world: World) -> None:
    headers = world.auth("bank-a-auditor")
    everything = world.client.get("/v1/audit?limit=1000", headers=headers).json()["records"]
    assert len(everything) >= 3
    seqs = [r["seq"] for r in everything]
    assert seqs == sorted(seqs, reverse=True)
    paged: list[int] = []
    before: int | None = None
    while True:
        query = "/v1/audit?limit=2" + (f"&before={before}" if before else "")
        page = world.client.get(query, headers=headers).json()
        paged += [r["seq"] for r in page["records"]]
        before = page["next_before"]
        if before is None:
            break
    assert paged == seqs
    middle = everything[len(everything) // 2]["recorded_at"]
    since = world.client.get("/v1/audit", params={"since": middle, "limit": 1000}, headers=headers)
    until = world.client.get("/v1/audit", params={"until": middle, "limit": 1000}, headers=headers)
    assert all(r["recorded_at"] >= middle for r in since.json()["records"])
    assert all(r["recorded_at"] < middle for r in until.json()["records"])
    assert since.json()["count"] + until.json()["count"] == len(everything)


def test_verify_is_whole_chain_and_names_only_the_position_of_a_break(tmp_path: Path) -> None:
    app = create_app(settings_for_tests(tmp_path))
    services = app.state.services
    with TestClient(app) as client:
        tokens = {}
        for bank in ("bank-a", "bank-b"):
            services.identity.create_tenant(bank)
            services.identity.create_user(bank, f"{bank}-auditor", ["auditor"])
            tokens[bank] = {
                "Authorization": "Bearer "
                + services.identity.issue_token(f"{bank}-auditor", "t")[0]
            }
        assert client.get("/v1/audit/verify", headers=tokens["bank-a"]).json()["ok"] is True
        audit = app.state.response.audit
        for i, bank in enumerate(("bank-a", "bank-b", "bank-a", "bank-b")):
            audit.record(
                "policy_refusal", tenant=bank, actor=f"{bank}-x", body={"reason": f"SECRET{i}"}
            )
        whole = client.get("/v1/audit/verify", headers=tokens["bank-a"]).json()
        assert whole == {
            "ok": True,
            "scope": "whole chain",
            "records": 2,
            "first_bad": None,
            "first_bad_is_yours": None,
            "reason": None,
        }
        with services.engine.begin() as connection:  # bank B's record 2 is altered
            connection.execute(
                sa.update(AUDIT_TABLE).where(AUDIT_TABLE.c.seq == 2).values(actor="mallory")
            )
        for bank, yours, mine in (("bank-a", False, 1), ("bank-b", True, 0)):
            answer = client.get("/v1/audit/verify", headers=tokens[bank])
            report = answer.json()
            assert report["ok"] is False and report["first_bad"] == 2
            assert report["first_bad_is_yours"] is yours and report["records"] == mine
            assert "was changed" in report["reason"]
            assert "SECRET" not in answer.text and "mallory" not in answer.text
