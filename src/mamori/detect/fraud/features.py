"""Transaction features, defined once and computed the same way in a batch or one at a time.

`FEATURES` lists every feature by name; the definitions below (`ACTIVITY`, `DISTINCT`,
`RISK`, `NOVELTY`) say what each is. Two executors read the same definitions:

- `batch_features(events, labels)` computes them for a time-ordered frame of
  transactions (a training set, or a live batch after its history), vectorised;
- `OnlineFeatures` keeps per-entity state and computes them for one live transaction.

Both count with the exact integer windows of `mamori.detect.fraud.windows`, so they give
identical values (the train/serve parity test checks it).

What the features are, following the Fraud Detection Handbook's reasoning (chapter 3.4):

- **payer activity**: the paying card (else the account, else the customer): how many
  payments and their mean amount over windows from 10 minutes to 90 days, the seconds
  since its previous payment, and this amount against the mean of its own earlier payments
  in the window (a stolen card's spending departs from the owner's habits);
- **acceptor and link activity**: payment counts per terminal, merchant, device, IP
  address and counterparty;
- **distinct counts**: how many different terminals (merchants) a payer paid at over a
  day and a week, and how many different payers a terminal served in a day (a card
  tested at many terminals, a terminal compromised for many cards);
- **risk from confirmed fraud**: the share of a terminal's or merchant's labelled payments
  that were fraud, and the count of a payer's confirmed frauds, over windows. A label
  counts only from its `known_at` time (fraud is confirmed days later; the handbook's delay
  is 7 days), so a label still unknown at a payment's time never touches its features;
- **novelty**: the payer's first payment in 90 days at this terminal, merchant, device, IP
  address, country, channel or counterparty (null where the payment has no such field);
- **time**: hour of day, night and weekend flags (UTC).

Windows are ``(t - width, t]`` and include the payment itself. Amounts are summed in
units of 1/10,000 (every currency's minor unit fits), so sums are exact integers.

>>> import polars as pl, datetime as dt
>>> t = [dt.datetime(2024, 5, 1, 10, m, tzinfo=dt.timezone.utc) for m in (0, 5, 30)]
>>> ev = pl.DataFrame({"event_id": ["a", "b", "c"], "time": t, "card": ["K1"] * 3,
...     "terminal": ["T1", "T1", "T2"], "amount": [10.0, 20.0, 90.0]})
>>> f = batch_features(ev)
>>> f.select("payer_count_10m", "payer_count_1h", "payer_amount_vs_mean_7d", "new_terminal").rows()
[(1.0, 1.0, nan, 1.0), (2.0, 2.0, 2.0, 0.0), (1.0, 3.0, 6.0, 1.0)]
>>> online = OnlineFeatures()
>>> [online.score_one(r)[FEATURES.index("payer_amount_vs_mean_7d")] for r in ev.to_dicts()]
[nan, 2.0, 6.0]
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from mamori.detect.fraud.windows import BatchStream, DistinctLog, EntityLog, code_bits

US = 1_000_000
UNITS = 10_000  # amount units per currency unit
WINDOWS: dict[str, int] = {
    "10m": 600 * US,
    "1h": 3600 * US,
    "1d": 86_400 * US,
    "7d": 7 * 86_400 * US,
    "30d": 30 * 86_400 * US,
    "90d": 90 * 86_400 * US,
}
NOVELTY_WINDOW = "90d"

#: Entities and the transaction columns that name them (the first non-null one).
ENTITIES: dict[str, tuple[str, ...]] = {
    "payer": ("card", "account", "customer"),
    "terminal": ("terminal",),
    "merchant": ("merchant",),
    "device": ("device",),
    "ip": ("ip",),
    "counterparty": ("counterparty",),
}


@dataclass(frozen=True)
class Activity:
    """Counts (and optionally mean amounts) of an entity's own payments over windows."""

    entity: str
    counts: tuple[str, ...]
    means: tuple[str, ...] = ()
    versus_mean: tuple[str, ...] = ()  # this amount / mean of the entity's earlier payments
    since_last: bool = False


