"""Column-building helpers shared by the background and the scenarios.

Everything here works on whole arrays: a frame of a million events is built with a handful
of NumPy and Polars calls, never a Python loop over the events.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from mamori.events.schema import KINDS

#: The generator-side column that links a malicious event to its scenario instance.
INSTANCE = "_instance"

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)

Column = np.ndarray | pl.Series | Sequence[Any]


def part(kind: str, time: np.ndarray, source: str | Column, **columns: Any) -> pl.DataFrame:
    """A piece of a batch: `time` as int64 µs, `source`, the kind's own columns and `_instance`.

    A column value is either one scalar for every row or a vector with one value per row;
    columns not given are null. Every part of a kind has the same schema, so parts concatenate
    without surprises, and a column name the kind does not declare is an error.
    """
    own = KINDS[kind]
    unknown = set(columns) - set(own)
    if unknown:
        raise KeyError(f"{kind} has no columns {sorted(unknown)}")
    given = {"source": source, **columns}
    vectors = {
        name: value
        for name, value in given.items()
        if isinstance(value, np.ndarray | pl.Series | list | tuple)
    }
    frame = pl.DataFrame({"time": np.asarray(time, dtype=np.int64), **vectors})
    exprs = [pl.col("time")]
    for name, dtype in {"source": pl.String(), **own}.items():
        if name in vectors:
            exprs.append(pl.col(name).cast(dtype, strict=True))
        else:
            exprs.append(pl.lit(given.get(name), dtype).alias(name))
    exprs.append(pl.lit(None, pl.String()).alias(INSTANCE))
    return frame.select(exprs)


def pick(values: Sequence[Any] | pl.Series, index: np.ndarray) -> pl.Series:
    """`values[index]` as a Polars Series (a vectorised gather)."""
    series = values if isinstance(values, pl.Series) else pl.Series(values)
    return series.gather(np.asarray(index, dtype=np.int64))


def choose(
    rng: np.random.Generator,
    values: Sequence[Any] | pl.Series,
    n: int,
    p: Sequence[float] | np.ndarray | None = None,
) -> pl.Series:
    """`n` draws from a small vocabulary, with optional probabilities."""
    weights = None if p is None else np.asarray(p, dtype=np.float64) / np.sum(p)
    return pick(values, rng.choice(len(values), size=n, p=weights))


def ip_strings(addresses: np.ndarray) -> pl.Series:
    """IPv4 addresses as integers to dotted-quad strings."""
    a = np.asarray(addresses, dtype=np.int64)
    octets = [pl.Series((a >> shift) & 255).cast(pl.String) for shift in (24, 16, 8, 0)]
    return pl.select(pl.concat_str(octets, separator=".")).to_series().alias("ip")


def ip_int(text: str) -> int:
    """One dotted-quad address to its integer."""
    a, b, c, d = (int(x) for x in text.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def random_hex(rng: np.random.Generator, n: int, width: int) -> pl.Series:
    """`n` random lowercase hex strings of `width` digits (device ids, hashes, folders)."""
    digits = _HEX[rng.integers(0, 16, size=(n, width))]
    return pl.Series(np.frombuffer(digits.tobytes(), dtype=f"S{width}")).cast(pl.String)


def random_digits(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    """`n` random digit strings of `width` digits as an (n, width) uint8 array of 0-9."""
    return rng.integers(0, 10, size=(n, width), dtype=np.uint8)


def digit_strings(digits: np.ndarray) -> pl.Series:
    """An (n, width) array of 0-9 to `n` strings of digits."""
    width = digits.shape[1]
    ascii_digits = (digits + ord("0")).astype(np.uint8)
    return pl.Series(np.frombuffer(ascii_digits.tobytes(), dtype=f"S{width}")).cast(pl.String)


def numbered(prefix: str, numbers: np.ndarray, width: int) -> pl.Series:
    """`prefix` followed by zero-padded numbers, e.g. C000123."""
    return prefix + pl.Series(np.asarray(numbers, dtype=np.int64)).cast(pl.String).str.zfill(width)


def luhn_complete(body: np.ndarray) -> np.ndarray:
    """Append the Luhn check digit to each row of an (n, k) array of digits."""
    k = body.shape[1]
    doubled = np.arange(k)[::-1] % 2 == 0  # positions doubled once the check digit is added
    d = body.astype(np.int64)
    d = np.where(doubled, d * 2, d)
    d = np.where(d > 9, d - 9, d)
    check = (10 - d.sum(axis=1) % 10) % 10
    return np.concatenate([body, check[:, None].astype(body.dtype)], axis=1)


def luhn_valid(number: str) -> bool:
    """Whether a digit string passes the Luhn check (for tests and validation)."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0
