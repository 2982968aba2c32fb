"""Parquet files (e.g. the simulator's output), read a row group batch at a time.

Columns keep their Parquet types; `mamori.events.validate` checks they fit the kind's
schema. A record's position is its 0-based row index in the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from mamori.events.chunk import RawChunk


def iter_parquet_chunks(path: Path | str, *, batch_rows: int = 100_000) -> Iterator[RawChunk]:
    """Chunks of at most `batch_rows` rows of a Parquet file, with `_line` the row index."""
    offset = 0
    with pq.ParquetFile(path) as file:
        for batch in file.iter_batches(batch_size=batch_rows):
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            yield RawChunk(
                frame.with_row_index("_line", offset).with_columns(pl.col("_line").cast(pl.Int64))
            )
            offset += frame.height
