"""Seeds: the same config gives the same bank; tenants are separate banks."""

from __future__ import annotations

import polars as pl

from mamori.simulate import SimConfig

from .conftest import START, run


def _same(a, b) -> bool:
    return all(
        x.batches[k].equals(y.batches[k])
        for x, y in zip(a.chunks, b.chunks, strict=True)
        for k in x.batches
    )


def test_same_seed_gives_identical_events_and_truth(one_bank):
    again = run(one_bank.cfg)
    assert _same(one_bank, again)
    assert one_bank.truth.equals(again.truth)
    for name, table in one_bank.reference.items():
        assert table.equals(again.reference[name])


def test_another_seed_gives_another_bank(one_bank):
    other = run(SimConfig(seed=12, customers=500, start=START))
    assert not _same(one_bank, other)
    assert not one_bank.reference["customers"].equals(other.reference["customers"])
    assert not one_bank.truth["start"].equals(other.truth["start"])


def test_a_tenant_does_not_change_when_another_is_added(one_bank, two_banks):
    day_one = two_banks.chunks[:24]
    for alone, shared in zip(one_bank.chunks, day_one, strict=True):
        for kind, batch in alone.batches.items():
            assert batch.equals(shared.batches[kind].filter(pl.col("tenant") == "bank-a"))


def test_tenants_are_separate_populations(two_banks):
    customers = two_banks.reference["customers"]
    a = customers.filter(pl.col("tenant") == "bank-a")
    b = customers.filter(pl.col("tenant") == "bank-b")
    assert set(a["home_ip"]).isdisjoint(set(b["home_ip"]))
    assert set(a["accounts"].explode()).isdisjoint(set(b["accounts"].explode()))
    assert set(a["cards"].explode().drop_nulls()).isdisjoint(set(b["cards"].explode().drop_nulls()))
    a_tx = two_banks.events("transaction").filter(pl.col("tenant") == "bank-a")
    assert set(a_tx["customer"]) <= set(a["customer"]) | {"BANK-NOSTRO"}
    cards_b = set(b["cards"].explode().drop_nulls())
    used_a = set(two_banks.events("transaction").filter(pl.col("tenant") == "bank-a")["card"])
    assert used_a.isdisjoint(cards_b)
