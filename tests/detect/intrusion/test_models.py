"""The intrusion classifier and the novelty score on small fits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mamori.detect.intrusion.classifier import IntrusionClassifier
from mamori.detect.intrusion.features import FeatureLayout
from mamori.detect.intrusion.novelty import NoveltyScore


def flows(rng: np.random.Generator, n: int, kind: str) -> pl.DataFrame:
    """Flows of three kinds: web (normal), syn flood, and password guessing on ssh."""
    if kind == "normal":
        return pl.DataFrame({"syn_rate": rng.uniform(0, 0.1, n),
                             "bytes": rng.lognormal(8, 1, n),
                             "failed_logins": np.zeros(n),
                             "service": rng.choice(["http", "dns"], n)})  # fmt: skip
    if kind == "dos":
        return pl.DataFrame({"syn_rate": rng.uniform(0.8, 1.0, n), "bytes": rng.lognormal(8, 1, n),
                             "failed_logins": np.zeros(n), "service": ["http"] * n})  # fmt: skip
    return pl.DataFrame({"syn_rate": rng.uniform(0, 0.1, n), "bytes": rng.lognormal(6, 0.3, n),
                         "failed_logins": rng.integers(3, 6, n).astype(float),
                         "service": ["ssh"] * n})  # fmt: skip


@pytest.fixture(scope="module")
def training() -> tuple[pl.DataFrame, pl.Series]:
    rng = np.random.default_rng(3)
    parts = {k: flows(rng, n, k) for k, n in (("normal", 400), ("dos", 200), ("r2l", 60))}
    frame = pl.concat(parts.values())
    labels = pl.Series("label", [k for k, p in parts.items() for _ in range(p.height)])
    return frame, labels


@pytest.fixture(scope="module")
def model(training: tuple[pl.DataFrame, pl.Series]) -> IntrusionClassifier:
    frame, labels = training
    return IntrusionClassifier(rounds=60, threads=1).fit(frame, labels, data={"source": "test"})


def test_classifier_learns_the_classes(model: IntrusionClassifier) -> None:
    rng = np.random.default_rng(4)
    test = pl.concat([flows(rng, 50, k) for k in ("normal", "dos", "r2l")])
    truth = ["normal"] * 50 + ["dos"] * 50 + ["r2l"] * 50
    assert model.classes == ["dos", "normal", "r2l"]
    accuracy = np.mean(model.predict(test).to_numpy() == np.asarray(truth))
    assert accuracy >= 0.97
    proba = model.predict_proba(test)
    assert proba.shape == (150, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_classifier_is_calibrated_and_explains(model: IntrusionClassifier) -> None:
    calibration = model.card.calibration
    assert calibration["temperature"] > 0
    assert calibration["ece_after"] <= calibration["ece_before"] + 1e-9
    top = {c: [f["feature"] for f in fs] for c, fs in model.card.class_explanations.items()}
    assert top["dos"][0] == "syn_rate"
    assert top["r2l"][0] in ("failed_logins", "service")
    probe = pl.DataFrame({"syn_rate": [0.95], "bytes": [3000.0], "failed_logins": [0.0],
                          "service": ["http"]})  # fmt: skip
    explained = model.explain(probe).row(0, named=True)
    assert explained["predicted"] == "dos" and explained["probability"] > 0.9
    assert explained["explanation"].startswith("syn_rate=0.95 (+")


def test_classifier_saves_as_lightgbm_text_and_a_json_card(
    model: IntrusionClassifier, training: tuple[pl.DataFrame, pl.Series], tmp_path: Path
) -> None:
    folder = model.save(tmp_path / "model")
    texts = [(folder / f"model-{k}.txt").read_text() for k in range(5)]
    assert all(t.startswith("tree\n") and "num_class=3" in t for t in texts)
    assert not (folder / "model-5.txt").exists()
    card = json.loads((folder / "card.json").read_text())
    assert card["params"]["members"] == 5 and len(card["params"]["rounds"]) == 5
    for key in ("name", "classes", "created", "data", "features", "params", "calibration",
                "class_explanations", "limitations"):  # fmt: skip
        assert key in card
    assert card["data"]["rows_by_class"] == {"dos": 200, "normal": 400, "r2l": 60}
    loaded = IntrusionClassifier.load(folder)
    frame, _ = training
    np.testing.assert_allclose(loaded.predict_proba(frame), model.predict_proba(frame))


def test_committee_members_differ_and_explanations_add_up_to_their_mean(
    model: IntrusionClassifier, training: tuple[pl.DataFrame, pl.Series]
) -> None:
    frame, _ = training
    x = model.layout.matrix(frame)
    raws = [b.predict(x, raw_score=True) for b in model.boosters]
    assert len(raws) == 5 and not np.allclose(raws[0], raws[1])
    contributions = model.contributions(x)
    np.testing.assert_allclose(contributions.sum(axis=2), np.mean(raws, axis=0), atol=1e-9)
    single = IntrusionClassifier(rounds=60, threads=1, members=1).fit(*training)
    assert len(single.boosters) == 1
    np.testing.assert_allclose(single._raw(x), single.boosters[0].predict(x, raw_score=True))


def test_classifier_refuses_bad_training_input() -> None:
    with pytest.raises(ValueError, match="members must be at least 1"):
        IntrusionClassifier(members=0)
    frame = pl.DataFrame({"x": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="one class only"):
        IntrusionClassifier().fit(frame, pl.Series(["a", "a", "a"]))
    with pytest.raises(ValueError, match="3 feature rows for 2 labels"):
        IntrusionClassifier().fit(frame, pl.Series(["a", "b"]))


def test_feature_layout_codes_unseen_categories_as_missing() -> None:
    layout = FeatureLayout.fit(pl.DataFrame({"n": [1, 2], "s": ["a", "b"], "label": ["x", "y"]}))
    assert layout.names == ["n", "s"]
    x = layout.matrix(pl.DataFrame({"s": ["b", "zzz"], "n": [float("inf"), 5.0]}))
    np.testing.assert_array_equal(x, [[np.nan, 1.0], [5.0, np.nan]])


def test_novelty_flags_what_normal_traffic_never_did(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    novelty = NoveltyScore(k=5).fit(flows(rng, 1000, "normal"))
    threshold = novelty.threshold(0.01)
    fresh_normal = novelty.score(flows(rng, 1000, "normal"))
    assert np.mean(fresh_normal > threshold) < 0.04
    for attack in ("dos", "r2l"):  # neither was ever shown to it
        assert np.mean(novelty.score(flows(rng, 100, attack)) > threshold) > 0.95
    assert novelty.percentile(np.array([0.0, 1e9])).tolist() == [0.0, 1.0]
    loaded = NoveltyScore.load(novelty.save(tmp_path / "novelty"))
    probe = flows(rng, 20, "dos")
    np.testing.assert_allclose(loaded.score(probe), novelty.score(probe))
    with pytest.raises(ValueError, match="budget"):
        novelty.threshold(1.5)
