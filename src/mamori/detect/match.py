"""Field conditions of declarative rules, compiled to Polars expressions.

A condition maps a column to a value, a list of values (any of them), or an operator
table. String comparisons are case-insensitive, as Windows and proxy fields are.

>>> import polars as pl
>>> df = pl.DataFrame({"Image": [r"C:\\Windows\\System32\\cmd.exe", "x.exe"], "EventID": [1, 2]})
>>> df.filter(compile_match({"Image": {"endswith": "\\\\cmd.exe"}, "EventID": 1})).height
1
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import polars as pl

_STRING_OPS = ("contains", "startswith", "endswith")
_NUMBER_OPS = {"gt": "__gt__", "gte": "__ge__", "lt": "__lt__", "lte": "__le__"}
_IP_PRIVATE = r"^(10\.|192\.168\.|172\.(1[6-9]|2[0-9]|3[01])\.|127\.|169\.254\.|fc|fd|::1$)"


class RuleError(ValueError):
    """A rule that cannot be compiled; the message names the rule and the problem."""


def is_private_ip(address: pl.Expr) -> pl.Expr:
    """True where an address (or its leading octets) is private, loopback or link-local."""
    return address.str.contains(_IP_PRIVATE)


def is_external_ip(column: str) -> pl.Expr:
    """True where the column holds a public (non-private, non-loopback) IP address."""
    return pl.col(column).is_not_null() & ~is_private_ip(pl.col(column))


def network(column: str) -> pl.Expr | None:
    """For a derived column 'src_ip/24', the IPv4 network of `src_ip` ('203.0.113.0/24').

    Prefixes of 8, 16 and 24 bits are supported; other values (IPv6, names) become null.
    Returns None when `column` is not of the 'name/bits' form.

    >>> pl.DataFrame({"ip": ["203.0.113.7", "::1"]}).select(network("ip/24"))["ip/24"].to_list()
    ['203.0.113.0/24', None]
    """
    name, _, bits = column.partition("/")
    if not bits:
        return None
    octets = {"8": 1, "16": 2, "24": 3}.get(bits)
    if octets is None:
        raise RuleError(f"{column!r}: only /8, /16 and /24 networks are supported")
    octet = r"\d{1,3}"
    head = rf"^({octet}(?:\.{octet}){{{octets - 1}}})(?:\.{octet}){{{4 - octets}}}$"
    zeros = ".0" * (4 - octets)
    return (pl.col(name).str.extract(head) + pl.lit(f"{zeros}/{bits}")).alias(column)


def source_column(column: str) -> str:
    """The event column a possibly derived column ('src_ip/24') comes from."""
    return column.partition("/")[0]


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _lower(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.String).str.to_lowercase()


def _operator(column: str, op: str, value: Any) -> pl.Expr:
    if op in _STRING_OPS:
        needles = [str(v) for v in _as_list(value)]
        text = pl.col(column).cast(pl.String)
        if op == "contains":  # one Aho-Corasick pass for every needle
            return text.str.contains_any(needles, ascii_case_insensitive=True)
        # one case-insensitive regex pass: (?i)^(a|b) or (?i)(a|b)$
        alternatives = "|".join(re.escape(n) for n in needles)
        anchored = f"^(?:{alternatives})" if op == "startswith" else f"(?:{alternatives})$"
        return text.str.contains(f"(?i){anchored}")
    if op in _NUMBER_OPS:
        return getattr(pl.col(column), _NUMBER_OPS[op])(value)
    if op == "external":
        return is_external_ip(column) if value else ~is_external_ip(column)
    if op == "exists":
        return pl.col(column).is_not_null() if value else pl.col(column).is_null()
    if op == "not":
        return ~_condition(column, value).fill_null(False)
    if op == "hour_outside":
        start, end = value
        hour = pl.col(column).dt.hour()
        return (hour < start) | (hour >= end)
    raise RuleError(f"unknown operator {op!r} on field {column!r}")


def _condition(column: str, spec: Any) -> pl.Expr:
    if isinstance(spec, Mapping):
        if not spec:
            raise RuleError(f"empty condition on field {column!r}")
        return pl.all_horizontal([_operator(column, op, v) for op, v in spec.items()])
    values = _as_list(spec)
    if all(isinstance(v, str) for v in values):
        return _lower(column).is_in([v.lower() for v in values])
    return pl.col(column).is_in(values)


def _cost(spec: Any) -> int:
    """A rough cost of testing a condition: numbers and sets before text scans."""
    if isinstance(spec, Mapping):
        return 2 if set(spec) & set(_STRING_OPS) else 0
    return 1 if any(isinstance(v, str) for v in _as_list(spec)) else 0


def compile_match(spec: Mapping[str, Any] | None) -> pl.Expr:
    """All conditions must hold; an empty or missing spec matches every event."""
    if not spec:
        return pl.lit(True)
    return pl.all_horizontal([_condition(c, v) for c, v in spec.items()]).fill_null(False)


def apply_match(frame: pl.DataFrame, spec: Mapping[str, Any] | None) -> pl.DataFrame:
    """The rows of `frame` that match `spec`, testing the cheapest conditions first so that
    text scans only see the rows that are left (same result as `compile_match`)."""
    for column, condition in sorted((spec or {}).items(), key=lambda item: _cost(item[1])):
        if frame.height == 0:
            break
        frame = frame.filter(_condition(column, condition).fill_null(False))
    return frame


def match_columns(spec: Mapping[str, Any] | None) -> set[str]:
    """The columns a match spec reads."""
    return set(spec or {})
