"""Exact sliding-window sums per entity: a whole batch at once, or one live event at a time.

A window over an entity (a card, a terminal, a card-and-terminal pair) is the set of its
items with ``t - width < time <= t``. Both ways of computing it keep integer prefix sums of
the summed values in time order and find the window's two ends by binary search, so their
results are the same integers, bit for bit:

- `BatchStream` sorts a whole stream once (entity code, then time order) and a
  `WindowQuery` answers the windows of every query row with vectorised `searchsorted`:
  with each entity's times shifted past the previous entity's, one search over the
  whole stream finds a window's end within its entity. A window's count is the distance
  between its two ends, so counting needs no sums;
- `EntityLog` keeps one entity's recent items as lists and answers one query with `bisect`.

Distinct counts (how many different terminals a card paid at in a window) are exact too:
`BatchStream.distinct` turns each item into the run of its entity's later items whose window
still holds it as the latest of its value, and counts the runs covering each item;
`DistinctLog` keeps one entity's recent (time, value) items and counts a window's set.

Values are integers (counts, amounts in minor units, fraud flags), so a sum is exact and a
difference of prefix sums is the same number however long the prefix is.

>>> import numpy as np
>>> times = np.array([0, 10, 20, 30]); codes = np.array([1, 1, 2, 1])
>>> s = BatchStream(codes, times, [np.array([1, 2, 4, 8])])
>>> q = s.query(codes, times, own_from=0)
>>> q.counts(15).tolist(), q.sums(15, 0).tolist()
([1, 2, 1, 1], [1, 3, 4, 8])
>>> log = EntityLog(1)
>>> [log.add(t, (v,)) or log.window_sums(t - 15, t)[0] for t, v in [(0, 1), (10, 2), (30, 8)]]
[1, 3, 8]
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Sequence
from functools import cached_property

import numpy as np


def code_bits(*lengths: int) -> int:
    """How many bits an entity code may use in a stream of (and queries of) these lengths:
    a key holds the code in its high bits and an item's rank in the low bits."""
    return 62 - max(1, *lengths).bit_length()


