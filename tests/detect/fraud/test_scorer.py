"""The fraud scorer: model, rules and decisions; the registry; batch and one-by-one scoring."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from mamori.detect.fraud.evaluate import metrics
from mamori.detect.fraud.features import (
    FEATURES,
    batch_features,
    feature_columns,
    labels_with_delay,
)
from mamori.detect.fraud.model import LEFT_OUT, FraudModel, train
from mamori.detect.fraud.registry import ModelRegistry, RegistryError
from mamori.detect.fraud.rules import RuleError, RuleSet
from mamori.detect.fraud.scorer import FraudScorer
from tests.detect.fraud.conftest import T0


@pytest.fixture(scope="module")
def model(synthetic) -> FraudModel:
    events, labels = synthetic
    X = batch_features(events, labels_with_delay(labels, 7)).select(FEATURES).to_numpy()
    times = events["time"].dt.epoch("us").to_numpy()
    return train(X, labels["fraud"].to_numpy(), times, validate_from=T0 + timedelta(days=30),
                 max_trees=40, params={"min_data_in_leaf": 20})


def test_the_model_learns_and_its_card_says_what_it_learned_from(model, synthetic):
    card = model.card
    assert card["features"] == FEATURES and card["rows"] == synthetic[0].height
    assert card["metrics"]["validation_auc_roc"] > 0.75
    assert card["window"]["validate_from"].startswith("2024-01-31")


def test_registry_promotes_rolls_back_and_shadows(model, tmp_path):
    reg = ModelRegistry(tmp_path)
    v1 = reg.add(model)
    second = FraudModel(model.booster, model.anomaly, {**model.card, "version": "v2"})
    v2 = reg.add(second)
    assert reg.versions() == sorted([v1, v2])
    reg.promote(v1)
    reg.promote(v2)
    assert reg.production() == v2 and reg.rollback() == v1 and reg.production() == v1
    with pytest.raises(RegistryError):
        reg.rollback()
    reg.shadow(v2)
    scorer = FraudScorer.from_registry(reg)
    assert scorer.model is not None and scorer.model.version == v1
    assert scorer.shadow is not None and scorer.shadow.version == "v2"
    with pytest.raises(RegistryError):
        reg.promote("../../etc")
    # nothing pickled: every file is text or JSON
    files = sorted(p.name for p in (tmp_path / "models" / v1).iterdir())
    assert files == ["anomaly.json", "card.json", "model.txt"]
    assert json.loads((tmp_path / "models" / v1 / "card.json").read_text())["version"] == v1


def test_a_loaded_model_scores_exactly_as_the_trained_one(model, synthetic, tmp_path):
    model.save(tmp_path / "m")
    again = FraudModel.load(tmp_path / "m")
    X = batch_features(synthetic[0]).select(FEATURES).to_numpy()[:200]
    assert np.array_equal(model.predict(X), again.predict(X))
    columns = feature_columns(X)
    assert np.array_equal(model.anomaly_score(columns), again.anomaly_score(columns))


def test_compiled_trees_and_chunked_matrices_predict_as_lightgbm(model, synthetic, monkeypatch):
    X = batch_features(synthetic[0]).select(FEATURES).to_numpy()
    expected = np.asarray(model.booster.predict(X))
    fresh = FraudModel(model.booster, model.anomaly, model.card, compile_after_rows=len(X) + 1)
    np.testing.assert_allclose(fresh.predict(X[:10]), expected[:10], rtol=0, atol=1e-12)
    assert fresh._compiled is None  # 10 of len(X) + 1 rows predicted: not yet worth it
    monkeypatch.setattr("mamori.detect.fraud.model.CHUNK_ROWS", 7)  # many pieces, one short
    by_columns = fresh.predict_columns(feature_columns(X))
    assert fresh._compiled is not None  # the batch reached the threshold: compiled first
    np.testing.assert_allclose(by_columns, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fresh.predict(X[:3]), expected[:3], rtol=0, atol=1e-12)
    assert fresh.predict_columns(feature_columns(X[:0])).shape == (0,)


def test_batch_and_single_scoring_give_the_same_decisions(model, synthetic):
    events, labels = synthetic
    known = labels_with_delay(labels, 7)
    rules = RuleSet.load()
    a, b = FraudScorer(model, rules), FraudScorer(model, rules)
    first, rest = events.head(1500), events.slice(1500)
    a.score_batch(first)
    b.score_batch(first)
    early = known.filter(pl.col("known_at") < rest["time"][0])
    assert a.add_labels(early) == b.add_labels(early) == early.height
    batch = a.score_batch(rest)
    single = [b.score_one(r) for r in rest.iter_rows(named=True)]
    assert batch["score"].to_list() == pytest.approx([d["score"] for d in single], abs=1e-12)
    assert batch["decision"].to_list() == [d["decision"] for d in single]
    assert batch["rules"].to_list() == [d["rules"] for d in single]
    assert batch["model_version"].unique().to_list() == [model.version]
    flagged = batch.filter(pl.col("decision") != "approve")
    assert flagged.height > 10
    assert flagged["reasons"].list.len().min() >= 1
    assert "amount=" in " ".join(flagged["reasons"].explode().to_list())


def test_a_batch_before_what_was_scored_is_refused(synthetic):
    scorer = FraudScorer()
    scorer.score_batch(synthetic[0].slice(100, 50))
    with pytest.raises(ValueError, match="before the last payment"):
        scorer.score_batch(synthetic[0].head(10))


def test_rules_decide_without_a_model_and_thresholds_apply():
    rules = RuleSet.from_toml(
        """
        [thresholds]
        review = 0.3
        decline = 0.6
        [[rule]]
        id = "large"
        when = [["amount", ">=", 100]]
        score = 0.4
        [[rule]]
        id = "huge-abroad"
        when = [["amount", ">=", 1000], ["country", "not_in", ["FR"]]]
        score = 0.3
        """
    )
    scorer = FraudScorer(rules=rules)
    rows = [(50.0, "FR"), (500.0, "FR"), (5000.0, "DE"), (5000.0, None)]
    out = [
        scorer.score_one({"time": T0 + timedelta(minutes=i), "card": "K", "amount": a,
                          "country": c})
        for i, (a, c) in enumerate(rows)
    ]
    assert [d["decision"] for d in out] == ["approve", "review", "decline", "review"]
    assert [d["rules"] for d in out] == [[], ["large"], ["large", "huge-abroad"], ["large"]]
    assert out[2]["score"] == pytest.approx(0.7) and out[0]["model_version"] is None


@pytest.mark.parametrize(
    "text, message",
    [
        ('[[rule]]\nid = "x"\nwhen = [["amount", "~", 1]]', "unknown operator"),
        ('[[rule]]\nid = "x"\nwhen = [["amount", ">", "big"]]', "needs a number"),
        ('[[rule]]\nid = "x"\nwhen = []', "no conditions"),
        ('[[rule]]\nid = "x"\nwhen = [["a", "==", 1]]\naction = "block"', "action"),
        ("[thresholds]\nreview = 0.9\ndecline = 0.5", "thresholds"),
    ],
)
def test_bad_rules_files_are_refused_with_the_reason(text, message):
    with pytest.raises(RuleError, match=message):
        RuleSet.from_toml(text)


def test_card_precision_counts_compromised_cards_among_the_days_top_k():
    day = [T0] * 4 + [T0 + timedelta(days=1)] * 2
    scored = pl.DataFrame(
        {
            "time": day,
            "card": ["a", "a", "b", "c", "a", "b"],
            "fraud": [0, 1, 0, 0, 0, 1],
            "score": [0.9, 0.1, 0.8, 0.2, 0.5, 0.4],
        }
    )
    # day 1: top 2 cards a (fraud) and b (not): 1/2; day 2: a (not) and b (fraud): 1/2
    assert metrics(scored, k=2)["card_precision_at_2"] == 0.5
    assert metrics(scored, k=1)["card_precision_at_1"] == 0.5


def test_a_backtest_batch_with_its_labels_scores_as_live(model, synthetic):
    events, labels = synthetic
    known = labels_with_delay(labels, 7)
    whole = FraudScorer(model).score_batch(events, labels=known)
    X = batch_features(events, known).select(FEATURES).to_numpy()
    assert whole["model_score"].to_list() == model.predict(X).tolist()
    # labels confirmed after a batch's last payment are kept for the next batch, and a
    # label given again counts once
    scorer = FraudScorer(model)
    scorer.score_batch(events.head(1000), labels=known)
    rest = scorer.score_batch(events.slice(1000), labels=known)
    assert rest["model_score"].to_list() == model.predict(X[1000:]).tolist()


def test_a_model_reads_only_its_inputs_so_the_scorer_computes_no_other(model, synthetic):
    events, labels = synthetic
    X = batch_features(events, labels_with_delay(labels, 7)).select(FEATURES).to_numpy()
    unread = [j for j, f in enumerate(FEATURES) if f not in model.inputs]
    assert unread and set(model.anomaly.features) <= model.inputs
    blind = X.copy()
    blind[:, unread] = np.nan
    assert np.array_equal(model.predict(X), model.predict(blind))
    assert np.array_equal(
        model.anomaly_score(feature_columns(X)), model.anomaly_score(feature_columns(blind))
    )
    contrib = model.contributions(X[:50])
    assert not contrib[:, unread].any()


def test_the_trees_never_split_on_the_features_left_out(model, synthetic):
    events, labels = synthetic
    X = batch_features(events, labels_with_delay(labels, 7)).select(FEATURES).to_numpy()
    left_out = [FEATURES.index(f) for f in sorted(LEFT_OUT)]
    assert left_out and np.nanstd(X[:, left_out], axis=0).min() > 0  # they vary: splittable
    assert not LEFT_OUT & model.inputs
    importance = model.booster.feature_importance("split")
    assert not importance[left_out].any()
