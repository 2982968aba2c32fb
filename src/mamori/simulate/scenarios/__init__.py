"""The attack scenarios, one module each; `REGISTRY` maps a scenario's name to its function.

Each scenario draws one instance per tenant per day from its own random stream and returns
every malicious event it made together with its ground truth (see `base.Injection`).
"""

from __future__ import annotations

from mamori.simulate.scenarios import (
    account_takeover,
    card_fraud,
    ddos,
    exfiltration,
    heist_intrusion,
    insider,
    mule_ring,
)
from mamori.simulate.scenarios.base import Injection, Scenario

REGISTRY: dict[str, Scenario] = {
    module.NAME: module.inject
    for module in (
        account_takeover,
        card_fraud,
        mule_ring,
        heist_intrusion,
        exfiltration,
        ddos,
        insider,
    )
}

#: The names of all scenarios, in the order they are injected.
SCENARIOS: tuple[str, ...] = tuple(REGISTRY)

__all__ = ["REGISTRY", "SCENARIOS", "Injection", "Scenario"]