@dataclass(frozen=True)
class Distinct:
    """How many different `other` entities an entity's payments named over windows
    (payments without the other entity are not counted)."""

    entity: str
    other: str
    windows: tuple[str, ...]

    def names(self) -> list[str]:
        return [f"{self.entity}_distinct_{self.other}s_{w}" for w in self.windows]


@dataclass(frozen=True)
class Risk:
    """Confirmed fraud on an entity over windows of label-confirmation time."""

    entity: str
    windows: tuple[str, ...]
    share: bool  # fraud share of the labelled payments (terminals) or fraud count (payers)


ACTIVITY = (
    Activity(
        "payer",
        counts=("10m", "1h", "1d", "7d", "30d", "90d"),
        means=("1d", "7d", "30d", "90d"),
        versus_mean=("7d", "30d", "90d"),
        since_last=True,
    ),
    Activity("terminal", counts=("1d", "7d", "30d")),
    Activity("merchant", counts=("1d", "7d", "30d")),
    Activity("device", counts=("1h", "1d"), since_last=True),
    Activity("ip", counts=("1h", "1d")),
    Activity("counterparty", counts=("1d", "30d"), since_last=True),
)
DISTINCT = (
    Distinct("payer", "terminal", ("1d", "7d")),
    Distinct("payer", "merchant", ("1d", "7d")),
    Distinct("terminal", "payer", ("1d",)),
)
RISK = (
    Risk("terminal", ("1d", "7d", "30d"), share=True),
    Risk("merchant", ("1d", "7d", "30d"), share=True),
    Risk("payer", ("7d", "30d"), share=False),
)
#: Novelty of a field for the payer: feature name -> column.
NOVELTY: dict[str, str] = {
    "new_terminal": "terminal",
    "new_merchant": "merchant",
    "new_device": "device",
    "new_ip": "ip",
    "new_country": "country",
    "new_channel": "channel",
    "new_counterparty": "counterparty",
}
TIME_FEATURES = ("hour", "is_night", "is_weekend")


def _activity_names(a: Activity) -> list[str]:
    names = [f"{a.entity}_count_{w}" for w in a.counts]
    names += [f"{a.entity}_mean_amount_{w}" for w in a.means]
    names += [f"{a.entity}_amount_vs_mean_{w}" for w in a.versus_mean]
    return names + ([f"{a.entity}_seconds_since_last"] if a.since_last else [])


def _names() -> list[str]:
    names = ["amount"]
    for a in ACTIVITY:
        names += _activity_names(a)
    for d in DISTINCT:
        names += d.names()
    for r in RISK:
        kind = "fraud_share" if r.share else "frauds"
        names += [f"{r.entity}_{kind}_{w}" for w in r.windows]
    return [*names, *NOVELTY, *TIME_FEATURES]


#: Every feature, in the order of a feature vector.
FEATURES: list[str] = _names()
_MAX_ACTIVITY = max(WINDOWS[w] for a in ACTIVITY for w in (*a.counts, *a.means, *a.versus_mean))
_MAX_RISK = max(WINDOWS[w] for r in RISK for w in r.windows)
_MAX_DISTINCT = max(WINDOWS[w] for d in DISTINCT for w in d.windows)
_ID_SEED = 0x6C6162656C  # hashes payment ids to join labels to their payments
LABELS: dict[str, pl.DataType] = {
    "event_id": pl.String(),
    "known_at": pl.Datetime("us", "UTC"),
    "fraud": pl.Int8(),
}


def _to_units(amount: float | None) -> int:
    return 0 if amount is None or math.isnan(amount) else round(amount * UNITS)


def feature_columns(X: np.ndarray) -> dict[str, np.ndarray]:
    """The columns of a `FEATURES` matrix by name (views, no copy)."""
    return {f: X[:, j] for j, f in enumerate(FEATURES)}


