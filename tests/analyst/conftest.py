"""Fixtures for the analyst tests: a store holding the sample incidents, the example trust
policy, an audit chain, and a scripted chat-completions server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from mamori.analyst.evidence import Evidence, gather_evidence
from mamori.analyst.samples import sample_incidents
from mamori.govern.audit import AuditLog
from mamori.govern.policy import EXAMPLE_POLICY, TrustPolicy
from mamori.store.sql import OperationalStore

#: Personal values in the sample alerts that must never reach an external provider.
RAW_PII = (
    "Haruto Sato",
    "haruto.sato@example.jp",
    "090-1234-5678",
    "4111 1111 1111 1111",
    "C000123",
    "0001-0012345",
    "0005-1234567",
    "Yui Tanaka",
    "5500005555555559",
    "10.20.1.15",
    "WS-FIN-07",
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[OperationalStore]:
    alerts, incidents, links = sample_incidents()
    with OperationalStore(f"sqlite:///{tmp_path / 'mamori.db'}") as opened:
        opened.add_alerts(alerts)
        opened.replace_incidents("bank-a", incidents, links)
        yield opened


@pytest.fixture
def audit(tmp_path: Path) -> Iterator[AuditLog]:
    with AuditLog(f"sqlite:///{tmp_path / 'mamori.db'}") as log:
        yield log


@pytest.fixture
def policy() -> TrustPolicy:
    return TrustPolicy.from_toml_text(EXAMPLE_POLICY)


def incident_id_of(store: OperationalStore, title_part: str) -> str:
    incidents = store.incidents("bank-a")
    return incidents.filter(pl.col("title").str.contains(title_part))["incident_id"][0]


@pytest.fixture
def takeover(store: OperationalStore) -> Evidence:
    """The account-takeover incident (malicious, with personal data in its alerts)."""
    return gather_evidence(store, "bank-a", incident_id_of(store, "credential"))


@pytest.fixture
def benign(store: OperationalStore) -> Evidence:
    return gather_evidence(store, "bank-a", incident_id_of(store, "new browser"))
