"""Stored triages: the gateway and `mamori triage` store what they end with (a provider's
answer or the offline fallback), restored and tied to its audit record; reads stay in the
tenant; the newest triage wins; the Alembic revision matches the declared table."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from mamori.analyst.archive import TRIAGES_TABLE, TriageArchive
from mamori.analyst.gateway import Gateway
from mamori.analyst.loopback import ChatServer, Scripted
from mamori.analyst.providers import OpenAICompatibleProvider
from mamori.analyst.samples import CUSTOMER_DIRECTORY
from mamori.cli import main
from tests.analyst.conftest import incident_id_of
from tests.analyst.test_gateway_wire import honest

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def archive(store) -> Iterator[TriageArchive]:
    opened = TriageArchive(store.url)
    yield opened
    opened.close()


def _gateway(policy, audit, store, archive, server=None) -> Gateway:
    providers = {}
    if server is not None:
        providers["frontier"] = OpenAICompatibleProvider(
            "frontier", server.base_url, "m1", locality="external", timeout_s=5.0
        )
    return Gateway(
        policy, audit, providers, source=store, directory=CUSTOMER_DIRECTORY, archive=archive
    )


def test_an_accepted_answer_is_stored_restored_with_its_audit_record(
    takeover, policy, audit, store, archive
) -> None:
    with ChatServer(honest) as server:
        result = _gateway(policy, audit, store, archive, server).triage(
            takeover, actor="aoki", role="analyst", provider="frontier"
        )
    stored = archive.latest("bank-a", takeover.incident_id)
    assert stored is not None and stored.triage_id == result.triage_id
    assert (stored.provider, stored.model, stored.fell_back) == ("frontier", "m1", False)
    assert stored.triage == result.triage
    # the local form: tokens such as [CUSTOMER_1] are restored to the bank's own values
    assert "customer:C000123" in {e.entity for e in stored.triage.affected_entities}
    assert "[CUSTOMER_" not in stored.triage.model_dump_json()
    decision = [r for r in audit.records(kind="triage_decision") if r.seq == stored.audit_seq]
    assert decision and decision[0].subject == takeover.incident_id
    assert decision[0].data()["verdict"] == stored.triage.verdict
    view = stored.view()
    assert view["writer"] == "frontier (m1)"
    cited = {c for claim in view["claims"] for c in claim["citations"]}
    assert cited and cited <= takeover.citable_ids()


def test_a_fallback_is_stored_as_the_offline_analysts_and_says_so(
    takeover, policy, audit, store, archive
) -> None:
    with ChatServer(lambda body: Scripted(status=503)) as server:
        _gateway(policy, audit, store, archive, server).triage(
            takeover, actor="aoki", role="analyst", provider="frontier"
        )
    stored = archive.latest("bank-a", takeover.incident_id)
    assert stored is not None
    assert (stored.provider, stored.requested_provider, stored.fell_back) == (
        "offline",
        "frontier",
        True,
    )
    assert "HTTP 503" in (stored.fallback_reason or "")
    assert stored.view()["writer"] == "offline analyst (fallback)"


def test_the_newest_triage_wins_and_reads_stay_in_the_tenant(
    takeover, benign, policy, audit, store, archive
) -> None:
    gateway = _gateway(policy, audit, store, archive)
    first = gateway.triage(takeover, actor="aoki", role="analyst")
    second = gateway.triage(takeover, actor="sato", role="analyst")
    gateway.triage(benign, actor="aoki", role="analyst")
    assert first.triage_id != second.triage_id
    newest = archive.latest("bank-a", takeover.incident_id)
    assert newest is not None and (newest.triage_id, newest.actor) == (second.triage_id, "sato")
    assert newest.view()["writer"] == "offline analyst"
    assert set(archive.latest_by_incident("bank-a")) == {takeover.incident_id, benign.incident_id}
    assert archive.latest("bank-b", takeover.incident_id) is None
    assert archive.latest_by_incident("bank-b") == {}


def test_mamori_triage_stores_the_triage(tmp_path: Path, store) -> None:
    incident = incident_id_of(store, "credential")
    result = CliRunner().invoke(
        main, ["triage", incident, "--data-dir", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    archive = TriageArchive(store.url)
    stored = archive.latest("bank-a", incident)
    archive.close()
    assert stored is not None and stored.triage_id == printed["triage_id"]
    assert stored.triage.model_dump(mode="json") == printed["triage"]


_BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("MAMORI_TEST_PG") else [])


@pytest.mark.parametrize("backend", _BACKENDS)
def test_the_migration_creates_the_table_as_declared(backend: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}" if backend == "sqlite" else PG_URL
    TriageArchive(url).close()  # creates or upgrades (PostgreSQL: the shared test database)
    engine = sa.create_engine(url)
    columns = [c["name"] for c in sa.inspect(engine).get_columns("triages")]
    engine.dispose()
    assert columns == [c.name for c in TRIAGES_TABLE.columns]
