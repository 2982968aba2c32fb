"""Sigma strings (with `*` and `?` wildcards) as Polars string tests.

pySigma parses a value such as ``*\\cmd.exe`` into a `SigmaString`: plain parts and
wildcard parts. The common shapes get the cheap Polars string kernels, everything else a
regular expression:

=====================  ==========================================
shape                  test
=====================  ==========================================
``abc``                equality (``is_in`` for a list of them)
``abc*``               ``starts_with``
``*abc``               ``ends_with``
``*abc*``              literal ``contains`` (``contains_any``, one Aho-Corasick pass,
                       for a list of them)
``*``                  any value that is present (not null)
anything else          anchored regex, ``*`` → ``.*`` and ``?`` → ``.``
=====================  ==========================================

Case-insensitive matching (Sigma's default) runs on a lower-cased copy of the column with
lower-cased needles; `|cased` values run on the column as it is.

>>> from sigma.types import SigmaString
>>> shape(SigmaString("*\\\\cmd.exe"))
('endswith', '\\\\cmd.exe')
>>> shape(SigmaString("a*b?c"))
('regex', '(?s)^a.*b.c$')
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import polars as pl
from sigma.types import Placeholder, SigmaString, SpecialChars

MULTI = SpecialChars.WILDCARD_MULTI
SINGLE = SpecialChars.WILDCARD_SINGLE


class UnsupportedValue(ValueError):
    """A value the compiler cannot turn into a Polars test (the rule is reported)."""


def parts(value: SigmaString) -> list[str | SpecialChars]:
    """The parts of a Sigma string, adjacent plain parts merged, placeholders refused."""
    out: list[str | SpecialChars] = []
    for part in value.s:
        if isinstance(part, Placeholder):
            raise UnsupportedValue(f"unresolved placeholder %{part.name}%")
        if isinstance(part, str) and out and isinstance(out[-1], str):
            out[-1] += part
        elif part != "":
            out.append(part)
    return out


def to_regex(items: Iterable[str | SpecialChars], anchored: bool = True) -> str:
    """A regular expression for wildcard parts (dot matches newlines)."""
    body = "".join(".*" if p is MULTI else "." if p is SINGLE else re.escape(str(p)) for p in items)
    return f"(?s)^{body}$" if anchored else f"(?s){body}"


def shape(value: SigmaString, lower: bool = False) -> tuple[str, str]:
    """The kind of test a Sigma string needs and its needle (lower-cased if `lower`)."""
    items = parts(value)
    if lower:
        items = [p.lower() if isinstance(p, str) else p for p in items]
    text = [p for p in items if isinstance(p, str)]
    specials = [p for p in items if not isinstance(p, str)]
    if not specials:
        return "exact", "".join(text)
    if all(p is MULTI for p in items):
        return "any", ""
    if len(items) == 2 and items[1] is MULTI and isinstance(items[0], str):
        return "startswith", items[0]
    if len(items) == 2 and items[0] is MULTI and isinstance(items[1], str):
        return "endswith", items[1]
    if len(items) == 3 and items[0] is MULTI and items[2] is MULTI and isinstance(items[1], str):
        return "contains", items[1]
    return "regex", to_regex(items)


def match_any(column: pl.Expr, values: list[SigmaString], lower: bool) -> pl.Expr:
    """True where `column` matches any of the Sigma strings (OR), grouping by shape so that a
    long list costs one pass per shape."""
    groups: dict[str, list[str]] = {}
    for value in values:
        kind, needle = shape(value, lower)
        groups.setdefault(kind, []).append(needle)
    tests: list[pl.Expr] = []
    for kind, needles in groups.items():
        needles = list(dict.fromkeys(needles))
        if kind == "any":
            tests.append(column.is_not_null())
        elif kind == "exact":
            tests.append(column.is_in(needles) if len(needles) > 1 else column == needles[0])
        elif kind == "contains":
            if len(needles) == 1:
                tests.append(column.str.contains(needles[0], literal=True))
            else:
                tests.append(column.str.contains_any(needles))
        elif kind == "startswith":
            tests.extend(column.str.starts_with(n) for n in needles)
        elif kind == "endswith":
            tests.extend(column.str.ends_with(n) for n in needles)
        else:
            tests.append(column.str.contains("|".join(f"(?:{n})" for n in needles)))
    return tests[0] if len(tests) == 1 else pl.any_horizontal(tests)


def search(column: pl.Expr, value: SigmaString, lower: bool) -> pl.Expr:
    """Unanchored match of a keyword anywhere in a text column (keyword detections)."""
    items = parts(value)
    if lower:
        items = [p.lower() if isinstance(p, str) else p for p in items]
    while items and items[0] is MULTI:
        items = items[1:]
    while items and items[-1] is MULTI:
        items = items[:-1]
    if not items:
        return column.is_not_null()
    if len(items) == 1 and isinstance(items[0], str):
        return column.str.contains(items[0], literal=True)
    return column.str.contains(to_regex(items, anchored=False))
