"""The benign life of a bank, one family of activity per module."""

from __future__ import annotations

from mamori.simulate.background.cards import card_payments
from mamori.simulate.background.online import online_banking
from mamori.simulate.background.payments import account_payments
from mamori.simulate.background.servers import server_room
from mamori.simulate.background.workplace import workplace
from mamori.simulate.context import Day, Parts

FAMILIES = (card_payments, account_payments, online_banking, workplace, server_room)


def background(day: Day) -> Parts:
    """All benign events of one tenant's day, as (kind, part) pairs."""
    return [piece for family in FAMILIES for piece in family(day)]
