"""What to simulate: the seed, the size of each bank, how many days, which attacks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

MIN_CUSTOMERS = 50


@dataclass(frozen=True)
class SimConfig:
    """Parameters of a simulation run.

    seed       the master seed; the same config always gives the same events, ids and truth.
    customers  customers per tenant, at least 50 (staff: customers / 25, at least 20).
    days       how many consecutive days to simulate, from `start`.
    tenants    one separate bank per name, each with its own population and seed stream.
    start      midnight UTC of the first day (a time of day is truncated to midnight).
    scenarios  the attack scenarios to inject (names from `SCENARIOS`); None means all.
    quiet_days leading days with no attack, on which detectors can learn the bank's habits.
    country    the banks' home country (ISO 3166 alpha-2); most customers live there.
    currency   the currency of accounts and amounts (ISO 4217).
    campaign   one attacker behind every tenant's attacks: the scenarios' attacker
               infrastructure (the heist's C2 address) is the same at every bank, as in a
               coordinated campaign against the sector; otherwise each bank has its own.
    """

    seed: int = 0
    customers: int = 5000
    days: int = 1
    tenants: tuple[str, ...] = ("bank-a",)
    start: datetime = datetime(2026, 11, 2, tzinfo=UTC)
    scenarios: tuple[str, ...] | None = None
    quiet_days: int = 0
    country: str = "JP"
    currency: str = "USD"
    campaign: bool = False

    def __post_init__(self) -> None:
        if self.customers < MIN_CUSTOMERS:
            raise ValueError(
                f"customers must be at least {MIN_CUSTOMERS} (the scenarios need victims), "
                f"got {self.customers}"
            )
        if self.days < 1:
            raise ValueError(f"days must be at least 1, got {self.days}")
        if not 0 <= self.quiet_days < self.days:
            raise ValueError(f"quiet_days must be between 0 and days - 1, got {self.quiet_days}")
        if not self.tenants or len(set(self.tenants)) != len(self.tenants):
            raise ValueError(f"tenants must be distinct names, got {self.tenants!r}")
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware (UTC)")
