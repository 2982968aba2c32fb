"""Text inputs cut into records, a block at a time, without a loop over lines.

A text file (plain or gzip) is read in blocks of whole records. NumPy finds the record
boundaries of a block in one pass: every newline for JSON lines, and for CSV only the
newlines outside double quotes (RFC 4180: a quoted field may span lines, and a doubled
quote toggles the quote state twice, so the parity of the quotes seen so far says whether a
newline ends a record). Each record keeps its 1-based line number, so what is quarantined
can be found again in the file. Empty lines are not records and are skipped.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "x.csv")
>>> _ = open(path, "wb").write(b'a,b\\n1,"two\\nlines"\\n\\n3,4')
>>> [(r.line.tolist(), r.text(1)) for r in iter_records(path, quoted=True)]
[([1, 2, 5], '1,"two\\nlines"')]
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import polars as pl
import pyarrow as pa

BLOCK_BYTES = 32 << 20
_NL, _CR, _QUOTE = 10, 13, 34


def open_binary(path: Path | str) -> BinaryIO:
    """Open a file for reading bytes, decompressing it when its name ends in `.gz`."""
    if str(path).lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


@dataclass(frozen=True)
class Records:
    """The non-empty records of one block: `data[start[i]:end[i]]` is record i's content."""

    data: bytes
    start: np.ndarray  # offset of each record's first byte
    end: np.ndarray  # offset just past its content (line end and a trailing CR excluded)
    stop: np.ndarray  # offset just past its line end (where the next record may begin)
    line: np.ndarray  # 1-based line number of its first line in the file

    def __len__(self) -> int:
        return len(self.start)

    def text(self, i: int) -> str:
        """Record i as text (invalid UTF-8 shown as escapes), for quarantine and errors."""
        return self.data[self.start[i] : self.end[i]].decode("utf-8", "backslashreplace")

    def span(self, lo: int, hi: int) -> bytes:
        """The bytes of records lo..hi-1 as they lie in the file, line ends included."""
        return self.data[self.start[lo] : self.stop[hi - 1]]

    def raw(self, lo: int = 0, hi: int | None = None) -> pl.Series:
        """Records lo..hi-1 as a Binary column (each with its line end), built without a copy
        loop; decode with `.cast(pl.String)` and strip the line end where needed."""
        hi = len(self) if hi is None else hi
        if hi <= lo:
            return pl.Series("_raw", [], dtype=pl.Binary)
        # Contiguous offsets: record i spans start[i]..start[i+1]; the last runs to its stop.
        offsets = np.empty(hi - lo + 1, dtype=np.int64)
        offsets[:-1] = self.start[lo:hi]
        offsets[-1] = self.stop[hi - 1]
        array = pa.Array.from_buffers(
            pa.large_binary(), hi - lo, [None, pa.py_buffer(offsets), pa.py_buffer(self.data)]
        )
        return pl.Series("_raw", array)


def iter_records(
    path: Path | str, *, quoted: bool, block_bytes: int = BLOCK_BYTES
) -> Iterator[Records]:
    """The records of a text file, a block at a time (see the module docstring)."""
    lines_before = 0
    tail = b""
    with open_binary(path) as fh:
        while True:
            chunk = fh.read(block_bytes)
            final = len(chunk) < block_bytes  # a short read: the end of the file
            data = tail + chunk if tail else chunk
            if not data:
                return
            bounds = _boundaries(np.frombuffer(data, dtype=np.uint8), quoted)
            if not final and len(bounds) == 0:
                tail = data  # no whole record yet: read on
                continue
            cut = len(data) if final else int(bounds[-1]) + 1
            if cut < len(data):
                bounds = bounds[bounds < cut]
            tail = data[cut:]
            records, n_lines = _split(data, cut, bounds, lines_before, quoted)
            lines_before += n_lines
            if len(records):
                yield records
            if final:
                return


def _boundaries(arr: np.ndarray, quoted: bool) -> np.ndarray:
    """Positions of the newlines that end a record."""
    newlines = np.flatnonzero(arr == _NL)
    if not quoted or len(newlines) == 0:
        return newlines
    # Quote parity before each byte; uint8 wraps but keeps parity and a small footprint.
    parity = np.cumsum(arr == _QUOTE, dtype=np.uint8) & 1
    return newlines[parity[newlines] == 0]


def _split(
    data: bytes, size: int, bounds: np.ndarray, lines_before: int, quoted: bool
) -> tuple[Records, int]:
    """Cut `data[:size]`, whole records, at its boundaries; drop empty records."""
    arr = np.frombuffer(data, dtype=np.uint8, count=size)
    stop = bounds.astype(np.int64) + 1
    if size and (len(stop) == 0 or stop[-1] != size):
        stop = np.append(stop, size)  # the last record has no line end
    start = np.concatenate(([0], stop[:-1])).astype(np.int64)
    end = stop.copy()
    has_nl = (end > start) & (arr[np.maximum(end - 1, 0)] == _NL)
    end -= has_nl
    has_cr = (end > start) & (arr[np.maximum(end - 1, 0)] == _CR)
    end -= has_cr
    if quoted:
        newlines = np.flatnonzero(arr == _NL)
        line = np.searchsorted(newlines, start) + lines_before + 1
    else:  # every newline ends a record
        newlines = bounds
        line = np.arange(len(start)) + lines_before + 1
    keep = end > start
    records = Records(data, start[keep], end[keep], stop[keep], line[keep])
    return records, len(newlines)
