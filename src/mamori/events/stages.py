"""Kill-chain and fraud stages: the canonical order an incident's stages are shown in.

Intrusion stages are the ATT&CK enterprise tactics; fraud and laundering stages follow how
a fraud team reads a case (credentials obtained, account taken over and set up, money out;
cards tested then used; money placed, layered and integrated).

>>> order(["cash_out", "credential_access", "unknown"])
['credential_access', 'cash_out', 'unknown']
"""

from __future__ import annotations

from collections.abc import Iterable

STAGES: tuple[str, ...] = (
    # ATT&CK tactics
    "reconnaissance",
    "resource_development",
    "initial_access",
    "execution",
    "persistence",
    "privilege_escalation",
    "defense_evasion",
    "credential_access",
    "discovery",
    "lateral_movement",
    "collection",
    "command_and_control",
    "exfiltration",
    "impact",
    # fraud
    "account_manipulation",
    "card_testing",
    "card_fraud",
    "cash_out",
    # money laundering
    "placement",
    "layering",
    "integration",
)

LABELS: dict[str, str] = {s: s.replace("_", " ").capitalize() for s in STAGES}
LABELS.update({"command_and_control": "Command and control", "cash_out": "Cash-out"})

_RANK = {s: i for i, s in enumerate(STAGES)}


def rank(stage: str) -> int:
    """Position of a stage in the canonical order (unknown stages go last)."""
    return _RANK.get(stage, len(STAGES))


def order(stages: Iterable[str]) -> list[str]:
    """Distinct stages in canonical order."""
    return sorted(set(stages), key=lambda s: (rank(s), s))
