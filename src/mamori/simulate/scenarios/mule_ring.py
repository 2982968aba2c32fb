"""Money mule ring: customers' accounts launder the proceeds of fraud.

Over a few hours each mule account receives many credits from many different victims
(placement); within one to six hours it forwards most of the money, in a few online debits
made from a small set of devices and addresses the ring shares, to the same one to three
collector accounts (layering); the mule then takes the cut out in cash (integration).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from mamori.simulate.background.cards import SOURCE as CARD_SOURCE
from mamori.simulate.background.online import Access, sessions
from mamori.simulate.background.payments import SOURCE as CORE_SOURCE
from mamori.simulate.clock import HOUR, MINUTE
from mamori.simulate.context import Day
from mamori.simulate.frames import ip_strings, part, pick, random_hex
from mamori.simulate.population import CONSUMER_OCTETS, external_accounts, public_ips
from mamori.simulate.scenarios.base import Injection, entities, moment

NAME = "mule_ring"


def inject(day: Day, rng: np.random.Generator) -> Injection:
    pop = day.pop
    mules = rng.choice(
        len(pop.customer), min(int(rng.integers(5, 11)), len(pop.customer)), replace=False
    )
    m = len(mules)
    devices = random_hex(rng, int(rng.integers(2, 4)), 16)
    addresses = ip_strings(public_ips(rng, int(rng.integers(1, 3)), CONSUMER_OCTETS))
    collectors = external_accounts(rng, int(rng.integers(1, 4)))
    start = moment(rng, day, 7, 10)

    # placement: 10-40 credits per mule from distinct victims over 2-3.5 hours
    credits = rng.integers(10, 41, m)
    c_who = np.repeat(np.arange(m), credits)
    opens = start + rng.integers(0, 45 * MINUTE, m)
    span = rng.integers(2 * HOUR, int(3.5 * HOUR), m)
    c_time = opens[c_who] + (rng.random(len(c_who)) * span[c_who]).astype(np.int64)
    c_amount = np.round(np.clip(rng.lognormal(np.log(900), 0.6, len(c_who)), 200, 3000), 0)
    received = np.bincount(c_who, weights=c_amount, minlength=m)
    last_credit = np.zeros(m, dtype=np.int64)
    np.maximum.at(last_credit, c_who, c_time)

    # layering: 1-6 hours later, 80-95% forwarded in 2-4 debits to the collectors
    debits = rng.integers(2, 5, m)
    d_who = np.repeat(np.arange(m), debits)
    first = last_credit + rng.integers(HOUR, 6 * HOUR, m)
    d_time = first[d_who] + rng.integers(0, 50 * MINUTE, len(d_who))
    share = rng.dirichlet(np.ones(4), m)
    share = np.where(np.arange(4) < debits[:, None], share, 0)
    share /= share.sum(axis=1, keepdims=True)
    forwarded = received * rng.uniform(0.8, 0.95, m)
    d_amount = np.round(forwarded[:, None] * share, 0)[share > 0]
    to_collector = rng.integers(0, len(collectors), len(d_who))
    access_at = rng.integers(0, len(devices), len(d_who))
    d_ip = pick(addresses, rng.integers(0, len(addresses), len(d_who)))
    login_time = d_time - rng.integers(MINUTE, 5 * MINUTE, len(d_who))
    access = Access(
        app=pl.Series(["mobile_banking"] * len(d_who)),
        device=pick(devices, access_at),
        ip=d_ip,
        user_agent=pick(pop.device_agent, rng.integers(0, len(pop.device_agent), len(d_who))),
        country=pop.country,
    )

    # integration: the mule's cut, taken out at cash machines
    cash = np.round((received - forwarded) * rng.uniform(0.5, 0.9, m) / 10) * 10
    cash_time = d_time.max() + rng.integers(30 * MINUTE, 90 * MINUTE, m)
    has_card = pop.card_count[mules] > 0
    card = pl.select(
        pl.when(pl.Series(has_card)).then(
            pick(pop.card, np.where(has_card, pop.card_start[mules], 0))
        )
    ).to_series()

    account, customer = pick(pop.account, mules), pick(pop.customer, mules)
    parts = sessions(day, rng, pick(customer, d_who), login_time, access)
    parts += [
        (
            "transaction",
            part(
                "transaction",
                c_time,
                CORE_SOURCE,
                account=pick(account, c_who),
                customer=pick(customer, c_who),
                counterparty=external_accounts(rng, len(c_who)),
                amount=c_amount,
                currency=pop.currency,
                direction="credit",
                channel="transfer",
                status="approved",
                country=pop.country,
            ),
        ),
        (
            "transaction",
            part(
                "transaction",
                d_time,
                CORE_SOURCE,
                account=pick(account, d_who),
                customer=pick(customer, d_who),
                counterparty=pick(collectors, to_collector),
                amount=d_amount,
                currency=pop.currency,
                direction="debit",
                channel="online",
                status="approved",
                country=pop.country,
                device=access.device,
                ip=d_ip,
            ),
        ),
        (
            "transaction",
            part(
                "transaction",
                cash_time,
                CARD_SOURCE,
                account=account,
                customer=customer,
                card=card,
                amount=np.maximum(cash, 10),
                currency=pop.currency,
                direction="debit",
                channel="atm",
                status="approved",
                merchant=f"ATM {pop.bank_code}",
                mcc="6011",
                terminal="ATM" + pl.Series(rng.integers(100, 400, m)).cast(pl.String),
                country=pop.country,
            ),
        ),
    ]
    return Injection(
        parts=parts,
        entities=(
            entities("customer", customer)
            + entities("account", account)
            + entities("account", pick(collectors, np.unique(to_collector)))
            + entities("device", pick(devices, np.unique(access_at)))
            + entities("ip", d_ip.unique(maintain_order=True))
        ),
        stages=["placement", "layering", "integration"],
        description=(
            f"{m} mule accounts received {len(c_who)} credits from distinct payers and "
            f"forwarded {forwarded.sum():,.0f} {pop.currency} to {len(collectors)} collector "
            "account(s) from shared devices."
        ),
    )
