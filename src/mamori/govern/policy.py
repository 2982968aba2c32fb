"""Trust tiers: which AI providers, models, data classes and tools a tenant's role may use.

A bank writes its policy in TOML. Each *tier* lists the providers (and optionally the models)
it may use, which *data classes* may reach a provider of each *locality*, and which read-only
tools the model may call. Each tenant maps its roles to tiers. Anything the policy does not
name is refused: an unknown tenant or role gets tier ``default_tier`` (the offline analyst
only, unless the bank says otherwise).

Localities: ``external`` (a provider outside the bank, e.g. a frontier model's API),
``on_premises`` (a model server on the bank's own machines), ``in_process`` (the offline
analyst, a local llama.cpp model). Data classes: ``metadata`` (alert ids, times, severities,
detectors, ATT&CK ids, stages, scores), ``text`` (alert titles and explanations: free text,
part of it attacker-controlled), ``pii`` (personal data and secrets in clear; without it,
they are redacted before sending), ``internal_network`` (internal IPs and host names in
clear; without it, they are redacted too).

`EXAMPLE_POLICY` is a complete ``trust.toml``: tier A may send redacted evidence to an
external frontier model, tier B only to a model on the bank's own machines, tier C gets the
offline analyst only.

>>> policy = TrustPolicy.from_toml_text(EXAMPLE_POLICY)
>>> policy.decide("bank-a", "analyst", "frontier", "external").redact
('pii', 'internal_network')
>>> policy.decide("bank-a", "viewer", "frontier", "external").reason
"tier C of role 'viewer' at 'bank-a' may not use provider 'frontier'"
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DATA_CLASSES",
    "EXAMPLE_POLICY",
    "LOCALITIES",
    "ROLES",
    "Decision",
    "Tier",
    "TrustPolicy",
]

LOCALITIES = ("external", "on_premises", "in_process")
DATA_CLASSES = ("metadata", "text", "pii", "internal_network")
ROLES = ("viewer", "analyst", "responder", "admin", "auditor")
#: Data classes that are redacted (rather than withheld) when a tier does not allow them.
REDACTABLE = ("pii", "internal_network")

EXAMPLE_POLICY = """
default_tier = "C"

[tiers.A]
providers = ["frontier", "onprem", "offline"]
# an external provider gets redacted evidence only
data.external = ["metadata", "text"]
data.on_premises = ["metadata", "text", "pii", "internal_network"]
tools = ["entity_history", "related_incidents", "indicator"]

[tiers.B]
providers = ["onprem", "offline"]
data.on_premises = ["metadata", "text", "pii", "internal_network"]
tools = ["entity_history"]

[tiers.C]
providers = ["offline"]

[tenants.bank-a]
analyst = "A"
admin = "A"
responder = "B"
viewer = "C"
auditor = "C"
"""


@dataclass(frozen=True)
class Tier:
    """What one trust tier allows."""

    name: str
    providers: frozenset[str]
    models: frozenset[str] | None = None  # None: any model of an allowed provider
    data: Mapping[str, frozenset[str]] = field(default_factory=dict)  # locality -> classes
    tools: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Decision:
    """The policy's answer for one request: allowed or not (with the reason), which data
    classes may be sent in clear, which must be redacted, and which tools the model may call.
    Free text (`text`) not in `send` is withheld altogether."""

    allowed: bool
    tier: str
    reason: str
    send: tuple[str, ...] = ()
    redact: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()


class TrustPolicy:
    """Tiers, and per tenant the tier of each role."""

    def __init__(
        self,
        tiers: Mapping[str, Tier],
        tenants: Mapping[str, Mapping[str, str]],
        default_tier: str,
    ) -> None:
        unknown = {t for roles in tenants.values() for t in roles.values()} | {default_tier}
        unknown -= set(tiers)
        if unknown:
            raise ValueError(f"trust policy names tiers it does not define: {sorted(unknown)}")
        for tenant, roles in tenants.items():
            bad_roles = sorted(set(roles) - set(ROLES))
            if bad_roles:
                raise ValueError(
                    f"tenant {tenant!r}: unknown roles {bad_roles}; known: {', '.join(ROLES)}"
                )
        self.tiers = dict(tiers)
        self.tenants = {t: dict(r) for t, r in tenants.items()}
        self.default_tier = default_tier

    @classmethod
    def from_toml_text(cls, text: str) -> TrustPolicy:
        """Parse a policy; a malformed one raises ValueError saying where."""
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"trust policy is not valid TOML: {err}") from None
        return cls.from_dict(raw)

    @classmethod
    def from_path(cls, path: Path) -> TrustPolicy:
        try:
            return cls.from_toml_text(path.read_text(encoding="utf-8"))
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TrustPolicy:
        tiers = {}
        for name, spec in (raw.get("tiers") or {}).items():
            data = spec.get("data") or {}
            bad = sorted(set(data) - set(LOCALITIES))
            if bad:
                raise ValueError(f"tier {name}: unknown localities {bad}; known: {LOCALITIES}")
            for locality, classes in data.items():
                wrong = sorted(set(classes) - set(DATA_CLASSES))
                if wrong:
                    raise ValueError(
                        f"tier {name}, {locality}: unknown data classes {wrong}; "
                        f"known: {DATA_CLASSES}"
                    )
            models = spec.get("models")
            tiers[name] = Tier(
                name=name,
                providers=frozenset(spec.get("providers") or ()),
                models=frozenset(models) if models is not None else None,
                data={loc: frozenset(c) for loc, c in data.items()},
                tools=frozenset(spec.get("tools") or ()),
            )
        return cls(tiers, raw.get("tenants") or {}, raw.get("default_tier", "C"))

    def tier_of(self, tenant: str, role: str) -> Tier:
        """The tier of a role at a tenant (the default tier when either is not named)."""
        name = self.tenants.get(tenant, {}).get(role, self.default_tier)
        return self.tiers[name]

    def decide(
        self, tenant: str, role: str, provider: str, locality: str, model: str | None = None
    ) -> Decision:
        """May `role` at `tenant` send an incident to `provider` (of `locality`, `model`)?"""
        tier = self.tier_of(tenant, role)
        who = f"tier {tier.name} of role {role!r} at {tenant!r}"
        if locality not in LOCALITIES:
            return Decision(False, tier.name, f"unknown provider locality {locality!r}")
        if provider not in tier.providers:
            return Decision(False, tier.name, f"{who} may not use provider {provider!r}")
        if tier.models is not None and model is not None and model not in tier.models:
            return Decision(False, tier.name, f"{who} may not use model {model!r}")
        in_clear = frozenset(DATA_CLASSES if locality == "in_process" else ())
        classes = tier.data.get(locality, in_clear)
        if "metadata" not in classes:
            return Decision(
                False, tier.name, f"{who} may send no incident data to a provider {locality}"
            )
        send = tuple(c for c in DATA_CLASSES if c in classes)
        redact = tuple(c for c in REDACTABLE if c not in classes)
        return Decision(
            True,
            tier.name,
            f"{who} may use {provider!r}" + (f", redacting {', '.join(redact)}" if redact else ""),
            send=send,
            redact=redact,
            tools=tuple(sorted(tier.tools)),
        )

    def may_call_tool(self, tenant: str, role: str, tool: str) -> bool:
        """May the model, working for `role` at `tenant`, call read-only `tool`?"""
        return tool in self.tier_of(tenant, role).tools
