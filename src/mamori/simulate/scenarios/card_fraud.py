"""Card fraud: a stolen card number is tested with tiny online payments, then emptied.

Within about ten minutes, 10-30 card-not-present authorisations of 0.50-2.00 at several
small online merchants, many declined, from an address and country the customer never uses;
within the next hour, a few large online purchases at electronics and gift-card merchants.
One card, sometimes two from the same breach.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from mamori.simulate import vocab
from mamori.simulate.background.cards import SOURCE
from mamori.simulate.clock import HOUR, MINUTE
from mamori.simulate.context import Day
from mamori.simulate.frames import ip_strings, part, pick, random_hex
from mamori.simulate.population import HOSTING_OCTETS, public_ips
from mamori.simulate.scenarios.base import Injection, entities, moment

NAME = "card_fraud"


def inject(day: Day, rng: np.random.Generator) -> Injection:
    pop = day.pop
    holders = np.flatnonzero(pop.card_count > 0)
    victims = rng.choice(holders, 1 if rng.random() < 0.7 else 2, replace=False)
    card = pop.card_start[victims] + (rng.random(len(victims)) * pop.card_count[victims]).astype(
        np.int64
    )
    home = set(pick(pop.home_country, victims).to_list()) | {pop.country}
    country = str(rng.choice([c for c in vocab.FRAUD_COUNTRIES if c not in home]))
    ip = ip_strings(public_ips(rng, 1, HOSTING_OCTETS))[0]
    device = random_hex(rng, 1, 16)[0]
    start = moment(rng, day, 0, 22)

    # testing: per card, 10-30 tiny payments over ~10 minutes, the last one approved
    tests = rng.integers(10, 31, len(victims))
    t_who = np.repeat(np.arange(len(victims)), tests)
    t_time = start + rng.integers(0, 10 * MINUTE, len(t_who))
    order = np.lexsort((t_time, t_who))
    t_who, t_time = t_who[order], t_time[order]
    declined = rng.random(len(t_who)) < 0.6
    declined[np.cumsum(tests) - 1] = False
    t_merchant = rng.choice(len(vocab.TESTING_MERCHANTS), len(t_who))
    t_mcc, t_name = zip(*vocab.TESTING_MERCHANTS, strict=True)

    # cash-out: per card, 2-5 large purchases within the following hour
    buys = rng.integers(2, 6, len(victims))
    b_who = np.repeat(np.arange(len(victims)), buys)
    b_time = t_time.max() + rng.integers(2 * MINUTE, HOUR, len(b_who))
    b_merchant = rng.choice(len(vocab.FRAUD_MERCHANTS), len(b_who))
    b_mcc, b_name = zip(*vocab.FRAUD_MERCHANTS, strict=True)

    who = np.concatenate([t_who, b_who])
    merchant = pl.concat([pick(t_name, t_merchant), pick(b_name, b_merchant)])
    mcc = pl.concat([pick(t_mcc, t_merchant), pick(b_mcc, b_merchant)])
    amount = np.concatenate(
        [
            np.round(rng.uniform(0.5, 2.0, len(t_who)), 2),
            np.round(rng.uniform(200, 2500, len(b_who)), 2),
        ]
    )
    status = np.concatenate(
        [
            np.where(declined, "declined", "approved"),
            np.where(rng.random(len(b_who)) < 0.9, "approved", "declined"),
        ]
    )
    frame = part(
        "transaction",
        np.concatenate([t_time, b_time]),
        SOURCE,
        account=pick(pop.account, victims[who]),
        customer=pick(pop.customer, victims[who]),
        card=pick(pop.card, card[who]),
        amount=amount,
        currency=pop.currency,
        direction="debit",
        channel="card_not_present",
        status=status,
        merchant=merchant,
        mcc=mcc,
        country=country,
        device=device,
        ip=ip,
    )
    return Injection(
        parts=[("transaction", frame)],
        entities=(
            entities("card", pick(pop.card, card))
            + entities("customer", pick(pop.customer, victims))
            + entities("ip", [ip])
            + entities("device", [device])
        ),
        stages=["card_testing", "card_fraud"],
        description=(
            f"{len(victims)} card(s) tested with {len(t_who)} small online payments from "
            f"{country}, then {len(b_who)} large purchases at electronics and gift-card shops."
        ),
    )
