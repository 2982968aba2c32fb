"""Card payments: everyday spend with daily and weekly rhythm, ATM cash, trips abroad and
the occasional big purchase (benign look-alikes for card fraud)."""

from __future__ import annotations

import numpy as np
import polars as pl

from mamori.simulate.clock import CARD_WEEKDAY, CARD_WEEKEND, sample_times
from mamori.simulate.context import Day, Parts
from mamori.simulate.frames import choose, part, pick
from mamori.simulate.population import own_item

SOURCE = "sim:card-switch"
TRAVEL_PROBABILITY = 0.004  # a card holder is abroad on a given day
BIG_PURCHASE_PROBABILITY = 0.002
ATM_RATE = 0.06  # cash withdrawals per customer per day
DECLINE_RATE = 0.015


def card_payments(day: Day) -> Parts:
    """One day of card authorisations for every card holder."""
    pop, rng = day.pop, day.rng("cards")
    rhythm = CARD_WEEKEND if day.weekend else CARD_WEEKDAY
    holders = np.flatnonzero(pop.card_count > 0)
    counts = rng.poisson(pop.spend_rate[holders] * (1.15 if day.weekend else 1.0))
    who = np.repeat(holders, counts)
    n = len(who)
    abroad = rng.random(len(pop.customer)) < TRAVEL_PROBABILITY
    travelling = abroad[who]

    merchant = rng.choice(len(pop.merchant), n, p=pop.merchant_weight)
    online = rng.random(n) < pop.merchant_cnp[merchant]
    trip_merchant = rng.integers(0, len(pop.travel_merchant), n)
    amount = pop.typical_amount[who] * pop.merchant_scale[merchant] * rng.lognormal(0, 0.6, n)
    country = pl.select(
        pl.when(pl.Series(travelling))
        .then(pick(pop.travel_country, trip_merchant))
        .otherwise(pl.lit(pop.country))
    ).to_series()
    spend = _authorisations(
        day,
        rng,
        who,
        time=sample_times(rng, day.start, n, rhythm),
        amount=amount,
        merchant=pl.select(
            pl.when(pl.Series(travelling))
            .then(pick(pop.travel_merchant, trip_merchant))
            .otherwise(pick(pop.merchant, merchant))
        ).to_series(),
        mcc=pl.select(
            pl.when(pl.Series(travelling))
            .then(pick(pop.travel_mcc, trip_merchant))
            .otherwise(pick(pop.merchant_mcc, merchant))
        ).to_series(),
        online=online & ~travelling,
        country=country,
        terminal=pick(pop.merchant_terminal, merchant),
    )

    # ATM cash: round amounts, at the bank's own machines
    atm_who = np.repeat(holders, rng.poisson(ATM_RATE, len(holders)))
    m = len(atm_who)
    atm = _authorisations(
        day,
        rng,
        atm_who,
        time=sample_times(rng, day.start, m, rhythm),
        amount=rng.choice(np.array([20, 40, 50, 60, 80, 100, 150, 200, 300, 400]), m),
        merchant=pl.Series([f"ATM {pop.bank_code}"] * m),
        mcc="6011",
        online=np.zeros(m, dtype=bool),
        country=pop.country,
        terminal="ATM" + pl.Series(rng.integers(100, 400, m)).cast(pl.String),
        channel="atm",
    )

    # the rare big purchase in a shop: electronics, furniture, jewellery
    big_who = holders[rng.random(len(holders)) < BIG_PURCHASE_PROBABILITY]
    b = len(big_who)
    big = _authorisations(
        day,
        rng,
        big_who,
        time=sample_times(rng, day.start, b, rhythm),
        amount=rng.uniform(800, 4500, b),
        merchant=choose(
            rng,
            ["YODOBASHI AKIBA 1", "NITORI SHINJUKU 3", "TIFFANY GINZA 1", "BIC CAMERA YURAKUCHO 2"],
            b,
        ),
        mcc=choose(rng, ["5732", "5712", "5944", "5732"], b),
        online=np.zeros(b, dtype=bool),
        country=pop.country,
        terminal=choose(rng, ["A1B2C3D4", "F0E1D2C3", "99AA7710", "5E5E0101"], b),
    )
    return [("transaction", spend), ("transaction", atm), ("transaction", big)]


def _authorisations(
    day: Day,
    rng: np.random.Generator,
    who: np.ndarray,
    *,
    time: np.ndarray,
    amount: np.ndarray,
    merchant: pl.Series,
    mcc: str | pl.Series,
    online: np.ndarray,
    country: str | pl.Series,
    terminal: pl.Series,
    channel: str | None = None,
) -> pl.DataFrame:
    """Authorisations by customers `who`, each on one of their own cards."""
    pop = day.pop
    n = len(who)
    card = own_item(rng, who, pop.card_start, pop.card_count)
    device = own_item(rng, who, pop.device_start, pop.device_count)
    on = pl.Series(online)
    channel_col = (
        pl.select(
            pl.when(on).then(pl.lit("card_not_present")).otherwise(pl.lit("card_present"))
        ).to_series()
        if channel is None
        else channel
    )
    return part(
        "transaction",
        time,
        SOURCE,
        account=pick(pop.account, who),  # cards draw on the main account
        customer=pick(pop.customer, who),
        card=pick(pop.card, card),
        amount=np.maximum(np.round(amount, 2), 0.5),
        currency=pop.currency,
        direction="debit",
        channel=channel_col,
        status=np.where(rng.random(n) < DECLINE_RATE, "declined", "approved"),
        merchant=merchant,
        mcc=mcc,
        terminal=pl.select(pl.when(on).then(None).otherwise(terminal)).to_series(),
        country=country,
        device=pl.select(pl.when(on).then(pick(pop.device, device))).to_series(),
        ip=pl.select(pl.when(on).then(pick(pop.home_ip_str, who))).to_series(),
    )
