"""A reader's features frame (`mamori.events.flowread.FlowRead.features`) as a model matrix.

Numeric columns become Float64 with infinities as missing (gradient boosting and the
novelty score both treat missing values on their own terms); text columns become integer
codes from a vocabulary learnt at fit time, where a value never seen in training is
missing. The layout (which columns, which codes) is plain data, so it is saved in the
model card and a model reads new files exactly as it was trained.

>>> train = pl.DataFrame({"event_id": ["a", "b"], "bytes": [1.0, float("inf")],
...     "service": ["http", "ftp"], "label": ["normal", "dos"]})
>>> layout = FeatureLayout.fit(train)
>>> layout.numeric, layout.categories
(['bytes'], {'service': ['ftp', 'http']})
>>> layout.matrix(pl.DataFrame({"bytes": [3.0], "service": ["smtp"]})).tolist()
[[3.0, nan]]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

#: Columns that are never features: keys and ground truth.
NOT_FEATURES = frozenset({"event_id", "label", "difficulty", "attempted_category", "uid"})


@dataclass
class FeatureLayout:
    """Which columns a model reads, in order: numbers first, then coded categories."""

    numeric: list[str]
    categories: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def fit(cls, features: pl.DataFrame, *, max_codes: int = 255) -> FeatureLayout:
        """The layout of a training features frame: every numeric column, and every text
        column with its values (the `max_codes` most frequent), keys and labels left out."""
        numeric, categories = [], {}
        for name, dtype in features.schema.items():
            if name in NOT_FEATURES:
                continue
            if dtype.is_numeric():
                numeric.append(name)
            elif dtype == pl.String:
                counts = features[name].drop_nulls().value_counts(sort=True).head(max_codes)
                categories[name] = sorted(counts[name].to_list())
        return cls(numeric, categories)

    @property
    def names(self) -> list[str]:
        """The matrix's column names, in order."""
        return [*self.numeric, *self.categories]

    def matrix(self, features: pl.DataFrame) -> np.ndarray:
        """The model matrix (float64; missing as NaN) of a features frame; columns the
        frame lacks are missing throughout."""
        n = features.height
        exprs = []
        for name in self.numeric:
            value = pl.col(name).cast(pl.Float64) if name in features.columns else pl.lit(None)
            value = value.cast(pl.Float64)
            exprs.append(pl.when(value.is_finite()).then(value).alias(name))
        for name, values in self.categories.items():
            codes = dict(zip(values, range(len(values)), strict=True))
            source = pl.col(name) if name in features.columns else pl.lit(None, pl.String)
            coded = source.replace_strict(codes, default=None, return_dtype=pl.Float64)
            exprs.append(coded.alias(name))
        if not exprs or n == 0:
            return np.empty((n, len(exprs)))
        return features.select(exprs).to_numpy().astype(np.float64, copy=False)

    def to_dict(self) -> dict[str, Any]:
        return {"numeric": self.numeric, "categories": self.categories}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureLayout:
        return cls(list(data["numeric"]), {k: list(v) for k, v in data["categories"].items()})
