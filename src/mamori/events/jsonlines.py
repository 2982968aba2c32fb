"""JSON lines (`.jsonl`, `.ndjson`, `.json`, gzip too): one JSON object per line.

A chunk of lines is handed to Polars' NDJSON parser in one call. Fields are read as
strings whatever their JSON type (numbers keep their digits, nested values become JSON
text), so one odd value never fails a whole chunk: the types are checked afterwards, per
column and vectorised, by `mamori.events.validate`.

Only a chunk that fails to parse costs more. Lines that cannot be objects (they do not start
with `{` and end with `}`) are set aside first; if the parser still fails, the chunk is
bisected until each failing line stands alone, so k bad lines among n cost about
k·log(n) extra parses, and every other line is still parsed in bulk.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "x.jsonl")
>>> _ = open(path, "w").write('{"a": 1, "b": {"c": 2}}\\n[1]\\n{"a": oops}\\n{"a": "x"}\\n')
>>> chunk = next(iter_json_chunks(path, schema={"a": pl.String(), "b": pl.String()}))
>>> chunk.records.select("a", "b", "_line").rows()
[('1', '{"c": 2}', 1), ('x', None, 4)]
>>> chunk.rejected.select("_line", "reason").rows()
[(2, 'not_an_object'), (3, 'broken_json')]
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import polars as pl

from mamori.events.chunk import REJECTED, RawChunk, no_rejects
from mamori.events.reasons import BROKEN_JSON, NOT_AN_OBJECT
from mamori.events.textfile import Records, iter_records

Schema = Mapping[str, pl.DataType]

_JSON_TYPES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
_JSON_TYPES[type(None)] = "null"


def iter_json_chunks(
    path: Path | str, *, schema: Schema | None, batch_rows: int = 100_000
) -> Iterator[RawChunk]:
    """Parsed chunks of at most `batch_rows` records of a JSON lines file.

    With a `schema` (names only matter: every field is read as a string) other fields are
    ignored; with `schema=None` every field found is kept.
    """
    for records in iter_records(path, quoted=False):
        for lo in range(0, len(records), batch_rows):
            yield _parse_chunk(records, lo, min(lo + batch_rows, len(records)), schema)


def parse_objects(raw: pl.Series, schema: Schema | None = None) -> pl.DataFrame:
    """Parse lines already known to hold JSON objects (e.g. `_raw` of parsed records) again,
    every field as a string; with `schema=None`, with every field any of them has."""
    text = raw.cast(pl.String).str.strip_chars_end("\r\n").str.join("\n").item()
    return _read(text.encode(), _field_names(text.encode()) if schema is None else schema)


def _parse_chunk(records: Records, lo: int, hi: int, schema: Schema | None) -> RawChunk:
    arr = np.frombuffer(records.data, dtype=np.uint8)
    start, end = records.start[lo:hi], records.end[lo:hi]
    objectlike = (arr[start] == ord("{")) & (arr[end - 1] == ord("}"))
    if objectlike.all():
        candidates = np.arange(lo, hi)
        rejected: list[tuple[int, str, str, str]] = []
    else:
        candidates, rejected = _set_aside(records, lo, objectlike)
    if schema is None and len(candidates):  # keep every field any line has
        schema = _field_names(_join(records, candidates))
    parts, failed = _parse(records, candidates, schema)
    rejected.extend(_why(records, i) for i in failed)
    good = np.setdiff1d(candidates, failed) if failed else candidates
    frame = pl.concat(parts, how="vertical") if parts else pl.DataFrame(schema=dict(schema or {}))
    raw = records.raw(lo, hi)
    frame = frame.with_columns(
        pl.Series("_line", records.line[good], dtype=pl.Int64),
        raw if len(good) == hi - lo else raw.gather(good - lo),
    )
    rejects = (
        pl.DataFrame(sorted(rejected), schema=REJECTED, orient="row") if rejected else no_rejects()
    )
    return RawChunk(frame, rejects)


def _set_aside(
    records: Records, lo: int, objectlike: np.ndarray
) -> tuple[np.ndarray, list[tuple[int, str, str, str]]]:
    """Sort the lines that do not look like objects: blank ones are skipped, padded objects
    are kept for parsing, the rest are rejected with their reason."""
    keep = list(np.flatnonzero(objectlike) + lo)
    rejected = []
    for i in np.flatnonzero(~objectlike) + lo:
        text = records.data[records.start[i] : records.end[i]].strip()
        if not text:
            continue  # a line of spaces is no record
        if text.startswith(b"{") and text.endswith(b"}"):
            keep.append(i)
        else:
            rejected.append(_why(records, int(i)))
    return np.sort(np.asarray(keep, dtype=np.int64)), rejected


def _parse(
    records: Records, idx: np.ndarray, schema: Schema | None
) -> tuple[list[pl.DataFrame], list[int]]:
    """Parse lines `idx` in one go; on failure bisect to find the lines that fail."""
    if len(idx) == 0:
        return [], []
    try:
        frame = _read(_join(records, idx), schema)
        if frame.height != len(idx):
            raise ValueError("row count differs from line count")
        return [frame], []
    except Exception:  # noqa: BLE001 - any parser failure just means: look closer
        if len(idx) == 1:
            return [], [int(idx[0])]
    mid = len(idx) // 2
    left, bad_left = _parse(records, idx[:mid], schema)
    right, bad_right = _parse(records, idx[mid:], schema)
    return left + right, bad_left + bad_right


def _join(records: Records, idx: np.ndarray) -> bytes:
    """The bytes of lines `idx`: a plain slice of the file when they are consecutive."""
    lo, hi = int(idx[0]), int(idx[-1]) + 1
    if hi - lo == len(idx):
        return records.span(lo, hi)
    data = records.data
    return b"\n".join(data[records.start[i] : records.end[i]] for i in idx)


def _read(data: bytes, schema: Schema | None) -> pl.DataFrame:
    if schema is None:
        return pl.read_ndjson(data, infer_schema_length=None)
    return pl.read_ndjson(data, schema=dict(schema))


def _field_names(data: bytes) -> dict[str, pl.DataType]:
    """Every top-level field any of the lines has, each to be read as a string.

    Polars finds them in one pass, unless a field holds values of types it cannot unite
    (a number on one line, `true` or an object on another); then the keys are collected
    line by line, and lines that are not JSON objects are left to the parse that follows.
    """
    try:
        return dict.fromkeys(_read(data, None).columns, pl.String())
    except Exception:  # noqa: BLE001 - any inference failure: collect the keys one by one
        names: dict[str, None] = {}
        for line in data.splitlines():
            try:
                value = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(value, dict):
                names.update(dict.fromkeys(value))
        return dict.fromkeys(names, pl.String())


def _why(records: Records, i: int) -> tuple[int, str, str, str]:
    """(line, reason, detail, record) for a line the parser rejected (the slow path only)."""
    raw = records.data[records.start[i] : records.end[i]]
    text = raw.decode("utf-8", "backslashreplace")
    line = int(records.line[i])
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return line, BROKEN_JSON, "not valid UTF-8", text
    except json.JSONDecodeError as err:
        return line, BROKEN_JSON, f"{err.msg} at column {err.colno}", text
    if not isinstance(value, dict):
        what = _JSON_TYPES.get(type(value), "value")
        return line, NOT_AN_OBJECT, f"a JSON {what}, not an object", text
    return line, BROKEN_JSON, "not standard JSON (e.g. NaN or Infinity)", text
