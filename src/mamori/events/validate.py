"""Check parsed records against their kind's schema, whole columns at a time.

`validate` takes records of one kind as parsed (strings from text formats, native types from
Parquet) and splits them into rows that fit, with every column cast to its declared type and
`time` parsed to UTC, and rows that do not, each with the first reason that applies
(`mamori.events.reasons`, in the order listed there) and a detail naming the column and the
value. Nothing loops over rows: a cast is made with ``strict=False`` and a value that was
there before the cast but is null after it did not fit.

Times: ISO-8601 strings with ``Z`` or an offset (a ``T`` or a space between date and time,
any fraction of a second), dates, and epoch seconds or milliseconds as numbers or numeric
strings (a value of 1e11 or more is taken as milliseconds: 1e11 seconds is the year 5138).
Naive times are UTC. A time before 1990 or more than a day after `now` is refused.

>>> from datetime import datetime, timezone
>>> raw = pl.DataFrame({
...     "_line": [1, 2, 3, 4],
...     "time": ["2024-05-01T12:00:00+02:00", "1714557600000", "yesterday", "2024-05-01"],
...     "amount": ["12.50", "-3", "1", "abc"],
... })
>>> ok, bad = validate(raw, "transaction", now=datetime(2024, 6, 1, tzinfo=timezone.utc))
>>> ok.select("time", "amount").rows()
[(datetime.datetime(2024, 5, 1, 10, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC')), 12.5)]
>>> bad.select("_line", "reason", "detail").rows()  # doctest: +NORMALIZE_WHITESPACE
[(2, 'bad_value', 'amount=-3.0: must be a finite amount from 0 to 1e12'),
 (3, 'unparseable_time', 'time="yesterday": not a time'),
 (4, 'wrong_type', 'amount="abc": not a number')]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl

from mamori.events import reasons
from mamori.events.chunk import INTERNAL, rejects
from mamori.events.schema import OPEN_KINDS, TIME, schema

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)
MAX_AMOUNT = 1e12

#: ISO-8601 layouts tried in turn, each only on the values still unparsed.
_TIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M%#z",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
)
_EPOCH_MS_FROM = 1e11

#: Log severities accepted (lower case): syslog's names and numbers and their usual variants.
LOG_SEVERITIES = (
    "emerg", "emergency", "panic", "alert", "crit", "critical", "fatal", "severe",
    "err", "error", "failure", "warn", "warning", "notice", "info", "informational",
    "information", "debug", "trace", "verbose",
    "0", "1", "2", "3", "4", "5", "6", "7",
)  # fmt: skip


@dataclass(frozen=True)
class Rule:
    """A check on a typed column: `ok` must hold for every non-null value."""

    column: str
    ok: Callable[[pl.Expr], pl.Expr]
    says: str


def _port(column: str) -> Rule:
    return Rule(column, lambda c: c.is_between(0, 65535), "must be a port from 0 to 65535")


def _not_negative(column: str) -> Rule:
    return Rule(column, lambda c: c >= 0, "must not be negative")


def _finite_not_negative(column: str) -> Rule:
    return Rule(column, lambda c: c.is_finite() & (c >= 0), "must be finite and not negative")


def _code(column: str, letters: int, standard: str) -> Rule:
    return Rule(
        column,
        lambda c: c.str.contains(f"^[A-Z]{{{letters}}}$"),
        f"must be a {standard} code of {letters} capital letters",
    )


#: The value checks of each kind, beyond the types.
RULES: dict[str, tuple[Rule, ...]] = {
    "transaction": (
        Rule(
            "amount",
            lambda c: c.is_finite() & c.is_between(0, MAX_AMOUNT),
            "must be a finite amount from 0 to 1e12",
        ),
        _code("currency", 3, "ISO 4217"),
        _code("country", 2, "ISO 3166 alpha-2"),
        Rule("direction", lambda c: c.is_in(["debit", "credit"]), "must be debit or credit"),
    ),
    "flow": (
        _port("src_port"),
        _port("dst_port"),
        _not_negative("bytes_out"),
        _not_negative("bytes_in"),
        _not_negative("packets"),
        _finite_not_negative("duration"),
    ),
    "auth": (_code("country", 2, "ISO 3166 alpha-2"),),
    "winlog": (
        Rule("EventID", lambda c: c.is_between(0, 65535), "must be from 0 to 65535"),
        _not_negative("EventRecordID"),
        _port("DestinationPort"),
    ),
    "log": (
        _not_negative("pid"),
        Rule(
            "severity",
            lambda c: c.str.to_lowercase().is_in(LOG_SEVERITIES),
            "is not a known severity (syslog names or 0-7)",
        ),
    ),
}


@dataclass(frozen=True)
class _Check:
    """One check's failing rows: the reason, and what to say of the value in `column`."""

    failed: pl.Series
    reason: str
    says: str
    column: str | None = None
    values: pl.Series | None = None


