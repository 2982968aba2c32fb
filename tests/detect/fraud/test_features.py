"""Window exactness, label delay and train/serve parity of the fraud features."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from mamori.detect.fraud import features
from mamori.detect.fraud.features import (
    FEATURES,
    TIME_FEATURES,
    OnlineFeatures,
    batch_features,
    entities_of,
    label_items,
    labels_with_delay,
)
from mamori.detect.fraud.windows import BatchStream, EntityLog
from mamori.events.schema import conform
from tests.detect.fraud.conftest import T0, payments

DAY = timedelta(days=1)


def _events(rows: list[dict]) -> pl.DataFrame:
    return conform(
        pl.DataFrame([{"event_id": f"e{i}", **r} for i, r in enumerate(rows)]), "transaction"
    )


def _online(events: pl.DataFrame, labels: pl.DataFrame | None = None) -> np.ndarray:
    online = OnlineFeatures()
    if labels is not None:
        for row in label_items(events, labels).iter_rows(named=True):
            online.add_labels(row, row["known_at"], row["fraud"])
    return np.array([online.score_one(r) for r in events.iter_rows(named=True)])


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a == b) | (np.isnan(a) & np.isnan(b))


def test_batch_and_online_features_are_identical(synthetic):
    events, labels = synthetic
    known = labels_with_delay(labels, 7).sample(fraction=1.0, shuffle=True, seed=3)
    batch = batch_features(events, known).select(FEATURES).to_numpy()
    online = _online(events, known)
    same = _same(batch, online)
    assert same.all(), [FEATURES[j] for j in np.flatnonzero(~same.all(axis=0))]
    # the features are not trivially empty: most have values, and they vary
    filled = ~np.isnan(batch)
    assert filled.mean() > 0.7 and np.nanstd(batch[:, FEATURES.index("payer_count_7d")]) > 1
    for name in ("payer_distinct_terminals_7d", "payer_distinct_merchants_7d",
                 "terminal_distinct_payers_1d"):  # distinct counts compared, and they vary
        assert np.nanmax(batch[:, FEATURES.index(name)]) >= 3, name


def test_batch_features_after_history_equal_those_of_the_whole_frame(synthetic):
    events, labels = synthetic
    known = labels_with_delay(labels, 7)
    whole = batch_features(events, known).select(FEATURES).to_numpy()
    tail = batch_features(events, known, first=2000).select(FEATURES).to_numpy()
    assert _same(whole[2000:], tail).all()


def test_windows_are_exact_at_their_edges():
    # a payment exactly one day before is outside the 1-day window, one microsecond later inside
    rows = [
        {"time": T0, "card": "K", "amount": 10.0},
        {"time": T0 + timedelta(microseconds=1), "card": "K", "amount": 20.0},
        {"time": T0 + DAY, "card": "K", "amount": 30.0},
        {"time": T0 + DAY, "card": "K", "amount": 40.0},  # a tie: counted after its twin
    ]
    events = _events(rows)
    f = batch_features(events)
    assert f["payer_count_1d"].to_list() == [1.0, 2.0, 2.0, 3.0]
    assert f["payer_mean_amount_1d"].to_list() == [10.0, 15.0, 25.0, 30.0]
    assert f["payer_seconds_since_last"].to_list()[1:] == [1e-6, 86_400 - 1e-6, 0.0]
    assert _same(f.select(FEATURES).to_numpy(), _online(events)).all()


def test_distinct_counts_are_exact_at_their_edges_and_count_each_value_once():
    us = timedelta(microseconds=1)
    rows = [
        {"time": T0, "card": "K", "terminal": "T1", "amount": 1.0},
        {"time": T0 + us, "card": "K", "terminal": "T2", "amount": 1.0},
        {"time": T0 + 2 * us, "card": "K", "terminal": "T2", "amount": 1.0},  # T2 again
        {"time": T0 + 3 * us, "card": "K", "amount": 1.0},  # no terminal: counts none
        {"time": T0 + 3 * us, "card": "L", "terminal": "T2", "amount": 1.0},
        {"time": T0 + DAY, "card": "K", "terminal": "T3", "amount": 1.0},  # T1 just left
        {"time": T0 + DAY + us, "card": "K", "terminal": "T3", "amount": 1.0},  # T2 (1st) left
        {"time": T0 + DAY + 2 * us, "card": "K", "terminal": "T3", "amount": 1.0},  # T2 left
        {"time": T0 + 8 * DAY, "terminal": "T3", "amount": 1.0},  # no payer
        {"time": T0 + 8 * DAY, "card": "K", "terminal": "T1", "amount": 1.0},
    ]
    events = _events(rows)
    f = batch_features(events)
    nan = np.nan
    assert _same(f["payer_distinct_terminals_1d"].to_numpy(),
                 np.array([1, 2, 2, 2, 1, 2, 2, 1, nan, 1.0])).all()
    assert _same(f["payer_distinct_terminals_7d"].to_numpy(),
                 np.array([1, 2, 2, 2, 1, 3, 3, 3, nan, 2.0])).all()  # T3 within, T2 gone
    assert _same(f["terminal_distinct_payers_1d"].to_numpy(),
                 np.array([1, 1, 1, nan, 2, 1, 1, 1, 0, 1.0])).all()
    assert _same(f["payer_distinct_merchants_7d"].to_numpy(),  # no merchants: none counted
                 np.array([0.0] * 8 + [nan, 0.0])).all()
    assert _same(f.select(FEATURES).to_numpy(), _online(events)).all()


def test_novelty_is_per_payer_and_forgets_after_ninety_days():
    rows = [
        {"time": T0, "card": "K", "terminal": "T1", "amount": 1.0},
        {"time": T0 + DAY, "card": "K", "terminal": "T1", "amount": 1.0},
        {"time": T0 + DAY, "card": "L", "terminal": "T1", "amount": 1.0},
        {"time": T0 + 91 * DAY, "card": "K", "terminal": "T1", "amount": 1.0},
        {"time": T0 + 91 * DAY, "card": "K", "amount": 1.0},
    ]
    f = batch_features(_events(rows))
    assert _same(f["new_terminal"].to_numpy(), np.array([1.0, 0.0, 1.0, 1.0, np.nan])).all()


def test_a_label_younger_than_its_delay_never_influences_a_feature():
    rows = [{"time": T0 + i * timedelta(hours=6), "card": "K", "terminal": "T",
             "amount": 10.0} for i in range(60)]
    events = _events(rows)
    base = pl.DataFrame({"event_id": events["event_id"], "time": events["time"],
                         "fraud": np.zeros(60, dtype=np.int8)})
    flipped = base.with_columns(fraud=pl.when(pl.col("event_id") == "e0").then(1).otherwise(0)
                                .cast(pl.Int8))
    a = batch_features(events, labels_with_delay(base, 7))
    b = batch_features(events, labels_with_delay(flipped, 7))
    differ = (a["terminal_fraud_share_30d"] != b["terminal_fraud_share_30d"]).to_numpy()
    # the fraud at T0 is known at T0 + 7 days: payments before that cannot see it
    first_seen = int(np.argmax(differ))
    assert events["time"][first_seen] == T0 + 7 * DAY
    assert not differ[:first_seen].any() and differ[first_seen:].all()
    assert b["payer_frauds_7d"].to_list()[first_seen - 1 : first_seen + 1] == [0.0, 1.0]
    # and the label leaves the 7-day payer window 7 days after it became known
    assert b.filter(pl.col("event_id") == "e56")["payer_frauds_7d"].item() == 0.0


def test_labels_arriving_late_and_out_of_order_are_counted_from_their_known_time():
    log = EntityLog(2)
    for t, fraud in [(50, 1), (10, 0), (30, 1), (10, 1)]:
        log.add(t, (1, fraud))
    assert log.times == [10, 10, 30, 50]
    assert log.window_sums(9, 30) == (3, 2) and log.window_sums(10, 49) == (1, 1)
    log.prune(10)
    assert log.window_sums(0, 100) == (2, 2)


def test_batch_streams_ignore_items_without_an_entity():
    codes = np.array([0, -1, 0, 1])
    times = np.array([0, 1, 2, 3])
    stream = BatchStream(codes, times, [np.array([1, 2, 4, 8])])
    query = stream.query(codes, times, own_from=0)
    assert query.counts(100).tolist() == [1, 0, 2, 1]
    assert query.sums(100, 0).tolist() == [1, 0, 5, 8]
    assert stream.query(codes[2:], times[2:], own_from=2).counts(1).tolist() == [1, 1]


def test_window_ends_are_the_same_when_entity_times_would_overflow():
    rng = np.random.default_rng(5)
    times = np.sort(rng.integers(0, 10_000, 3000))
    codes = rng.integers(-1, 40, 3000)
    values = [rng.integers(0, 100, 3000)]
    near = BatchStream(codes, times, values)
    far_codes, far_times = np.append(codes, 0), np.append(times, 1 << 61)
    far = BatchStream(far_codes, far_times, [np.append(values[0], 1)])
    assert near.entities is not None and far.entities is None  # the other search
    a, b = near.query(codes, times, own_from=0), far.query(far_codes, far_times, own_from=0)
    for width in (1, 50, 700, 10_000, 1 << 40):
        assert np.array_equal(a.counts(width), b.counts(width)[:3000])
        assert np.array_equal(a.sums(width, 0), b.sums(width, 0)[:3000])
    # queries that are not the stream's items: other entities, times before and after it
    codes_q = rng.integers(-1, 45, 500)
    times_q = np.sort(rng.integers(-2000, 12_000, 500))
    a, b = near.query(codes_q, times_q), far.query(codes_q, times_q)
    for width in (1, 50, 700, 10_000, 1 << 40):
        assert np.array_equal(a.counts(width), b.counts(width))
        assert np.array_equal(a.sums(width, 0), b.sums(width, 0))
    assert a.counts(1 << 40).sum() > 0


def test_window_queries_at_other_times_count_up_to_and_including_that_time():
    codes = np.array([0, 0, 1, 0])
    times = np.array([0, 10, 10, 20])
    stream = BatchStream(codes, times, [np.array([1, 2, 4, 8])])
    query = stream.query(np.array([0, 1, -1, 0]), np.array([10, 10, 15, 30]))
    assert query.counts(10).tolist() == [1, 1, 0, 0]  # (0, 10], (0, 10], none, (20, 30]
    assert query.sums(11, 0).tolist() == [3, 4, 0, 8]


def test_parity_holds_on_another_seed_with_many_ties():
    events, labels = payments(n=1500, days=5, seed=9)
    known = labels_with_delay(labels, 1)
    assert _same(batch_features(events, known).select(FEATURES).to_numpy(),
                 _online(events, known)).all()


def test_entities_prefer_the_card_then_account_then_customer():
    assert entities_of({"customer": "C", "account": "A"})["payer"] == "A"
    assert entities_of({"customer": "C", "card": "K", "account": "A"})["payer"] == "K"


def test_entities_whose_hashes_share_their_top_bits_still_count_apart(synthetic, monkeypatch):
    events, labels = synthetic
    known = labels_with_delay(labels, 7)
    expected = batch_features(events, known)
    # with 4-bit codes, many of the cards, terminals and pairs share their hash's top bits
    monkeypatch.setattr(features, "code_bits", lambda *lengths: 4)
    assert _same(batch_features(events, known).select(FEATURES).to_numpy(),
                 expected.select(FEATURES).to_numpy()).all()


def test_features_asked_for_are_those_of_the_full_set_and_the_rest_are_not_computed(synthetic):
    events, labels = synthetic
    known = labels_with_delay(labels, 7)
    asked = ["payer_count_10m", "payer_amount_vs_mean_90d", "terminal_fraud_share_7d",
             "payer_seconds_since_last", "new_terminal"]
    full = batch_features(events, known, first=1000)
    some = batch_features(events, known, first=1000, only=asked)
    assert _same(full.select(asked).to_numpy(), some.select(asked).to_numpy()).all()
    rest = [f for f in FEATURES if f not in asked and f != "amount" and f not in TIME_FEATURES]
    assert np.isnan(some.select(rest).to_numpy()).all()
    assert not np.isnan(full.select(rest).to_numpy()).all(axis=0).all()


def test_labels_join_their_payments_entities_and_labels_of_unseen_payments_are_left_out():
    events = _events([{"time": T0, "card": "K", "terminal": "T", "amount": 1.0},
                      {"time": T0 + DAY, "customer": "C", "amount": 2.0}])
    labels = pl.DataFrame({"event_id": ["e1", "nope", "e0"], "known_at": [T0 + 2 * DAY] * 3,
                           "fraud": [1, 1, 0]})
    items = label_items(events, labels).sort("event_id")
    assert items.select("event_id", "fraud", "payer", "terminal").rows() == [
        ("e0", 0, "K", "T"), ("e1", 1, "C", None)
    ]
