"""Trust tiers: what each tenant's role may use, and refusals with their reasons."""

from __future__ import annotations

import pytest

from mamori.govern.policy import EXAMPLE_POLICY, TrustPolicy

POLICY = TrustPolicy.from_toml_text(EXAMPLE_POLICY)


def test_tier_a_sends_redacted_evidence_to_an_external_model() -> None:
    d = POLICY.decide("bank-a", "analyst", "frontier", "external", "gpt-x")
    assert d.allowed and d.tier == "A"
    assert d.send == ("metadata", "text") and d.redact == ("pii", "internal_network")
    assert "entity_history" in d.tools


def test_tier_b_may_not_reach_an_external_model_but_may_reach_its_own() -> None:
    refused = POLICY.decide("bank-a", "responder", "frontier", "external")
    assert not refused.allowed and "may not use provider 'frontier'" in refused.reason
    own = POLICY.decide("bank-a", "responder", "onprem", "on_premises")
    assert own.allowed and own.redact == () and "pii" in own.send


def test_unknown_tenants_and_roles_get_the_default_tier() -> None:
    for tenant, role in (("bank-z", "analyst"), ("bank-a", "auditor")):
        assert POLICY.tier_of(tenant, role).name == "C"
        assert not POLICY.decide(tenant, role, "onprem", "on_premises").allowed
        assert POLICY.decide(tenant, role, "offline", "in_process").allowed


def test_a_tier_without_data_for_a_locality_refuses_it() -> None:
    policy = TrustPolicy.from_toml_text(
        EXAMPLE_POLICY.replace('data.external = ["metadata", "text"]\n', "")
    )
    d = policy.decide("bank-a", "analyst", "frontier", "external")
    assert not d.allowed and "no incident data" in d.reason


def test_model_allow_lists_are_enforced() -> None:
    policy = TrustPolicy.from_toml_text(
        EXAMPLE_POLICY.replace(
            'providers = ["frontier", "onprem", "offline"]',
            'providers = ["frontier", "onprem", "offline"]\nmodels = ["m1"]',
        )
    )
    assert policy.decide("bank-a", "analyst", "frontier", "external", "m1").allowed
    assert "model 'm2'" in policy.decide("bank-a", "analyst", "frontier", "external", "m2").reason


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('default_tier = "Z"\n[tiers.C]\nproviders = []', "does not define"),
        ('[tiers.C]\ndata.moon = ["metadata"]', "unknown localities"),
        ('[tiers.C]\ndata.external = ["secrets"]', "unknown data classes"),
        ('[tiers.C]\n[tenants.b]\nkingpin = "C"', "unknown roles"),
        ("[tiers.C", "not valid TOML"),
    ],
)
def test_malformed_policies_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrustPolicy.from_toml_text(text)