def _time_features(t: np.ndarray) -> list[np.ndarray]:
    hour = (t // (3600 * US)) % 24
    weekday = (t // (86_400 * US) + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    return [hour.astype(np.float64), (hour < 6).astype(np.float64), (weekday >= 5) * 1.0]


# --- batch ------------------------------------------------------------------------------


def _entity_expr(entity: str) -> pl.Expr:
    cols = ENTITIES[entity]
    return pl.coalesce([pl.col(c).cast(pl.String) for c in cols]).alias(entity)


def _ensure(frame: pl.DataFrame, columns: set[str]) -> pl.DataFrame:
    missing = [c for c in columns if c not in frame.columns]
    return frame.with_columns(pl.lit(None, pl.String).alias(c) for c in missing)


def _codes(*series: pl.Series) -> list[np.ndarray]:
    """Shared integer codes for the values of several string series (-1 for null), below
    ``2 ** code_bits(...)`` of the series' lengths: the top bits of each value's hash, or,
    if two values share those, their rank among the distinct hashes."""
    bits = np.uint64(64 - code_bits(*(len(s) for s in series)))
    if all(s.null_count() == len(s) for s in series):
        return [np.full(len(s), -1, dtype=np.int64) for s in series]
    known = pl.concat([s.is_not_null() for s in series])
    hashes: np.ndarray = (
        pl.concat([s.cast(pl.String) for s in series]).hash(0x66726175).filter(known).to_numpy()
    )
    codes = (hashes >> bits).astype(np.int64)
    ordered = np.sort(hashes)
    distinct = np.ones(len(ordered), dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=distinct[1:])
    top = ordered >> bits
    if np.any(distinct[1:] & (top[1:] == top[:-1])):  # two values share their top bits
        codes = np.unique(hashes, return_inverse=True)[1].astype(np.int64)
    out, at = [], 0
    for s in series:
        code = np.full(len(s), -1, dtype=np.int64)
        code[s.is_not_null().to_numpy()] = codes[at : at + s.len() - s.null_count()]
        out.append(code)
        at += s.len() - s.null_count()
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(len(num), np.nan)
    ok = den > 0
    out[ok] = num[ok] / den[ok]
    return out


def batch_features(
    events: pl.DataFrame,
    labels: pl.DataFrame | None = None,
    *,
    first: int = 0,
    only: Collection[str] | None = None,
) -> pl.DataFrame:
    """Features of the time-ordered `events` from row `first` on (earlier rows are history).

    `labels` (`event_id`, `known_at`, `fraud`) are the confirmations known so far; each
    counts only for payments at or after its `known_at`. Returns `event_id` and `FEATURES`;
    with `only`, the features not named there are not computed and come back as NaN (a
    scorer asks only for what its model, anomaly score and rules read).
    """
    wanted = set(FEATURES if only is None else only)
    columns = {c for cols in ENTITIES.values() for c in cols} | set(NOVELTY.values())
    frame = _ensure(events, columns)
    ent = frame.select([_entity_expr(e) for e in ENTITIES])
    times = frame["time"].dt.epoch("us").to_numpy().astype(np.int64)
    if np.any(np.diff(times) < 0):
        raise ValueError("events must be in time order")
    units = np.round(frame["amount"].fill_null(0.0).fill_nan(0.0).to_numpy() * UNITS)
    units = units.astype(np.int64)
    q = slice(first, None)
    tq = times[q]
    cols: dict[str, np.ndarray] = {"amount": frame["amount"].to_numpy()[q].astype(np.float64)}
    unknown = np.full(len(tq), np.nan)
    label_items = _label_items(frame, ent, labels)
    start = times[first] if first < len(times) else np.iinfo(np.int64).max // 2

    def reach(horizon: int) -> int:
        """The first row a window of `horizon` over the scored rows can reach."""
        return min(first, int(np.searchsorted(times, start - horizon, "right")))

    for a in ACTIVITY:
        a = _only(a, wanted)
        since_last = f"{a.entity}_seconds_since_last" in wanted and a.since_last
        widths = [WINDOWS[w] for w in (*a.counts, *a.means, *a.versus_mean)]
        if not widths and not since_last:
            continue
        lo = reach(_MAX_ACTIVITY if since_last else max(widths))
        (codes,) = _codes(ent[a.entity][lo:])
        if not np.any(codes >= 0):
            continue
        query = BatchStream(codes, times[lo:], [units[lo:]]).query(
            codes[first - lo :], tq, own_from=first - lo
        )
        missing = codes[first - lo :] < 0
        counts = {w: query.counts(WINDOWS[w]).astype(np.float64) for w in a.counts}
        for w in a.counts:
            cols[f"{a.entity}_count_{w}"] = np.where(missing, np.nan, counts[w])
        for w in a.means:
            n, total = query.counts(WINDOWS[w]), query.sums(WINDOWS[w], 0)
            cols[f"{a.entity}_mean_amount_{w}"] = _ratio(total * 1.0, n * 1.0) / UNITS
        own = units[q].astype(np.float64)
        for w in a.versus_mean:
            n, total = query.counts(WINDOWS[w]), query.sums(WINDOWS[w], 0)
            earlier = _ratio(total - own, n - 1.0) / UNITS
            cols[f"{a.entity}_amount_vs_mean_{w}"] = _ratio(own / UNITS, earlier)
        if since_last:
            none = np.iinfo(np.int64).min
            prev = query.previous_time(none)
            gone = (prev == none) | missing | (tq - prev >= _MAX_ACTIVITY)  # as online forgets
            since = (tq - np.where(gone, tq, prev)) / US
            cols[f"{a.entity}_seconds_since_last"] = np.where(gone, np.nan, since)
    for d in DISTINCT:
        named = [(n, w) for n, w in zip(d.names(), d.windows, strict=True) if n in wanted]
        lo = reach(max((WINDOWS[w] for _, w in named), default=0))
        if not named or ent[d.entity][lo:].null_count() == ent.height - lo:
            continue
        codes, others = _codes(ent[d.entity][lo:], ent[d.other][lo:])
        stream = BatchStream(codes, times[lo:])
        for name, w in named:
            n = stream.distinct(others, WINDOWS[w])[first - lo :]
            cols[name] = np.where(n < 0, np.nan, n * 1.0)
    for r in RISK:
        kind = "fraud_share" if r.share else "frauds"
        r = Risk(r.entity, tuple(w for w in r.windows if f"{r.entity}_{kind}_{w}" in wanted),
                 r.share)
        if not r.windows:
            continue
        oldest = start - max(WINDOWS[w] for w in r.windows)
        items = label_items.filter(
            pl.col(r.entity).is_not_null(), pl.col("known_at").dt.epoch("us") > oldest
        ).sort("known_at")
        codes, item_codes = _codes(ent[r.entity][q], items[r.entity])
        known = items["known_at"].dt.epoch("us").to_numpy().astype(np.int64)
        fraud = items["fraud"].to_numpy().astype(np.int64)
        query = BatchStream(item_codes, known, [fraud]).query(codes, tq)
        for w in r.windows:
            n, frauds = query.counts(WINDOWS[w]) * 1.0, query.sums(WINDOWS[w], 0) * 1.0
            value = np.where(n > 0, _ratio(frauds, n), 0.0) if r.share else frauds
            cols[f"{r.entity}_{kind}_{w}"] = np.where(codes < 0, np.nan, value)
    for name, column in NOVELTY.items():
        if name not in wanted or frame[column].null_count() == frame.height or (
            ent["payer"].null_count() == ent.height
        ):
            continue
        lo = reach(WINDOWS[NOVELTY_WINDOW])
        pair = frame.slice(lo).select(
            pl.concat_str([_entity_expr("payer"), pl.col(column).cast(pl.String)], separator="\x1f")
        ).to_series()
        (codes,) = _codes(pair)
        query = BatchStream(codes, times[lo:]).query(codes[first - lo :], tq, own_from=first - lo)
        n = query.counts(WINDOWS[NOVELTY_WINDOW])
        cols[name] = np.where(codes[first - lo :] < 0, np.nan, (n == 1) * 1.0)
    for name, values in zip(TIME_FEATURES, _time_features(tq), strict=True):
        cols[name] = values
    return pl.DataFrame(
        {"event_id": frame["event_id"][q], **{f: cols.get(f, unknown) for f in FEATURES}}
    )


def _only(a: Activity, wanted: set[str]) -> Activity:
    """`a` with only the windows of the features in `wanted`."""
    def keep(kind: str, windows: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(w for w in windows if f"{a.entity}_{kind}_{w}" in wanted)

    return Activity(
        a.entity, keep("count", a.counts), keep("mean_amount", a.means),
        keep("amount_vs_mean", a.versus_mean), a.since_last,
    )


def _label_items(
    frame: pl.DataFrame, ent: pl.DataFrame, labels: pl.DataFrame | None
) -> pl.DataFrame:
    """One item per known label, with the entities of the payment it confirms (joined from
    `frame`, unless the labels carry them already, as `label_items` makes them)."""
    if labels is not None and all(r.entity in labels.columns for r in RISK):
        return labels.with_columns(pl.col("fraud").cast(pl.Int64))
    if labels is None:
        labels = pl.DataFrame(schema=LABELS)
    # joined on the ids' hashes (integers join faster than strings), then the ids compared
    keyed = ent.with_columns(
        frame["event_id"].alias("_payment"), _key=frame["event_id"].hash(_ID_SEED)
    )
    return (
        labels.select(
            pl.col("event_id"),
            pl.col("known_at").cast(LABELS["known_at"]),
            pl.col("fraud").cast(pl.Int64),
            _key=pl.col("event_id").hash(_ID_SEED),
        )
        .join(keyed, on="_key", how="inner")
        .filter(pl.col("event_id") == pl.col("_payment"))
        .drop("_key", "_payment")
    )


def label_items(events: pl.DataFrame, labels: pl.DataFrame) -> pl.DataFrame:
    """Labels (`event_id`, `known_at`, `fraud`) with the entities of the payments in
    `events` they confirm; labels of payments not in `events` are left out."""
    frame = _ensure(events, {c for r in RISK for c in ENTITIES[r.entity]})
    ent = frame.select([_entity_expr(r.entity) for r in RISK])
    return _label_items(frame, ent, labels)


def labels_with_delay(labels: pl.DataFrame, delay_days: float) -> pl.DataFrame:
    """Label frame whose `known_at` is each payment's `time` plus a fixed delay."""
    delay = pl.duration(microseconds=int(delay_days * 86_400 * US))
    return labels.select(
        "event_id", (pl.col("time") + delay).alias("known_at"), pl.col("fraud").cast(pl.Int8)
    )


# --- online -----------------------------------------------------------------------------


def _first(tx: Mapping[str, Any], cols: tuple[str, ...]) -> str | None:
    for c in cols:
        v = tx.get(c)
        if v is not None:
            return str(v)
    return None


def _epoch_us(value: Any) -> int:
    if isinstance(value, datetime):
        return (value - datetime(1970, 1, 1, tzinfo=value.tzinfo)) // _ONE_US
    return int(value)


_ONE_US = datetime(1970, 1, 1, 0, 0, 0, 1) - datetime(1970, 1, 1)


class OnlineFeatures:
    """Per-entity state for scoring live transactions one at a time.

    `score_one(tx)` adds the transaction to its entities' windows and returns its feature
    vector (`FEATURES` order); `add_labels(...)` records confirmed labels, which count from
    their `known_at`. State is bounded: windows forget items older than the longest window,
    and entities idle for longer are dropped by `sweep`.
    """

    def __init__(self) -> None:
        self.activity: dict[str, dict[str, EntityLog]] = {a.entity: {} for a in ACTIVITY}
        self.risk: dict[str, dict[str, EntityLog]] = {r.entity: {} for r in RISK}
        self.distinct: dict[Distinct, dict[str, DistinctLog]] = {d: {} for d in DISTINCT}
        self.pairs: dict[str, dict[tuple[str, str], EntityLog]] = {n: {} for n in NOVELTY}
        self.clock = 0

    def add_labels(
        self, entities: Mapping[str, str | None], known_at: datetime | int, fraud: int
    ) -> None:
        """Record a confirmed label of a payment whose entities are `entities` (as
        `entities_of(tx)` gives them)."""
        t = _epoch_us(known_at)
        for r in RISK:
            key = entities.get(r.entity)
            if key is not None:
                self.risk[r.entity].setdefault(key, EntityLog(2)).add(t, (1, int(fraud)))

    def score_one(self, tx: Mapping[str, Any]) -> list[float]:
        """Add one transaction (a dict of `transaction` fields) and return its features."""
        t = _epoch_us(tx["time"])
        self.clock = max(self.clock, t)
        amount = tx.get("amount")
        units = _to_units(amount)
        out: dict[str, float] = {"amount": float("nan") if amount is None else float(amount)}
        ents = entities_of(tx)
        for a in ACTIVITY:
            key = ents[a.entity]
            log = None
            if key is not None:
                log = self.activity[a.entity].setdefault(key, EntityLog(2))
                log.add(t, (1, units))
                log.prune(t - _MAX_ACTIVITY)
            for w in a.counts:
                out[f"{a.entity}_count_{w}"] = (
                    float(log.window_sums(t - WINDOWS[w], t)[0]) if log else math.nan
                )
            for w in a.means:
                n, s = log.window_sums(t - WINDOWS[w], t) if log else (0, 0)
                out[f"{a.entity}_mean_amount_{w}"] = float(s) / float(n) / UNITS if n else math.nan
            for w in a.versus_mean:
                n, s = log.window_sums(t - WINDOWS[w], t) if log else (0, 0)
                earlier = (float(s) - units) / (float(n) - 1.0) / UNITS if n > 1 else math.nan
                out[f"{a.entity}_amount_vs_mean_{w}"] = (
                    units / UNITS / earlier if earlier > 0 else math.nan
                )
            if a.since_last:
                prev = log.previous_time(t) if log else None
                out[f"{a.entity}_seconds_since_last"] = (
                    math.nan if prev is None else (t - prev) / US
                )
        for d, table in self.distinct.items():
            key, other = ents[d.entity], ents[d.other]
            dlog = table.get(key) if key is not None else None
            if key is not None and other is not None:
                dlog = table.setdefault(key, DistinctLog())
                dlog.add(t, other)
            if dlog is not None:
                dlog.prune(t - _MAX_DISTINCT)
            for name, w in zip(d.names(), d.windows, strict=True):
                n = dlog.distinct(t - WINDOWS[w], t) if dlog is not None else 0
                out[name] = math.nan if key is None else float(n)
        for r in RISK:
            key = ents[r.entity]
            rlog = self.risk[r.entity].get(key) if key is not None else None
            if rlog is not None:
                rlog.prune(t - _MAX_RISK)
            for w in r.windows:
                n, f = rlog.window_sums(t - WINDOWS[w], t) if rlog else (0, 0)
                value = (float(f) / float(n) if n else 0.0) if r.share else float(f)
                name = f"{r.entity}_{'fraud_share' if r.share else 'frauds'}_{w}"
                out[name] = math.nan if key is None else value
        for name, column in NOVELTY.items():
            other = tx.get(column)
            payer = ents["payer"]
            if payer is None or other is None:
                out[name] = math.nan
                continue
            plog = self.pairs[name].setdefault((payer, str(other)), EntityLog(1))
            plog.add(t, (1,))
            plog.prune(t - WINDOWS[NOVELTY_WINDOW])
            out[name] = 1.0 if plog.window_sums(t - WINDOWS[NOVELTY_WINDOW], t)[0] == 1 else 0.0
        tt = np.array([t], dtype=np.int64)
        for name, values in zip(TIME_FEATURES, _time_features(tt), strict=True):
            out[name] = float(values[0])
        return [out[f] for f in FEATURES]

    def sweep(self) -> int:
        """Drop entities with nothing left in any window; returns how many were dropped."""
        dropped = 0
        horizons: list[tuple[Mapping[Any, dict[Any, Any]], int]] = [
            (self.activity, _MAX_ACTIVITY),
            (self.distinct, _MAX_DISTINCT),
            (self.risk, _MAX_RISK),
            (self.pairs, WINDOWS[NOVELTY_WINDOW]),
        ]
        for tables, horizon in horizons:
            for table in tables.values():
                stale = [k for k, log in table.items() if not log.times
                         or log.times[-1] <= self.clock - horizon]
                for k in stale:
                    del table[k]
                dropped += len(stale)
        return dropped


def entities_of(tx: Mapping[str, Any]) -> dict[str, str | None]:
    """The entity ids (payer, terminal, …) a transaction names."""
    return {e: _first(tx, cols) for e, cols in ENTITIES.items()}
