"""An unsupervised anomaly score: histogram-based outlier score (HBOS).

HBOS (Goldstein and Dengel, 2012) learns one histogram per feature from unlabelled
payments (bins of equal counts, so their density is count over width) and scores a payment
by how rare each of its values is: the sum over features of ``-log`` of the density of the
value's bin relative to the densest bin. It sees what no label has
seen yet (a new kind of fraud), costs one binary search per feature, and stores as plain
JSON. Its limit: it treats features as independent, so a combination that is rare while
each value is common goes unnoticed. The raw score is turned into its percentile among the
training payments, so 0.99 means "stranger than 99 % of the training set".

Missing values have their own bin.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(5000, 2))
>>> model = Hbos.fit(X, ["a", "b"])
>>> s = model.score(np.array([[0.0, 0.0], [6.0, 0.0]]))
>>> bool(s[0] < 0.5 < 0.99 < s[1])
True
>>> Hbos.from_json(model.to_json()).score(X[:3]).tolist() == model.score(X[:3]).tolist()
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

_FLOOR = 1e-6  # share given to an empty bin


@dataclass(frozen=True)
class Hbos:
    """Per-feature bin edges and log-shares, and the training score percentiles."""

    features: list[str]
    edges: list[list[float]]
    log_share: list[list[float]]  # -log density per bin (see `_bin`)
    percentiles: list[float]  # raw scores at 0, 0.1, …, 100 %

    @classmethod
    def fit(cls, X: np.ndarray, features: list[str], bins: int = 20) -> Hbos:
        """Learn the histograms from `X` (rows are payments, columns `features`)."""
        edges, shares = [], []
        for j in range(X.shape[1]):
            col = X[:, j]
            seen = col[~np.isnan(col)]
            cuts = np.unique(np.quantile(seen, np.linspace(0, 1, bins + 1))) if len(
                seen
            ) else np.array([0.0])
            if len(cuts) < 2:
                cuts = np.array([cuts[0], cuts[0] + 1.0])
            counts = np.bincount(_bin(col, cuts), minlength=len(cuts) + 2)
            share = counts / max(len(col), 1)
            inside = share[1:-2] / np.diff(cuts)
            inside = inside / max(inside.max(), _FLOOR)
            score = np.concatenate([[_FLOOR], inside, [_FLOOR], [share[-1]]])
            edges.append(cuts.tolist())
            shares.append((-np.log(np.maximum(score, _FLOOR))).tolist())
        model = cls(features, edges, shares, [])
        raw = model.raw(X)
        return cls(features, edges, shares, np.quantile(raw, np.linspace(0, 1, 1001)).tolist())

    def raw(self, X: np.ndarray) -> np.ndarray:
        """The raw HBOS score of each row: higher is stranger."""
        total = np.zeros(X.shape[0])
        for j, (cuts, share) in enumerate(zip(self.edges, self.log_share, strict=True)):
            total += np.asarray(share)[_bin(X[:, j], np.asarray(cuts))]
        return total

    def score(self, X: np.ndarray) -> np.ndarray:
        """The anomaly score in 0–1: the raw score's percentile among training payments."""
        levels = np.linspace(0, 1, len(self.percentiles))
        return np.interp(self.raw(X), self.percentiles, levels)

    def to_json(self) -> dict[str, Any]:
        return {
            "method": "hbos",
            "features": self.features,
            "edges": self.edges,
            "log_share": self.log_share,
            "percentiles": self.percentiles,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Hbos:
        if data.get("method") != "hbos":
            raise ValueError(f"not an HBOS model: method {data.get('method')!r}")
        return cls(data["features"], data["edges"], data["log_share"], data["percentiles"])


def _bin(col: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Bin of each value: 0 below the training range, 1 … len(cuts) - 1 inside it,
    len(cuts) above it, len(cuts) + 1 for a missing value."""
    out = np.searchsorted(cuts, col, "right")
    out[col == cuts[-1]] = len(cuts) - 1
    out[np.isnan(col)] = len(cuts) + 1
    return out
