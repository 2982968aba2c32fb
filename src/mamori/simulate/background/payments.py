"""Account payments: bills by direct debit, salaries, transfers to known payees, the
occasional new payee (a benign look-alike for account takeover) and the bank's own SWIFT
payments (the benign side of the heist scenario)."""

from __future__ import annotations

import numpy as np
import polars as pl

from mamori.simulate.background.online import SOURCE as ONLINE_SOURCE
from mamori.simulate.background.online import sessions, usual_access
from mamori.simulate.clock import BUSINESS, HOUR, LOGIN, MINUTE, SECOND, sample_times
from mamori.simulate.context import Day, Parts
from mamori.simulate.frames import part, pick
from mamori.simulate.population import NOSTRO_CUSTOMER, external_accounts, own_item

SOURCE = "sim:core-banking"
SWIFT_SOURCE = "sim:swift"
TRANSFER_RATE = 0.07  # transfers to a known payee per customer per day
NEW_PAYEE_RATE = 0.003  # a customer adds a new payee and pays them
INCOMING_RATE = 0.02  # refunds, family, sales: credits from someone else


def account_payments(day: Day) -> Parts:
    """A day of bills, salaries, incoming credits and customer transfers."""
    pop, rng = day.pop, day.rng("payments")
    parts: Parts = []

    bills = np.flatnonzero(pop.bill_day == day.date.day)
    who = pop.bill_owner[bills]
    parts.append(
        (
            "transaction",
            _booking(
                day,
                who,
                sample_times(rng, day.start, len(who), _BATCH),
                "debit",
                "direct_debit",
                np.round(pop.bill_amount[bills] * rng.uniform(0.9, 1.1, len(who)), 2),
                pick(pop.bill_payee, bills),
            ),
        )
    )

    paid = np.flatnonzero((pop.payday == day.date.day) & (pop.salary > 0))
    parts.append(
        (
            "transaction",
            _booking(
                day,
                paid,
                sample_times(rng, day.start, len(paid), _BATCH),
                "credit",
                "transfer",
                np.round(pop.salary[paid] * rng.uniform(0.95, 1.05, len(paid)), 0),
                external_accounts(day.rng("employers"), len(paid)),
            ),
        )
    )

    incoming = np.flatnonzero(rng.random(len(pop.customer)) < INCOMING_RATE)
    parts.append(
        (
            "transaction",
            _booking(
                day,
                incoming,
                sample_times(rng, day.start, len(incoming), BUSINESS),
                "credit",
                "transfer",
                np.round(rng.lognormal(np.log(80), 1.0, len(incoming)), 2),
                external_accounts(rng, len(incoming)),
            ),
        )
    )

    payers = np.flatnonzero(rng.random(len(pop.customer)) < TRANSFER_RATE)
    payee = own_item(rng, payers, pop.payee_start, pop.payee_count)
    parts += _online_transfers(day, rng, payers, pick(pop.payee, payee), new_payee=False)

    adders = np.flatnonzero(rng.random(len(pop.customer)) < NEW_PAYEE_RATE)
    parts += _online_transfers(
        day, rng, adders, external_accounts(rng, len(adders)), new_payee=True
    )
    parts.append(("transaction", _swift(day, rng)))
    return parts


#: Batch processing of direct debits and payroll: early morning.
_BATCH = np.array([0, 0, 1, 3, 4, 3, 1] + [0] * 17, dtype=float) / 12


def _booking(
    day: Day,
    who: np.ndarray,
    time: np.ndarray,
    direction: str,
    channel: str,
    amount: np.ndarray,
    counterparty: pl.Series,
) -> pl.DataFrame:
    """Bookings on customers' main accounts, without a device (batch or interbank)."""
    pop = day.pop
    return part(
        "transaction",
        time,
        SOURCE,
        account=pick(pop.account, who),
        customer=pick(pop.customer, who),
        counterparty=counterparty,
        amount=amount,
        currency=pop.currency,
        direction=direction,
        channel=channel,
        status="approved",
        country=pop.country,
    )


def _online_transfers(
    day: Day, rng: np.random.Generator, who: np.ndarray, payee: pl.Series, *, new_payee: bool
) -> Parts:
    """Customers log in and transfer money; with `new_payee`, they register the payee first."""
    pop = day.pop
    n = len(who)
    login = sample_times(rng, day.start, n, LOGIN)
    login = np.minimum(login, day.end - 3 * HOUR)  # leave time for the rest of the session
    access = usual_access(day, rng, who)
    parts = sessions(day, rng, pick(pop.customer, who), login, access)
    paid = login + rng.integers(30 * SECOND, 5 * MINUTE, n)
    if new_payee:
        added = login + rng.integers(20 * SECOND, 3 * MINUTE, n)
        paid = added + rng.integers(MINUTE, 2 * HOUR, n)
        parts.append(
            (
                "auth",
                part(
                    "auth",
                    added,
                    ONLINE_SOURCE,
                    user=pick(pop.customer, who),
                    app=access.app,
                    action="add_payee",
                    outcome="success",
                    src_ip=access.ip,
                    device=access.device,
                    host="WEB01",
                    country=access.country,
                    user_agent=access.user_agent,
                    target=payee,
                ),
            )
        )
    scale = 10.0 if new_payee else 6.0
    amount = np.round(pop.typical_amount[who] * scale * rng.lognormal(0, 0.8, n), 0)
    parts.append(
        (
            "transaction",
            part(
                "transaction",
                paid,
                SOURCE,
                account=pick(pop.account, who),
                customer=pick(pop.customer, who),
                counterparty=payee,
                amount=np.maximum(amount, 5.0),
                currency=pop.currency,
                direction="debit",
                channel="online",
                status="approved",
                country=pop.country,
                device=access.device,
                ip=access.ip,
            ),
        )
    )
    return parts


def _swift(day: Day, rng: np.random.Generator) -> pl.DataFrame:
    """The bank's own cross-border payments to and from its correspondents, business hours."""
    pop = day.pop
    n = 0 if day.weekend else int(rng.integers(5, 31))
    peer = rng.integers(0, len(pop.correspondent), n)
    return part(
        "transaction",
        sample_times(rng, day.start, n, BUSINESS),
        SWIFT_SOURCE,
        account=pop.nostro_account,
        customer=NOSTRO_CUSTOMER,
        counterparty=pick(pop.correspondent, peer),
        amount=np.round(np.clip(rng.lognormal(np.log(250_000), 1.1, n), 10_000, 5_000_000), 2),
        currency=pop.currency,
        direction=np.where(rng.random(n) < 0.5, "debit", "credit"),
        channel="swift",
        terminal="PAYGW01",
        status="approved",
        country=pick(pop.correspondent_country, peer),
    )
