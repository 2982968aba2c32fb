"""Chunks: schemas, ordering, boundaries, ids and volume."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from mamori.events.schema import schema
from mamori.simulate.frames import luhn_valid

KINDS = ("transaction", "flow", "auth", "winlog")


def test_one_chunk_per_hour_contiguous_from_start(two_banks):
    chunks = two_banks.chunks
    assert len(chunks) == 24 * two_banks.cfg.days
    assert chunks[0].start == two_banks.cfg.start
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert before.end - before.start == timedelta(hours=1)
        assert before.end == after.start


def test_every_batch_conforms_and_is_sorted_within_its_hour(two_banks):
    for chunk in two_banks.chunks:
        assert sorted(chunk.batches) == sorted(KINDS)
        for kind, batch in chunk.batches.items():
            assert batch.schema == pl.Schema(schema(kind)), kind
            assert batch["time"].is_sorted(), (kind, chunk.start)
            assert batch["kind"].eq(kind).all()
            if batch.height:
                assert batch["time"].min() >= chunk.start
                assert batch["time"].max() < chunk.end


def test_event_ids_are_unique_and_name_their_tenant(two_banks):
    ids = pl.concat([two_banks.events(k).select("event_id", "tenant") for k in KINDS])
    assert ids["event_id"].n_unique() == ids.height
    assert ids["event_id"].null_count() == 0
    prefix = ids["event_id"].str.split(":").list.first()
    assert (prefix == ids["tenant"]).all()


def test_volume_is_about_a_hundred_events_per_customer_per_working_day(one_bank):
    background = sum(
        one_bank.events(k).filter(~pl.col("event_id").is_in(_malicious(one_bank).implode())).height
        for k in KINDS
    )
    per_customer = background / one_bank.cfg.customers
    assert 70 <= per_customer <= 140, per_customer


def test_daily_rhythm_card_spend_peaks_at_lunch(two_banks):
    cards = two_banks.events("transaction").filter(
        pl.col("channel").is_in(["card_present", "card_not_present"]),
        ~pl.col("event_id").is_in(_malicious(two_banks).implode()),
    )
    hour = cards["time"].dt.hour()
    lunch, night = int((hour == 12).sum()), int((hour == 3).sum())
    assert lunch > 8 * max(night, 1), (lunch, night)


def test_winlog_record_ids_increase_per_host_across_days(two_banks):
    winlog = two_banks.events("winlog")
    steps = winlog.group_by("tenant", "Computer", maintain_order=True).agg(
        pl.col("EventRecordID").diff().drop_nulls().min().alias("step")
    )
    assert steps["step"].min() == 1


def test_reference_tables_describe_the_bank(one_bank):
    ref = one_bank.reference
    customers, employees, hosts = ref["customers"], ref["employees"], ref["hosts"]
    assert customers.height == one_bank.cfg.customers
    assert customers["customer"].n_unique() == customers.height
    assert customers["accounts"].list.len().is_between(1, 2).all()
    assert customers["cards"].list.len().is_between(0, 2).all()
    pans = customers["cards"].explode().drop_nulls().to_list()
    assert pans and all(len(p) == 16 and luhn_valid(p) for p in pans)
    assert employees.height == 20  # at least 20 staff
    assert set(employees["role"]) >= {"teller", "it_admin", "payments_operator"}
    assert {"DC01", "CORE01", "PAYGW01", "WEB01", "DB01", "BACKUP01"} <= set(hosts["host"])
    assert set(one_bank.events("winlog")["Computer"]) <= set(hosts["host"])


def _malicious(run) -> pl.Series:
    return run.truth["event_ids"].explode()
