"""A sector hub with three banks' feed tokens, for the sector exchange tests."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mamori.govern.identity import Principal
from mamori.share.campaign import sector_hub
from mamori.share.taxii import TaxiiServer, taxii_router

BANKS = ("bank-a", "bank-b", "bank-c")


def principal(tenant: str, roles: frozenset[str] = frozenset({"responder"})) -> Principal:
    return Principal(f"u-{tenant}", f"feed-{tenant}", tenant, "institution", roles, "token")


TOKENS = {f"tok-{b}": principal(b) for b in BANKS} | {
    "tok-viewer": principal("bank-a", frozenset({"viewer"}))
}


@pytest.fixture
def hub() -> TaxiiServer:
    return sector_hub(TOKENS.get, k=3)


@pytest.fixture
def http(hub: TaxiiServer) -> TestClient:
    app = FastAPI()
    app.include_router(taxii_router(hub))
    return TestClient(app)