class BatchStream:
    """A time-ordered stream of items (entity code, time, integer value columns), indexed
    for window queries. `codes` < 0 mark items without an entity; they never count; the
    others are below ``2 ** code_bits(stream length, query length)``. Items of one entity
    keep their order; ties in time stay in input order.
    """

    def __init__(
        self, codes: np.ndarray, times: np.ndarray, values: Sequence[np.ndarray] = ()
    ) -> None:
        if len(times) and np.any(times[1:] < times[:-1]):
            raise ValueError("stream items must be in time order")
        self.times = times
        self.shift = max(1, len(times)).bit_length()  # the rank's bits in a key
        self.low = (1 << self.shift) - 1
        valid = np.flatnonzero(codes >= 0)
        self.keys = np.sort((codes[valid].astype(np.int64) << self.shift) | valid)  # unique
        item = self.keys & self.low
        self.prefix = []  # per value column, its sums over the first i items in key order
        for column in values:
            prefix = np.zeros(len(item) + 1, dtype=np.int64)
            np.cumsum(np.take(column, item), out=prefix[1:])
            self.prefix.append(prefix)
        self.item_times = np.take(times, item)
        self.span = int(times[-1] - times[0]) + 1 if len(times) else 1

    @cached_property
    def entities(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(entity number of each item in key order, each entity's code): the numbers
        are dense, so `entity_times` can place each entity's times apart; None where those
        would not fit in 63 bits."""
        if not len(self.keys):
            return None
        code = self.keys >> self.shift
        change = code[1:] != code[:-1]
        if (1 + int(np.count_nonzero(change))) * 2 * self.span >= 1 << 62:
            return None
        entity = np.zeros(len(code), dtype=np.int64)
        np.cumsum(change, out=entity[1:])
        return entity, code[np.concatenate([[True], change])]

    @cached_property
    def entity_times(self) -> np.ndarray:
        """The items' times in key order, each entity's shifted past the previous one's (by
        twice the stream's time span): one binary search then finds a time within an
        entity (see `place`). Only where `entities` is not None."""
        assert self.entities is not None
        return self.entities[0] * (2 * self.span) + (self.item_times - self.times[0])

    def place(self, entity: np.ndarray, upto: np.ndarray) -> np.ndarray:
        """Per (entity number, time): the end of the entity's items with time <= `upto`
        (in key order). Times outside the stream's span are clipped to just outside it, which
        finds the same end."""
        within = np.clip(upto - self.times[0], -1, self.span - 1)
        return np.searchsorted(self.entity_times, entity * (2 * self.span) + within, "right")

    def distinct(self, values: np.ndarray, width: int) -> np.ndarray:
        """Per item (in input order): how many distinct `values` (codes; < 0: none) its
        entity's items with ``t - width < time <= t`` have, counting the items up to the
        item itself (as `query(..., own_from=0)` counts); -1 for items without an entity.

        An item with a value is the latest of that value in the windows of its entity's
        items from itself up to (not including) the next item with the same value or the
        first item at or past its time + `width`; the count at an item is how many such
        runs cover it."""
        n = len(self.keys)
        item = self.keys & self.low
        code = self.keys >> self.shift
        value = np.take(values, item)
        at = np.flatnonzero(value >= 0)
        order = at[np.lexsort((at, value[at], code[at]))]  # by (entity, value), then position
        following = np.full(len(at), n, dtype=np.int64)
        same = (code[order[1:]] == code[order[:-1]]) & (value[order[1:]] == value[order[:-1]])
        following[:-1] = np.where(same, order[1:], n)
        # the first item of the entity at or past time + width (by row rank, as `_bound`)
        rank = np.searchsorted(self.times, self.item_times[order] + width, "left")
        gone = np.searchsorted(self.keys, (code[order] << self.shift) | rank, "left")
        stop = np.minimum(following, gone)
        cover = np.cumsum(np.bincount(order, minlength=n + 1) - np.bincount(stop, minlength=n + 1))
        out = np.full(len(self.times), -1, dtype=np.int64)
        out[item] = cover[:n]
        return out

    def query(
        self, codes: np.ndarray, times: np.ndarray, *, own_from: int | None = None
    ) -> WindowQuery:
        """Window queries at time-ordered `times` for entity `codes`. With `own_from`, the
        query rows are this stream's own items from that index on: each window then ends
        just after the item itself, so a later item at the same time is not yet counted."""
        return WindowQuery(self, codes, times, own_from)


class WindowQuery:
    """Window counts and sums for many query rows; the rows are sorted by (entity, time)
    once, so every binary search runs over sorted needles, and each window width's start
    positions are searched once for all its counts and sums."""

    def __init__(
        self, stream: BatchStream, codes: np.ndarray, times: np.ndarray, own_from: int | None
    ) -> None:
        self.stream = stream
        self.entity: np.ndarray | None = None  # per query, its entity's number in the stream
        if own_from is not None:
            # the stream's keys already sort its own items: the queries' order is theirs
            at = np.flatnonzero((stream.keys & stream.low) >= own_from)
            missing = np.flatnonzero(codes < 0)
            self.order = np.concatenate([missing, (stream.keys[at] & stream.low) - own_from])
            self.codes = np.concatenate(
                [np.full(len(missing), -1, dtype=np.int64), stream.keys[at] >> stream.shift]
            )
            self.ends = np.concatenate([np.zeros(len(missing), dtype=np.int64), at + 1])
            if stream.entities is not None:
                self.entity = np.concatenate(
                    [np.zeros(len(missing), dtype=np.int64), stream.entities[0][at]]
                )
            self.missing = self.codes < 0
        else:
            shift = max(1, len(codes)).bit_length()
            self.order = np.argsort((codes.astype(np.int64) << shift) | np.arange(len(codes)))
            self.codes = np.take(codes, self.order).astype(np.int64)
            self.missing = self.codes < 0
            if stream.entities is not None:
                known = stream.entities[1]
                self.entity = np.minimum(np.searchsorted(known, self.codes), len(known) - 1)
                self.missing |= known[self.entity] != self.codes  # an entity with no items
                self.ends = stream.place(self.entity, np.take(times, self.order))  # time <= t
            else:
                self.ends = self._bound(times)
        self.times = times
        self.ends[self.missing] = 0
        self._starts: dict[int, np.ndarray] = {}
        self._sorted_times = np.take(times, self.order) if self.entity is not None else times

    def _bound(self, upto: np.ndarray) -> np.ndarray:
        """Per query (in sorted order): end of its entity's items with time <= `upto`."""
        ranks = np.take(np.searchsorted(self.stream.times, upto, "right"), self.order)
        keys = (self.codes << self.stream.shift) | ranks
        return np.searchsorted(self.stream.keys, keys, "left")

    def _start(self, width: int) -> np.ndarray:
        """Per query (in sorted order): start of its entity's items with time > t - width."""
        if width not in self._starts:
            if self.entity is not None:
                starts = self.stream.place(self.entity, self._sorted_times - width)
            else:
                starts = self._bound(self.times - width)
            starts = np.minimum(starts, self.ends)
            starts[self.missing] = 0
            self._starts[width] = starts
        return self._starts[width]

    def _unsorted(self, values: np.ndarray) -> np.ndarray:
        out = np.empty_like(values)
        out[self.order] = values
        return out

    def counts(self, width: int) -> np.ndarray:
        """Per query row: how many of its entity's items have ``t - width < time <= t``."""
        return self._unsorted(self.ends - self._start(width))

    def sums(self, width: int, column: int) -> np.ndarray:
        """Per query row: the sum of value `column` over its entity's items with
        ``t - width < time <= t``."""
        prefix = self.stream.prefix[column]
        return self._unsorted(np.take(prefix, self.ends) - np.take(prefix, self._start(width)))

    def previous_time(self, none: int) -> np.ndarray:
        """Per query row: the time of the item before the last one counted (the previous
        payment of the entity, when the stream is queried by its own items), else `none`."""
        prev = self.ends - 2
        has = prev >= 0
        has[has] = (self.stream.keys[prev[has]] >> self.stream.shift) == self.codes[has]
        has &= ~self.missing
        out = np.full(len(prev), none, dtype=np.int64)
        out[has] = self.stream.item_times[prev[has]]
        return self._unsorted(out)


class EntityLog:
    """One entity's items in time order with prefix sums of `width` integer values.

    Items may arrive out of time order (labels confirmed late); they are inserted in place.
    `prune(before)` forgets items with time <= `before`, keeping the sums exact.
    """

    __slots__ = ("times", "prefix", "width")

    def __init__(self, width: int) -> None:
        self.width = width
        self.times: list[int] = []
        self.prefix: list[tuple[int, ...]] = [(0,) * width]

    def add(self, time: int, values: Sequence[int]) -> None:
        """Add one item (appending is O(1) when it is the latest)."""
        if not self.times or time >= self.times[-1]:
            last = self.prefix[-1]
            self.times.append(time)
            self.prefix.append(tuple(a + int(b) for a, b in zip(last, values, strict=True)))
            return
        at = bisect_right(self.times, time)
        own = [tuple(b - a for a, b in zip(p, q, strict=True)) for p, q in zip(
            self.prefix[at:-1], self.prefix[at + 1 :], strict=True
        )]
        insort(self.times, time)
        del self.prefix[at + 1 :]
        for item in [tuple(int(v) for v in values), *own]:
            last = self.prefix[-1]
            self.prefix.append(tuple(a + b for a, b in zip(last, item, strict=True)))

    def window_sums(self, after: int, upto: int) -> tuple[int, ...]:
        """Sums of the items with ``after < time <= upto``."""
        hi = bisect_right(self.times, upto)
        lo = min(bisect_right(self.times, after), hi)
        p, q = self.prefix[lo], self.prefix[hi]
        return tuple(b - a for a, b in zip(p, q, strict=True))

    def previous_time(self, upto: int) -> int | None:
        """Time of the second-to-last item with time <= `upto` (the one before the current)."""
        hi = bisect_right(self.times, upto)
        return self.times[hi - 2] if hi >= 2 else None

    def prune(self, before: int) -> None:
        """Forget the items with time <= `before`."""
        cut = bisect_right(self.times, before)
        if cut:
            del self.times[:cut]
            del self.prefix[:cut]

    def __len__(self) -> int:
        return len(self.times)


class DistinctLog:
    """One entity's items (time, value) in time order, for distinct counts over windows.

    Items may arrive out of time order (late payments); they are inserted in place after
    the items of the same time. `prune(before)` forgets items with time <= `before`.
    """

    __slots__ = ("times", "values")

    def __init__(self) -> None:
        self.times: list[int] = []
        self.values: list[str] = []

    def add(self, time: int, value: str) -> None:
        """Add one item (O(1) when it is the latest)."""
        at = len(self.times) if not self.times or time >= self.times[-1] else bisect_right(
            self.times, time)
        self.times.insert(at, time)
        self.values.insert(at, value)

    def distinct(self, after: int, upto: int) -> int:
        """How many distinct values the items with ``after < time <= upto`` have."""
        hi = bisect_right(self.times, upto)
        return len(set(self.values[bisect_right(self.times, after, 0, hi) : hi]))

    def prune(self, before: int) -> None:
        """Forget the items with time <= `before`."""
        cut = bisect_right(self.times, before)
        if cut:
            del self.times[:cut]
            del self.values[:cut]
