"""Labelled templates: flag log lines from analysts' past verdicts, not from memorised text.

A SOC that triages log alerts labels them; this model learns from those labels per
*template* (`mamori.detect.logs.templates`), so it carries over to lines it never saw:

1. a line whose template was labelled before gets that template's majority verdict;
2. a line with a new template gets the verdict of the most similar labelled template
   (Jaccard similarity of their word sets, masks left out) when the two share at least
   `similarity` of their words: a new path or a new error number in a known message;
3. a line unlike anything labelled is flagged when its severity says a failure
   (`CRITICAL`: critical, fatal, failure and worse): something new that says a component
   failed is worth a look; a new error or warning is not flagged on that alone.

Every verdict says which route gave it (`route`: ``known``, ``similar``, ``new``), so an
analyst can see why a line was flagged.

>>> train = pl.DataFrame({"text": ["KERNEL fatal data TLB error interrupt",
...                                "KERNEL fatal instruction address: <HEX>"],
...                       "anomalous": [True, False]})
>>> model = TemplateVerdicts().fit(train["text"], train["anomalous"])
>>> test = pl.DataFrame({"text": ["KERNEL fatal data TLB error interrupt",
...                               "KERNEL fatal data address: <HEX>",
...                               "APP fatal Lustre mount FAILED"],
...                      "severity": ["fatal", "fatal", "fatal"]})
>>> model.predict(test["text"], test["severity"]).rows()
[(True, 'known'), (False, 'similar'), (True, 'new')]
"""

from __future__ import annotations

import re

import polars as pl

from mamori.detect.logs.source import CRITICAL

_WORD = re.compile(r"[A-Za-z_]{2,}")


def words(text: str) -> frozenset[str]:
    """The words of a template, masks (``<NUM>``, ``<*>`` …) left out."""
    return frozenset(w for w in _WORD.findall(re.sub(r"<[^>]*>", " ", text)))


class TemplateVerdicts:
    """Per-template verdicts learnt from labelled lines (see the module docstring)."""

    def __init__(self, similarity: float = 0.4) -> None:
        self.similarity = similarity
        self.verdicts: dict[str, bool] = {}
        self._words: list[tuple[frozenset[str], bool]] = []

    def fit(self, texts: pl.Series, anomalous: pl.Series) -> TemplateVerdicts:
        """Learn each template's majority verdict from labelled lines."""
        votes = (
            pl.DataFrame({"text": texts, "y": anomalous.cast(pl.Float64)})
            .group_by("text", maintain_order=True)
            .agg(pl.col("y").mean() >= 0.5)
        )
        self.verdicts = dict(votes.iter_rows())
        self._words = [(words(t), v) for t, v in self.verdicts.items()]
        return self

    def _nearest(self, text: str) -> tuple[float, bool]:
        mine = words(text)
        best, verdict = 0.0, False
        for theirs, flagged in self._words:
            union = len(mine | theirs)
            score = len(mine & theirs) / union if union else 0.0
            if score > best:
                best, verdict = score, flagged
        return best, verdict

    def predict(self, texts: pl.Series, severity: pl.Series) -> pl.DataFrame:
        """`anomalous` and `route` for each line (one similarity search per new template)."""
        frame = pl.DataFrame({"text": texts, "severity": severity.str.to_lowercase()})
        unseen = [t for t in frame["text"].unique(maintain_order=True) if t not in self.verdicts]
        near = {t: self._nearest(t) for t in unseen}
        similar = {t: v for t, (s, v) in near.items() if s >= self.similarity}
        known = pl.col("text").replace_strict(self.verdicts, default=None, return_dtype=pl.Boolean)
        alike = pl.col("text").replace_strict(similar, default=None, return_dtype=pl.Boolean)
        severe = pl.col("severity").is_in(CRITICAL).fill_null(False)
        return frame.select(
            anomalous=pl.coalesce(known, alike, severe),
            route=pl.when(known.is_not_null())
            .then(pl.lit("known"))
            .when(alike.is_not_null())
            .then(pl.lit("similar"))
            .otherwise(pl.lit("new")),
        )
