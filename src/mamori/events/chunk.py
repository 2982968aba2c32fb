"""What a format reader hands on: parsed records and the records it could not parse."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

#: Columns of the records a format reader rejects (before any kind is known).
REJECTED: dict[str, pl.DataType] = {
    "_line": pl.Int64(),
    "reason": pl.String(),
    "detail": pl.String(),
    "record": pl.String(),
}


#: Columns a reader adds to each record: its position, its bytes as found, its kind.
INTERNAL = frozenset({"_line", "_raw", "_kind"})


def no_rejects() -> pl.DataFrame:
    """An empty frame of rejected records."""
    return pl.DataFrame(schema=REJECTED)


@dataclass
class RawChunk:
    """Records of one file as parsed, before kinds, types and values are checked.

    `records` has the file's own columns (strings for text formats, native types for
    Parquet), `_line` (1-based line, or 0-based row index for Parquet) and, for text
    formats, `_raw` (the record's bytes as found, line end included). `rejected` holds the
    records that could not be parsed at all.
    """

    records: pl.DataFrame
    rejected: pl.DataFrame = field(default_factory=no_rejects)

    @property
    def read(self) -> int:
        """How many records this chunk stands for."""
        return self.records.height + self.rejected.height


def record_text(records: pl.DataFrame) -> pl.Series:
    """Each record as found, for the quarantine: its own text for text formats, else its
    fields as a JSON object."""
    if "_raw" in records.columns:
        return records["_raw"].cast(pl.String, strict=False).str.strip_chars_end("\r\n")
    fields = [c for c in records.columns if c not in INTERNAL]
    if not fields:
        return pl.Series("record", ["{}"] * records.height, dtype=pl.String)
    return records.select(pl.struct(fields).struct.json_encode()).to_series()


def rejects(
    records: pl.DataFrame, reason: pl.Series | str, detail: pl.Series | str
) -> pl.DataFrame:
    """Rejected-record rows for `records` (which carry `_line`), with their reason."""
    return pl.DataFrame(
        {
            "_line": records["_line"],
            "reason": reason,
            "detail": detail,
            "record": record_text(records),
        },
        schema=REJECTED,
    )