def validate(
    records: pl.DataFrame, kind: str, *, now: datetime | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split records of one kind into (accepted, rejected).

    `accepted` has the kind's declared columns present in `records`, cast to their types
    (`time` parsed to UTC microseconds), and for open kinds any other columns as they came;
    `rejected` has the columns of `mamori.events.chunk.REJECTED`. `records` must carry
    `_line`.
    """
    now = now or datetime.now(UTC)
    declared = schema(kind)
    n = records.height
    if "time" in records.columns:
        raw_time = records["time"]
    else:
        raw_time = pl.repeat(None, n, dtype=pl.String, eager=True)
    time = parse_time(raw_time)
    latest = now + FUTURE_SLACK
    checks = [
        _Check(raw_time.is_null(), reasons.MISSING_TIME, "no time"),
        _Check(time.is_null(), reasons.UNPARSEABLE_TIME, "not a time", "time", raw_time),
        _Check(
            (time < EARLIEST) | (time > latest),
            reasons.TIME_OUT_OF_RANGE,
            f"before {EARLIEST:%Y} or more than a day after {now:%Y-%m-%d %H:%M} UTC",
            "time",
            time,
        ),
    ]
    typed: dict[str, pl.Series] = {"time": time}
    for name, dtype in declared.items():
        if name in ("time", "kind") or name not in records.columns:
            continue
        typed[name], bad = cast_value(records[name], dtype)
        checks.append(_Check(bad, reasons.WRONG_TYPE, _TYPE_WORDS[dtype], name, records[name]))

    frame = pl.DataFrame(typed)
    rules = [r for r in RULES.get(kind, ()) if r.column in frame.columns]
    if rules:
        masks = frame.select(
            (pl.col(r.column).is_not_null() & ~r.ok(pl.col(r.column))).fill_null(False)
            for r in rules
        )
        checks.extend(
            _Check(masks[:, i], reasons.BAD_VALUE, r.says, r.column, frame[r.column])
            for i, r in enumerate(rules)
        )

    reason, detail = _first_failure(checks, n)
    failed = reason.is_not_null()
    extras = [c for c in records.columns if c not in declared and c not in INTERNAL]
    if kind not in OPEN_KINDS:
        extras = []  # closed kinds keep their declared columns only
    accepted = pl.concat([frame, records.select(extras)], how="horizontal")
    if not failed.any():
        return accepted, rejects(records.clear(), reason.clear(), detail.clear())
    rejected = rejects(records.filter(failed), reason.filter(failed), detail.filter(failed))
    return accepted.filter(~failed), rejected


def parse_time(raw: pl.Series) -> pl.Series:
    """Times of any accepted form (see the module docstring) as UTC microseconds; null where
    a value cannot be read as a time."""
    dtype = raw.dtype
    if isinstance(dtype, pl.Datetime):
        moment = raw.dt.replace_time_zone("UTC") if dtype.time_zone is None else raw
        return moment.dt.convert_time_zone("UTC").cast(TIME).alias("time")
    if dtype == pl.Date:
        return raw.cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias("time")
    if dtype.is_numeric():
        return _from_epoch(raw.cast(pl.Float64))
    if dtype != pl.String:
        return pl.Series("time", [None] * len(raw), dtype=TIME)
    text = raw.str.strip_chars()
    out = _from_epoch(text.cast(pl.Float64, strict=False))
    for layout in _TIME_FORMATS:
        todo = out.is_null() & text.is_not_null()
        if not todo.any():
            break
        parsed = text.str.to_datetime(layout, time_unit="us", time_zone="UTC", strict=False)
        out = out.fill_null(parsed)
    return out.alias("time")


def _from_epoch(seconds_or_ms: pl.Series) -> pl.Series:
    """Epoch numbers to UTC microseconds; 1e11 and more are milliseconds."""
    value = seconds_or_ms
    scale = pl.when(value.abs() >= _EPOCH_MS_FROM).then(1e3).otherwise(1e6)
    micros = pl.select(
        pl.when(pl.lit(value).is_finite()).then(pl.lit(value) * scale).cast(pl.Int64, strict=False)
    ).to_series()
    return micros.cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias("time")


def cast_value(raw: pl.Series, dtype: pl.DataType) -> tuple[pl.Series, pl.Series]:
    """Cast a column to `dtype` leniently; return (values, bad), bad marking values that were
    there but do not fit. Strings are trimmed and an empty one counts as missing; a number
    with a fraction is no integer; true/false are no numbers."""
    source = raw.dtype
    if dtype == pl.String:
        if source.is_nested():
            return _json_text(raw), pl.repeat(False, len(raw), eager=True)
        return raw.cast(pl.String), pl.repeat(False, len(raw), eager=True)
    if source == pl.Boolean or source.is_nested():
        return pl.repeat(None, len(raw), dtype=dtype, eager=True), raw.is_not_null()
    given = raw
    if source == pl.String:
        given = raw.str.strip_chars()
        given = _null_where(given, given == "")
    value = given.cast(dtype, strict=False)
    if dtype.is_integer():
        number = given.cast(pl.Float64, strict=False) if source == pl.String else given
        if number.dtype.is_float():
            whole = (number.is_finite() & (number == number.floor())).fill_null(False)
            value = _null_where(value, ~whole & number.is_not_null())
            if source == pl.String:  # "443.0" is 443
                value = value.fill_null(_null_where(number, ~whole).cast(dtype, strict=False))
    return value, given.is_not_null() & value.is_null()


def _json_text(raw: pl.Series) -> pl.Series:
    """Nested values (lists, structs) as JSON text."""
    name = raw.name or "v"
    prefix = len(pl.DataFrame({name: [None]}).select(pl.struct(name).struct.json_encode()).item())
    encoded = pl.DataFrame({name: raw}).select(pl.struct(name).struct.json_encode()).to_series()
    body = encoded.str.slice(prefix - 5, encoded.str.len_chars() - prefix + 4)  # drop {"name": }
    return _null_where(body, raw.is_null()).alias(raw.name)


def _null_where(values: pl.Series, mask: pl.Series) -> pl.Series:
    """`values` with null where `mask` is true."""
    kept = pl.when(pl.lit(mask)).then(None).otherwise(pl.lit(values))
    return pl.select(kept.alias(values.name)).to_series()


_TYPE_WORDS: dict[pl.DataType, str] = {
    pl.Float64(): "not a number",
    pl.Int32(): "not a 32-bit integer",
    pl.Int64(): "not an integer",
    pl.String(): "not text",
}


def _first_failure(checks: list[_Check], n: int) -> tuple[pl.Series, pl.Series]:
    """Each row's first failing check, as (reason, detail); null where all passed. Details
    are written only for the rows that failed."""
    checks = [c for c in checks if c.failed.fill_null(False).any()]
    if not checks:
        empty = pl.repeat(None, n, dtype=pl.String, eager=True)
        return empty, empty
    masks = pl.DataFrame({f"m{i}": c.failed.fill_null(False) for i, c in enumerate(checks)})
    first = pl.coalesce(
        [pl.when(pl.col(f"m{i}")).then(pl.lit(i, pl.Int32)) for i in range(len(checks))]
    )
    which = masks.select(first.alias("which")).to_series()
    reason = pl.repeat(None, n, dtype=pl.String, eager=True)
    detail = pl.repeat(None, n, dtype=pl.String, eager=True)
    for i, check in enumerate(checks):
        rows = (which == i).fill_null(False)
        if not rows.any():
            continue
        idx = rows.arg_true()
        reason = reason.scatter(idx, check.reason)
        if check.column is None or check.values is None:
            detail = detail.scatter(idx, check.says)
        else:
            shown = check.values.gather(idx).cast(pl.String, strict=False).fill_null("null")
            if check.values.dtype == pl.String:
                shown = '"' + shown + '"'
            detail = detail.scatter(idx, f"{check.column}=" + shown + f": {check.says}")
    return reason, detail
