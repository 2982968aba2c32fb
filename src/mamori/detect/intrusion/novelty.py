"""The novelty score: how far a flow lies from the normal traffic seen in training.

No label is needed beyond "this was normal": the score of a flow is its mean distance to
its `k` nearest normal training flows, after each number is put on a log scale
(``sign(x)·log1p(|x|)``, since byte counts and rates span orders of magnitude) and
centred and scaled by the normal traffic's median and spread, and each category is one-hot
(a value never seen in normal traffic is far from all of it). Attacks the classifier was
never shown (a new DoS tool, a new guessing campaign) are often far from normal traffic
even when they are close to no known attack: this score names them, the classifier cannot.

The threshold is set by a false-positive budget on normal traffic held out from the
reference sample: `threshold(0.01)` flags 1 % of normal flows. `percentile` turns a score
into the share of held-out normal flows that score lower (0-1, an alert's score).

Limits: distance-based, so features must mean the same in training and use; a normal
flow of a kind training never saw is novel too (that is what it is for, and why it is a
score to rank and combine, not a verdict). Reference: the k-nearest-neighbour distance as
an outlier score (Ramaswamy, Rastogi and Shim, SIGMOD 2000).

>>> rng = np.random.default_rng(1)
>>> normal = pl.DataFrame({"bytes": rng.normal(500, 50, 400), "rate": rng.normal(0.1, 0.02, 400)})
>>> novelty = NoveltyScore(k=5).fit(normal)
>>> probe = pl.DataFrame({"bytes": [510.0, 5.0], "rate": [0.1, 0.9]})
>>> (novelty.score(probe) > novelty.threshold(0.01)).tolist()
[False, True]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sklearn.neighbors import NearestNeighbors

from mamori.detect.intrusion.features import FeatureLayout

PARAMS_FILE, REFERENCE_FILE, CALIBRATION_FILE = "novelty.json", "reference.npy", "normal.npy"


class NoveltyScore:
    """k-nearest-neighbour distance to normal traffic; `fit`, `score`, `threshold`,
    `percentile`, `save` and `load`."""

    def __init__(self, *, k: int = 5, reference_rows: int = 5000, seed: int = 7) -> None:
        self.k = k
        self.reference_rows = reference_rows
        self.seed = seed
        self.layout: FeatureLayout | None = None
        self.centre = np.empty(0)
        self.spread = np.empty(0)
        self.reference = np.empty((0, 0))
        self.normal_scores = np.empty(0)  # sorted scores of held-out normal flows
        self._index: NearestNeighbors | None = None

    def fit(self, normal: pl.DataFrame) -> NoveltyScore:
        """Learn normal traffic from a features frame of normal flows only."""
        if normal.height < self.k + 2:
            raise ValueError(f"{normal.height} normal flows: too few to learn from")
        self.layout = FeatureLayout.fit(normal)
        logged = _log_scale(self.layout.matrix(normal)[:, : len(self.layout.numeric)])
        self.centre = np.nan_to_num(np.nanmedian(logged, axis=0))
        q75, q25 = np.nanpercentile(logged, [75, 25], axis=0)
        spread = np.nan_to_num(q75 - q25)
        std = np.nan_to_num(np.nanstd(logged, axis=0))
        self.spread = np.where(spread > 0, spread, np.where(std > 0, std, 1.0))
        space = self._space(normal)
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(len(space))
        # hold out a fifth (at most as many as the reference) to set thresholds on
        held = min(len(space) // 5, self.reference_rows)
        self.reference = np.unique(space[order[held:]][: self.reference_rows], axis=0)
        self._index = None
        self.normal_scores = np.sort(self._distances(space[order[:held]]))
        return self

    def _space(self, features: pl.DataFrame) -> np.ndarray:
        """Flows in the scaled space distances are measured in."""
        assert self.layout is not None
        x = self.layout.matrix(features)
        n_num = len(self.layout.numeric)
        numeric = np.nan_to_num((_log_scale(x[:, :n_num]) - self.centre) / self.spread)
        blocks = [np.clip(numeric, -50, 50)]
        for j, values in enumerate(self.layout.categories.values()):
            codes = x[:, n_num + j]
            onehot = np.zeros((len(x), len(values)))
            seen = ~np.isnan(codes)
            onehot[np.flatnonzero(seen), codes[seen].astype(int)] = 1.0
            blocks.append(onehot)
        return np.hstack(blocks)

    def _distances(self, space: np.ndarray) -> np.ndarray:
        if self._index is None:
            self._index = NearestNeighbors(n_neighbors=self.k, algorithm="auto", n_jobs=1)
            self._index.fit(self.reference)
        if len(space) == 0:
            return np.empty(0)
        found, _ = self._index.kneighbors(space, n_neighbors=min(self.k, len(self.reference)))
        return np.asarray(found.mean(axis=1))

    def score(self, features: pl.DataFrame) -> np.ndarray:
        """Each flow's novelty: its mean distance to its k nearest normal training flows."""
        if self.layout is None:
            raise RuntimeError("the novelty score is not fitted; call fit() or load()")
        return self._distances(self._space(features))

    def threshold(self, budget: float) -> float:
        """The score above which `budget` (a share, e.g. 0.01) of normal flows lie."""
        if not 0 < budget < 1:
            raise ValueError(f"budget {budget} must be a share between 0 and 1")
        if len(self.normal_scores) == 0:
            raise RuntimeError("no held-out normal scores: fit on more normal flows")
        return float(np.quantile(self.normal_scores, 1 - budget))

    def percentile(self, scores: np.ndarray) -> np.ndarray:
        """The share of held-out normal flows scoring lower than each score (0-1)."""
        below = np.searchsorted(self.normal_scores, scores, side="left")
        return below / max(len(self.normal_scores), 1)

    def save(self, folder: Path | str) -> Path:
        """Write the parameters (JSON) and the reference sample (NumPy, no pickle)."""
        if self.layout is None:
            raise RuntimeError("the novelty score is not fitted")
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        params: dict[str, Any] = {
            "k": self.k,
            "reference_rows": self.reference_rows,
            "seed": self.seed,
            "layout": self.layout.to_dict(),
            "centre": self.centre.tolist(),
            "spread": self.spread.tolist(),
        }
        (path / PARAMS_FILE).write_text(json.dumps(params))
        np.save(path / REFERENCE_FILE, self.reference, allow_pickle=False)
        np.save(path / CALIBRATION_FILE, self.normal_scores, allow_pickle=False)
        return path

    @classmethod
    def load(cls, folder: Path | str) -> NoveltyScore:
        """A novelty score saved by `save`."""
        path = Path(folder)
        params = json.loads((path / PARAMS_FILE).read_text())
        novelty = cls(k=params["k"], reference_rows=params["reference_rows"], seed=params["seed"])
        novelty.layout = FeatureLayout.from_dict(params["layout"])
        novelty.centre = np.asarray(params["centre"])
        novelty.spread = np.asarray(params["spread"])
        novelty.reference = np.load(path / REFERENCE_FILE, allow_pickle=False)
        novelty.normal_scores = np.load(path / CALIBRATION_FILE, allow_pickle=False)
        return novelty


def _log_scale(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))
