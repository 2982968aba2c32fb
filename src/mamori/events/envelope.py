"""Fill the envelope of validated records: tenant, source and stable event ids.

A record keeps its own `tenant`, `source` and `event_id` where it has them. Otherwise the
tenant is the reader's, the source is ``file:<name>``, and the event id is a stable hash
(`mamori.events.ids`) of the tenant, the kind, the record's canonical content (its
typed values in declared column order, then any extra fields by name; the time as UTC
microseconds, so ``2024-01-01T00:00:00Z`` and epoch ``1704067200`` are the same record)
and the ordinal of that same content earlier in the same input. Reading an input again
gives the same ids; two identical lines get two ids. The file name is not part of the id,
so a renamed or moved file keeps its ids.

>>> import polars as pl
>>> from datetime import datetime, timezone
>>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
>>> typed = pl.DataFrame({"time": [t, t, t], "amount": [5.0, 5.0, 6.0]})
>>> batch = Envelope("bank-a", "file:x.jsonl").fill(typed, "transaction")
>>> ids = batch["event_id"].to_list()
>>> ids[0] != ids[1] != ids[2], batch["source"][0], batch["tenant"][0]
(True, 'file:x.jsonl', 'bank-a')
>>> Envelope("bank-a", "file:y.jsonl").fill(typed, "transaction")["event_id"].to_list() == ids
True
"""

from __future__ import annotations

import numpy as np
import polars as pl

from mamori.events.ids import content_key, stable_ids
from mamori.events.schema import ENVELOPE, conform, schema


class Envelope:
    """Fills the envelope of the batches of one input (one file), counting repeats so that
    identical records get distinct, stable ids."""

    def __init__(self, tenant: str, source: str) -> None:
        self.tenant = tenant
        self.source = source
        self._keys = np.empty(0, dtype=np.uint64)  # sorted content hashes seen so far
        self._counts = np.empty(0, dtype=np.int64)  # how often each was seen

    def fill(self, typed: pl.DataFrame, kind: str) -> pl.DataFrame:
        """A conformed batch of `kind` from validated, typed records."""
        own = [c for c in schema(kind) if c not in ENVELOPE]
        extras = sorted(c for c in typed.columns if c not in schema(kind))
        frame = typed.with_columns(
            _kept_or(typed, "tenant", pl.lit(self.tenant, pl.String())),
            pl.lit(kind, pl.String()).alias("kind"),
        )
        content = ["tenant", "kind", "time", *own, "source", *extras]
        missing = [c for c in content if c not in frame.columns]
        frame = frame.with_columns(pl.lit(None, pl.String()).alias(c) for c in missing)
        key = frame.select(content_key(content).alias("key"))["key"]
        ordinal = self._ordinals(key)
        ids = stable_ids(pl.DataFrame({"key": key, "ordinal": ordinal}), ["key", "ordinal"])
        frame = frame.drop(missing).with_columns(
            _kept_or(typed, "event_id", pl.lit(ids)),
            _kept_or(typed, "source", pl.lit(self.source, pl.String())),
        )
        return conform(frame, kind)

    def _ordinals(self, key: pl.Series) -> pl.Series:
        """How many times each row's content was seen before it in this input: sorted
        hashes give the repeats within the batch, a sorted table the counts from before."""
        hashes = key.hash(0x6F7264).to_numpy()
        n = len(hashes)
        order = np.argsort(hashes, kind="stable")
        ranked = hashes[order]
        first = np.empty(n, dtype=bool)
        first[:1] = True
        np.not_equal(ranked[1:], ranked[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        sizes = np.diff(np.append(starts, n))
        unique = ranked[starts]
        at = np.searchsorted(self._keys, unique)
        known = at < len(self._keys)
        known[known] = self._keys[at[known]] == unique[known]
        before = np.zeros(len(unique), dtype=np.int64)
        before[known] = self._counts[at[known]]
        within = np.arange(n) - np.repeat(starts, sizes)
        ordinal = np.empty(n, dtype=np.int64)
        ordinal[order] = within + np.repeat(before, sizes)
        self._counts[at[known]] += sizes[known]
        self._keys = np.insert(self._keys, at[~known], unique[~known])
        self._counts = np.insert(self._counts, at[~known], sizes[~known])
        return pl.Series("ordinal", ordinal)


def _kept_or(frame: pl.DataFrame, column: str, default: pl.Expr) -> pl.Expr:
    """The record's own value of `column` where it has one, else `default`."""
    if column in frame.columns:
        return pl.coalesce(pl.col(column), default).alias(column)
    return default.alias(column)
