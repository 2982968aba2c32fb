"""CSV files with a header row (`.csv`, `.csv.gz`), every field read as a string.

Records are found by `mamori.events.textfile` (quoted fields may span lines); NumPy counts
each record's unquoted commas, so a row whose field count differs from the header's is
quarantined, with its line, before Polars parses the rest of the chunk in one call. Types
are checked afterwards by `mamori.events.validate`. Empty fields are null.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "x.csv")
>>> _ = open(path, "w").write('time,amount\\n2024-01-01,"1,5"\\n2024-01-02\\n2024-01-03,\\n')
>>> chunk = next(iter_csv_chunks(path))
>>> chunk.records.select("time", "amount", "_line").rows()
[('2024-01-01', '1,5', 2), ('2024-01-03', None, 4)]
>>> chunk.rejected.select("_line", "reason", "detail").rows()
[(3, 'broken_csv_row', '1 fields where the header has 2')]
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl

from mamori.events.chunk import REJECTED, RawChunk, no_rejects
from mamori.events.reasons import BROKEN_CSV_ROW
from mamori.events.textfile import Records, iter_records

_COMMA, _QUOTE = 44, 34


def iter_csv_chunks(path: Path | str, *, batch_rows: int = 100_000) -> Iterator[RawChunk]:
    """Parsed chunks of at most `batch_rows` records of a CSV file with a header row."""
    header: bytes | None = None
    names: list[str] = []
    for records in iter_records(path, quoted=True):
        first = 0
        if header is None:
            header = records.data[records.start[0] : records.end[0]]
            names = next(csv.reader([header.decode("utf-8", "replace")]))
            first = 1
        fields = _field_counts(records)
        for lo in range(first, len(records), batch_rows):
            hi = min(lo + batch_rows, len(records))
            yield _parse_chunk(records, lo, hi, header, names, fields[lo:hi])


def _field_counts(records: Records) -> np.ndarray:
    """How many fields each record has: its unquoted commas plus one."""
    arr = np.frombuffer(records.data, dtype=np.uint8)
    outside = (np.cumsum(arr == _QUOTE, dtype=np.uint8) & 1) == 0
    commas = np.flatnonzero((arr == _COMMA) & outside)
    return np.searchsorted(commas, records.end) - np.searchsorted(commas, records.start) + 1


def _parse_chunk(
    records: Records, lo: int, hi: int, header: bytes, names: list[str], fields: np.ndarray
) -> RawChunk:
    ok = fields == len(names)
    good = np.flatnonzero(ok) + lo
    rejects = no_rejects()
    if not ok.all():
        bad = np.flatnonzero(~ok) + lo
        rejects = pl.DataFrame(
            {
                "_line": records.line[bad].astype(np.int64),
                "reason": BROKEN_CSV_ROW,
                "detail": [f"{n} fields where the header has {len(names)}" for n in fields[~ok]],
                "record": [records.text(int(i)) for i in bad],
            },
            schema=REJECTED,
        )
    frame = _read(records, good, header, names)
    raw = records.raw(lo, hi)
    frame = frame.with_columns(
        pl.Series("_line", records.line[good], dtype=pl.Int64),
        raw if len(good) == hi - lo else raw.gather(good - lo),
    )
    return RawChunk(frame, rejects)


def _read(records: Records, idx: np.ndarray, header: bytes, names: list[str]) -> pl.DataFrame:
    """Records `idx` as a frame of strings, in one Polars call (a slice of the file when the
    records are consecutive)."""
    if len(idx) == 0:
        return pl.DataFrame(schema=dict.fromkeys(names, pl.String()))
    lo, hi = int(idx[0]), int(idx[-1]) + 1
    if hi - lo == len(idx):
        body = records.span(lo, hi)
    else:
        body = b"\n".join(records.data[records.start[i] : records.end[i]] for i in idx)
    frame = pl.read_csv(io.BytesIO(header + b"\n" + body), infer_schema=False)
    if frame.height != len(idx):  # Polars saw the rows differently: parse them one by one
        rows = [next(csv.reader(io.StringIO(records.text(i)))) for i in idx]
        frame = pl.DataFrame(rows, schema=frame.columns, orient="row")
        frame = frame.with_columns(pl.all().replace("", None))
    return frame
