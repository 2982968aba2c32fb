"""Ground truth: complete, exact, and consistent with the events."""

from __future__ import annotations

import polars as pl
import pytest

from mamori.simulate import SCENARIOS, SimConfig, simulate
from mamori.simulate.day import TRUTH_SCHEMA

KINDS = ("transaction", "flow", "auth", "winlog")


def _all_events(run) -> pl.DataFrame:
    """Every event as (event_id, tenant, time, text of all its string values)."""
    frames = []
    for kind in KINDS:
        events = run.events(kind)
        text = [c for c, t in events.schema.items() if t == pl.String and c != "event_id"]
        frames.append(
            events.select(
                "event_id",
                "tenant",
                "time",
                pl.concat_str(text, separator="|", ignore_nulls=True).alias("text"),
            )
        )
    return pl.concat(frames)


def test_truth_has_its_schema_and_one_instance_per_scenario_per_tenant_day(two_banks):
    truth = two_banks.truth
    assert truth.schema == pl.Schema(TRUTH_SCHEMA)
    counts = truth.group_by("tenant", "scenario").len()
    assert counts.height == len(two_banks.cfg.tenants) * len(SCENARIOS)
    assert counts["len"].eq(two_banks.cfg.days).all()
    assert truth["instance_id"].n_unique() == truth.height
    assert truth["start"].dt.date().n_unique() == two_banks.cfg.days


def test_every_listed_event_exists_and_bounds_the_instance(two_banks):
    events = _all_events(two_banks)
    listed = two_banks.truth.select("instance_id", "tenant", "start", "end", "event_ids").explode(
        "event_ids"
    )
    assert listed["event_ids"].n_unique() == listed.height  # no event in two instances
    found = listed.join(events, left_on="event_ids", right_on="event_id", how="left")
    assert found["time"].null_count() == 0
    assert (found["tenant"] == found["tenant_right"]).all()
    bounds = found.group_by("instance_id").agg(
        (pl.col("time").min() == pl.col("start").first()).alias("starts"),
        (pl.col("time").max() == pl.col("end").first()).alias("ends"),
    )
    assert bounds["starts"].all() and bounds["ends"].all()


def test_every_entity_appears_in_its_instances_events(two_banks):
    for row in two_banks.truth.iter_rows(named=True):
        ids = pl.Series(row["event_ids"]).implode()
        values: set[str] = set()
        for kind in KINDS:
            events = two_banks.events(kind).filter(pl.col("event_id").is_in(ids))
            text = events.select(pl.col(pl.String).exclude("event_id"))
            cells = text.unpivot()["value"].drop_nulls().unique()
            values |= set(cells) | set(cells.str.split("\\").list.last())  # DOMAIN\\user
        assert row["entities"], row["scenario"]
        for entity in row["entities"]:
            kind, _, value = entity.partition(":")
            assert kind in {"customer", "account", "card", "device", "ip", "host", "user"}
            assert value in values, (row["scenario"], entity)


STAGES = {
    "account_takeover": ["credential_access", "initial_access", "account_manipulation", "cash_out"],
    "card_fraud": ["card_testing", "card_fraud"],
    "mule_ring": ["placement", "layering", "integration"],
    "heist_intrusion": [
        "initial_access",
        "execution",
        "command_and_control",
        "credential_access",
        "lateral_movement",
        "impact",
        "defense_evasion",
    ],
    "exfiltration": ["exfiltration"],
    "ddos": ["impact"],
    "insider": ["collection"],
}


def test_stages_are_listed_in_order(two_banks):
    assert set(STAGES) == set(SCENARIOS)
    for row in two_banks.truth.iter_rows(named=True):
        assert row["stages"] == STAGES[row["scenario"]]


def test_scenarios_can_be_chosen_and_unknown_ones_are_refused():
    sim = simulate(SimConfig(seed=3, customers=300, scenarios=("insider", "exfiltration")))
    assert sim.truth()["scenario"].to_list() == ["insider", "exfiltration"]
    with pytest.raises(ValueError, match="unknown scenarios"):
        simulate(SimConfig(customers=300, scenarios=("moon_landing",)))


def test_truth_is_available_before_iterating_and_matches(one_bank):
    ahead = simulate(one_bank.cfg).truth()
    assert ahead.equals(one_bank.truth)


def test_config_rejects_a_bank_too_small_for_its_scenarios():
    with pytest.raises(ValueError, match="customers must be at least"):
        SimConfig(customers=10)


def test_quiet_days_carry_no_attack():
    from datetime import UTC, datetime, timedelta

    from mamori.simulate import SimConfig, simulate

    start = datetime(2026, 11, 2, tzinfo=UTC)
    sim = simulate(SimConfig(seed=3, customers=200, days=2, quiet_days=1, start=start))
    for _ in sim.chunks():
        pass
    truth = sim.truth()
    assert truth.height == 7
    assert truth["start"].min() >= start + timedelta(days=1)
