"""Account takeover: credential stuffing against online banking, then cash-out.

A few rented hosts in one or two /24s abroad replay a leaked credential list: hundreds of
logins in under an hour, mostly failing (unknown users, wrong passwords), a handful
succeeding. From each account taken over, the attacker's own device registers a new payee
within minutes and sends it a large transfer soon after.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from mamori.simulate import vocab
from mamori.simulate.background.online import SOURCE as ONLINE_SOURCE
from mamori.simulate.background.online import Access, sessions
from mamori.simulate.background.payments import SOURCE as CORE_SOURCE
from mamori.simulate.clock import MINUTE
from mamori.simulate.context import Day
from mamori.simulate.frames import choose, ip_strings, numbered, part, pick, random_hex
from mamori.simulate.population import HOSTING_OCTETS, external_accounts, public_ips
from mamori.simulate.scenarios.base import Injection, entities, moment

NAME = "account_takeover"


def inject(day: Day, rng: np.random.Generator) -> Injection:
    pop = day.pop
    customers = len(pop.customer)

    # the attacker's infrastructure: 5-20 hosts in one or two /24s, one tool profile each
    subnets = public_ips(rng, int(rng.integers(1, 3)), HOSTING_OCTETS) & ~0xFF
    hosts = int(rng.integers(5, 21))
    addresses = subnets[rng.integers(0, len(subnets), hosts)] | rng.choice(
        np.arange(2, 254), hosts, replace=False
    )
    address = ip_strings(addresses)
    tool_device = random_hex(rng, hosts, 16)
    tool_agent = choose(rng, vocab.USER_AGENTS_STUFFING, hosts)
    country = str(rng.choice([c for c in vocab.FRAUD_COUNTRIES if c != pop.country]))

    # the credential list: real customer ids and ids that do not exist
    attempts = int(rng.integers(300, 1001))
    start = moment(rng, day, 0, 21)
    time = np.sort(start + rng.integers(0, int(rng.integers(20, 61)) * MINUTE, attempts))
    real = rng.random(attempts) < 0.6
    user = pl.select(
        pl.when(pl.Series(real))
        .then(pick(pop.customer, rng.integers(0, customers, attempts)))
        .otherwise(numbered("C", rng.integers(customers + 1, 3 * customers + 1000, attempts), 6))
    ).to_series()
    victims = rng.choice(customers, min(int(rng.integers(1, 4)), customers), replace=False)
    hit = rng.choice(np.arange(attempts // 10, attempts), len(victims), replace=False)
    user = user.scatter(hit, pick(pop.customer, victims))
    real[hit] = True
    outcome = np.full(attempts, "failure")
    outcome[hit] = "success"
    reason = pl.Series(np.where(real, "bad_password", "unknown_user")).scatter(hit, None)

    via = rng.integers(0, hosts, attempts)
    access = Access(
        app=pl.Series(["online_banking"] * attempts),
        device=pick(tool_device, via),
        ip=pick(address, via),
        user_agent=pick(tool_agent, via),
        country=country,
    )
    parts = sessions(day, rng, user, time, access, outcome=outcome, reason=reason)

    # cash-out from each account taken over, on a device never seen for that customer
    k = len(victims)
    device = random_hex(rng, k, 16)
    ip = pick(address, via[hit])
    payee = external_accounts(rng, k)
    added = time[hit] + rng.integers(MINUTE, 10 * MINUTE, k)
    paid = added + rng.integers(2 * MINUTE, 30 * MINUTE, k)
    customer = pick(pop.customer, victims)
    parts.append(
        (
            "auth",
            part(
                "auth",
                added,
                ONLINE_SOURCE,
                user=customer,
                app="online_banking",
                action="add_payee",
                outcome="success",
                src_ip=ip,
                device=device,
                host="WEB01",
                country=country,
                user_agent=pick(tool_agent, via[hit]),
                target=payee,
            ),
        )
    )
    parts.append(
        (
            "transaction",
            part(
                "transaction",
                paid,
                CORE_SOURCE,
                account=pick(pop.account, victims),
                customer=customer,
                counterparty=payee,
                amount=np.round(rng.uniform(3000, 20000, k), 0),
                currency=pop.currency,
                direction="debit",
                channel="online",
                status="approved",
                country=country,
                device=device,
                ip=ip,
            ),
        )
    )
    return Injection(
        parts=parts,
        entities=(
            entities("customer", customer)
            + entities("account", pick(pop.account, victims))
            + entities("account", payee)
            + entities("device", device)
            + entities("ip", pick(address, np.unique(via)))
        ),
        stages=["credential_access", "initial_access", "account_manipulation", "cash_out"],
        description=(
            f"Credential stuffing from {hosts} hosts ({attempts} logins), {k} account(s) taken "
            "over, a new payee added and a large transfer sent from each."
        ),
    )
