"""IP addresses as integers, and a sorted interval index for address and network lookup.

`parse_addresses` turns a column of address strings into integer keys in Polars, with no
Python per value: IPv4 (and IPv4-mapped IPv6, `::ffff:a.b.c.d`) as one 32-bit key `k1`,
IPv6 as its upper (`k1`) and lower (`k2`) 64 bits. What is not an address is dropped.

`IntervalIndex` answers "which of these ranges hold this key" for a whole array of keys at
once. The ranges' ends cut the key space into elementary segments; each segment knows the
ranges that cover it (nested networks cover the same segment), so a lookup is one binary
search per key (`numpy.searchsorted`) and a gather of the few hits.

>>> import numpy as np
>>> index = IntervalIndex(np.array([10, 10, 20], np.uint64), np.array([19, 12, 20], np.uint64))
>>> [a.tolist() for a in index.lookup(np.array([9, 11, 15, 20], np.uint64))]
[[1, 1, 2, 3], [0, 1, 0, 2]]
"""

from __future__ import annotations

import numpy as np
import polars as pl

_MAX = np.iinfo(np.uint64).max
_MAPPED = r"(?i)^::ffff:(\d+\.\d+\.\d+\.\d+)$"


def _ipv4(frame: pl.DataFrame, text: str) -> pl.Series:
    """The IPv4 addresses in column `text` as integers (null where not an address)."""
    octets = frame.select(
        pl.col(text).str.split_exact(".", 3).alias("_o"),
        _dots=pl.col(text).str.count_matches(".", literal=True),
    ).unnest("_o")
    parts = [pl.col(f"field_{i}").cast(pl.UInt64, strict=False) for i in range(4)]
    valid = pl.all_horizontal([pl.col("_dots") == 3] + [(p <= 255) for p in parts])
    value = (parts[0] * 16777216) + (parts[1] * 65536) + (parts[2] * 256) + parts[3]
    return octets.select(pl.when(valid).then(value).alias("k1"))["k1"]


def _ipv6(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """The upper and lower 64 bits of an IPv6 address, or nulls."""
    halves = text.str.split("::")
    nonempty = pl.element().filter(pl.element() != "")
    head = halves.list.get(0, null_on_oob=True).str.split(":").list.eval(nonempty)
    tail = halves.list.get(1, null_on_oob=True).fill_null("").str.split(":").list.eval(nonempty)
    gap = 8 - head.list.len() - tail.list.len()
    groups = pl.concat_list(head, pl.lit("0").repeat_by(gap.clip(0, 8)), tail)
    words = groups.list.eval(pl.element().str.to_integer(base=16, strict=False).cast(pl.UInt64))
    ok = (
        (((halves.list.len() == 2) & (gap >= 1)) | ((halves.list.len() == 1) & (gap == 0)))
        & (groups.list.len() == 8)
        & (words.list.eval(pl.element().is_null() | (pl.element() > 0xFFFF)).list.any().not_())
    )

    def half(first: int) -> pl.Expr:
        shifts = (48, 32, 16, 0)
        return pl.sum_horizontal(
            [words.list.get(first + i) * (1 << s) for i, s in enumerate(shifts)]
        )

    return pl.when(ok).then(half(0)), pl.when(ok).then(half(4))


def parse_addresses(values: pl.Series) -> pl.DataFrame:
    """`raw`, `family` (ipv4/ipv6), `k1`, `k2` for each value that is an address."""
    frame = pl.DataFrame({"raw": values.cast(pl.String)}).with_columns(
        _text=pl.col("raw").str.strip_chars()
    )
    colon = pl.col("_text").str.contains(":", literal=True)
    if frame.select(colon.any()).item():  # rare: IPv6, mapped IPv4, zone ids
        frame = frame.with_columns(
            _text=pl.when(colon)
            .then(pl.col("_text").str.replace(r"%.*$", "").str.replace(_MAPPED, "$1"))
            .otherwise("_text")
        )
    frame = frame.with_columns(_v6=colon)
    plain = frame.filter(~pl.col("_v6"))
    v4 = plain.select(
        "raw", family=pl.lit("ipv4"), k1=_ipv4(plain, "_text"), k2=pl.lit(0, pl.UInt64)
    )
    parts = [v4]
    six = frame.filter(pl.col("_v6"))
    if six.height:
        hi, lo = _ipv6(pl.col("_text").str.to_lowercase())
        parts.append(six.select("raw", family=pl.lit("ipv6"), k1=hi, k2=lo))
    return pl.concat(parts).filter(pl.col("k1").is_not_null())


class IntervalIndex:
    """Which of many closed ranges [lo, hi] of uint64 keys hold each of many keys."""

    def __init__(self, lo: np.ndarray, hi: np.ndarray) -> None:
        lo, hi = np.asarray(lo, np.uint64), np.asarray(hi, np.uint64)
        bounded = hi < _MAX
        ends = hi[bounded] + np.uint64(1)
        self.bounds = np.unique(np.concatenate([lo, ends]))
        start = np.searchsorted(self.bounds, lo)
        stop = np.full(len(lo), len(self.bounds), np.int64)
        stop[bounded] = np.searchsorted(self.bounds, ends)
        counts = stop - start
        owner = np.repeat(np.arange(len(lo), dtype=np.int64), counts)
        segment = np.repeat(start, counts) + _ramps(counts)
        self.members = owner[np.argsort(segment, kind="stable")]
        self.ptr = np.zeros(len(self.bounds) + 1, np.int64)
        np.cumsum(np.bincount(segment, minlength=len(self.bounds)), out=self.ptr[1:])

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pairs (position in `keys`, range number) for every range that holds a key."""
        segment = np.searchsorted(self.bounds, np.asarray(keys, np.uint64), side="right") - 1
        inside = segment >= 0
        segment = np.where(inside, segment, 0)
        counts = np.where(inside, self.ptr[segment + 1] - self.ptr[segment], 0)
        hit = np.flatnonzero(counts)
        per = counts[hit]
        positions = np.repeat(self.ptr[segment[hit]], per) + _ramps(per)
        return np.repeat(hit, per), self.members[positions]


def _ramps(counts: np.ndarray) -> np.ndarray:
    """0, 1, …, c-1 for each count c, concatenated."""
    total = int(counts.sum())
    return np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
