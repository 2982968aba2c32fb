"""The quarantine: where records that cannot be read or validated go, with why.

Each quarantined record becomes one JSON line, appended to the quarantine file::

    {"file": "in/tx.jsonl", "line": 7, "reason": "wrong_type",
     "detail": "amount=\\"abc\\": not a number", "record": "{...the line as found...}",
     "kind": "transaction"}

`line` is 1-based for text files and the 0-based row index for Parquet; `record` is the
record's text as found (for Parquet, its fields as a JSON object); `kind` is the kind it was
read as, null when that is what failed. Nothing is dropped silently: `count` and
`by_reason` say how many records went where. Without a path the records are kept in memory
(see `records()`).

>>> import polars as pl
>>> q = Quarantine()
>>> q.add("x.jsonl", pl.DataFrame({"_line": [3], "reason": ["broken_json"],
...     "detail": ["Expecting value at column 9"], "record": ['{"time": }']}))
Counter({'broken_json': 1})
>>> q.count, dict(q.by_reason), q.records()["line"].to_list()
(1, {'broken_json': 1}, [3])
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import polars as pl

#: The quarantine file's fields, in order.
FIELDS: dict[str, pl.DataType] = {
    "file": pl.String(),
    "line": pl.Int64(),
    "reason": pl.String(),
    "detail": pl.String(),
    "record": pl.String(),
    "kind": pl.String(),
}


class Quarantine:
    """An append-only JSON lines file (or, without a path, a list in memory) of rejects."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.count = 0
        self.by_reason: Counter[str] = Counter()
        self._kept: list[pl.DataFrame] = []
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def add(self, file: str, rejected: pl.DataFrame, kind: str | None = None) -> Counter[str]:
        """Quarantine rejected records of `file` (columns `_line`, `reason`, `detail`,
        `record`, and optionally a per-row `kind`); return their count by reason."""
        if rejected.height == 0:
            return Counter()
        rows = rejected.select(
            pl.lit(file, pl.String()).alias("file"),
            pl.col("_line").cast(pl.Int64).alias("line"),
            "reason",
            "detail",
            "record",
            pl.col("kind").cast(pl.String)
            if "kind" in rejected.columns
            else pl.lit(kind, pl.String()).alias("kind"),
        )
        if self.path is None:
            self._kept.append(rows)
        else:
            with self.path.open("ab") as fh:
                rows.write_ndjson(fh)
        counts = Counter(dict(rows["reason"].value_counts().iter_rows()))
        self.count += rows.height
        self.by_reason.update(counts)
        return counts

    def records(self) -> pl.DataFrame:
        """Everything quarantined so far (read back from the file when there is one)."""
        if self.path is None:
            return pl.concat(self._kept) if self._kept else pl.DataFrame(schema=FIELDS)
        if not self.path.exists() or self.path.stat().st_size == 0:
            return pl.DataFrame(schema=FIELDS)
        return pl.read_ndjson(self.path, schema=FIELDS)
