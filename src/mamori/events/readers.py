"""Read files into batches of one stream kind, quarantining what does not fit.

`read_path` takes a file or a folder (read recursively, files in sorted order of their
path) and yields Polars DataFrames, each of one kind and conformed to `schema(kind)`, with
the envelope filled (`mamori.events.envelope`). What cannot be parsed or validated goes to
the `Quarantine` with its file, line and reason, and the read goes on; the run's
`ReadSummary` counts every record as accepted or quarantined.

Formats, by file name: ``.jsonl``, ``.ndjson`` and ``.json`` (one JSON object per line),
``.csv`` (with a header row), each optionally gzip-compressed (``.gz``), ``.parquet``, and
``.evtx`` (Windows event logs, always of kind ``winlog``: `mamori.events.evtx`).

The kind of a record is the `kind` argument; else the record's own ``kind`` field (a file
may then mix kinds, and each kind gets its own batches); else the name of the folder the
file is in (``events/flow/x.parquet``, or hive style ``kind=flow``); else reading fails
with `UnknownKindError`, unless the records look like Windows events (Winlogbeat, NXLog and
OTRF/Mordor JSON: `mamori.events.winlog`), which are read as ``winlog``. Where the caller
names a kind and a record names another, the record is quarantined (``kind_mismatch``)
rather than read as the wrong kind.

>>> import tempfile, os
>>> folder = os.path.join(tempfile.mkdtemp(), "transaction")
>>> os.mkdir(folder)
>>> _ = open(os.path.join(folder, "tx.jsonl"), "w").write(
...     '{"time": "2024-05-01T10:00:00Z", "amount": 12.5, "currency": "EUR"}\\n'
...     '{"time": "2024-05-01T10:00:01Z", "amount": "abc"}\\n')
>>> run = read_path(folder, tenant="bank-a")
>>> [b.select("tenant", "kind", "amount").rows() for b in run]
[[('bank-a', 'transaction', 12.5)]]
>>> print(run.summary)
read 2, accepted 1, quarantined 1 (wrong_type 1) from 1 file
>>> run.quarantine.records().select("line", "reason", "detail").rows()
[(2, 'wrong_type', 'amount="abc": not a number')]
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa

from mamori.events import reasons
from mamori.events.chunk import RawChunk, rejects
from mamori.events.csvfile import iter_csv_chunks
from mamori.events.envelope import Envelope
from mamori.events.evtx import NotEvtxError, iter_evtx_chunks
from mamori.events.jsonlines import iter_json_chunks, parse_objects
from mamori.events.parquetfile import iter_parquet_chunks
from mamori.events.quarantine import Quarantine
from mamori.events.schema import ENVELOPE, KINDS, OPEN_KINDS, schema
from mamori.events.summary import FileSummary, ReadSummary
from mamori.events.validate import validate
from mamori.events.winlog import looks_like_windows, normalise

__all__ = [
    "FORMATS",
    "ReadRun",
    "ReadSummary",
    "FileSummary",
    "UnknownKindError",
    "UnsupportedFormatError",
    "format_of",
    "read_path",
]

#: File name endings and the format each is read as.
FORMATS: dict[str, str] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".evtx": "evtx",
}
_GZIPPED = {
    f"{suffix}.gz": fmt for suffix, fmt in FORMATS.items() if fmt not in ("parquet", "evtx")
}

#: The column of EVTX batches naming the file each record came from (with `EventRecordID`,
#: where to find it again). It is added after the event ids, which do not depend on it.
SOURCE_FILE = "SourceFile"

#: Errors that break off one file (corrupt or truncated data) without stopping the read.
_FILE_ERRORS = (
    OSError,
    EOFError,
    zlib.error,
    gzip.BadGzipFile,
    pa.ArrowException,
    NotEvtxError,
)


class UnsupportedFormatError(ValueError):
    """A file whose name does not say a format Mamori reads."""


class UnknownKindError(ValueError):
    """Records whose stream kind nothing says: no argument, field or folder name."""


def format_of(path: Path | str) -> str:
    """The format of a file from its name: ``jsonl``, ``csv``, ``parquet`` or ``evtx``.

    >>> format_of("a/b.ndjson.gz"), format_of("flows.PARQUET")
    ('jsonl', 'parquet')
    """
    name = Path(path).name.lower()
    for suffix, fmt in (_GZIPPED | FORMATS).items():
        if name.endswith(suffix):
            return fmt
    known = ", ".join(sorted(FORMATS) + sorted(_GZIPPED))
    raise UnsupportedFormatError(f"{path}: unknown file format; Mamori reads {known}")


def read_path(
    path: Path | str,
    kind: str | None = None,
    tenant: str = "default",
    quarantine: Quarantine | None = None,
    batch_rows: int = 100_000,
    *,
    summary: ReadSummary | None = None,
    now: datetime | None = None,
) -> ReadRun:
    """Batches of events from a file or a folder of files (see the module docstring).

    Iterate the returned `ReadRun` for the batches; its `summary` holds the counts (pass a
    `summary` to add to an existing one) and its `quarantine` the rejects (an in-memory one
    when none is given). `now` is the reference for refusing future times (default: the
    time the read starts). Raises `FileNotFoundError`, `UnsupportedFormatError` for a file
    named directly whose format is unknown (in a folder such files are listed in
    `summary.skipped`), `UnknownKindError`, and `ValueError` for an unknown `kind`.
    """
    if kind is not None:
        schema(kind)  # fail now on an unknown kind
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be positive, not {batch_rows}")
    return ReadRun(
        Path(path),
        kind=kind,
        tenant=tenant,
        quarantine=quarantine if quarantine is not None else Quarantine(),
        batch_rows=batch_rows,
        summary=summary if summary is not None else ReadSummary(),
        now=now or datetime.now(UTC),
    )


class ReadRun:
    """One read of a path: iterate it (once) for the batches; then see `summary`."""

    def __init__(
        self,
        root: Path,
        *,
        kind: str | None,
        tenant: str,
        quarantine: Quarantine,
        batch_rows: int,
        summary: ReadSummary,
        now: datetime,
    ) -> None:
        if not root.exists():
            raise FileNotFoundError(f"{root}: no such file or folder")
        self.root = root
        self.kind = kind
        self.tenant = tenant
        self.quarantine = quarantine
        self.batch_rows = batch_rows
        self.summary = summary
        self.now = now
        self._started = False
        if root.is_file():
            format_of(root)  # a file named directly must be readable

    def files(self) -> list[Path]:
        """The files this run reads, in the order it reads them."""
        if self.root.is_file():
            return [self.root]
        found = sorted(
            (p for p in self.root.rglob("*") if p.is_file()),
            key=lambda p: p.relative_to(self.root).as_posix(),
        )
        return [
            p
            for p in found
            if not any(part.startswith(".") for part in p.relative_to(self.root).parts)
        ]

    def __iter__(self) -> Iterator[pl.DataFrame]:
        if self._started:
            raise RuntimeError("a ReadRun can be iterated only once; call read_path again")
        self._started = True
        return self._batches()

    def _batches(self) -> Iterator[pl.DataFrame]:
        for path in self.files():
            try:
                fmt = format_of(path)
            except UnsupportedFormatError:
                self.summary.skipped.append(str(path))
                continue
            try:
                yield from self._read_file(path, fmt)
            except _FILE_ERRORS as err:
                self.summary.failed[str(path)] = f"{type(err).__name__}: {err}"

    def _read_file(self, path: Path, fmt: str) -> Iterator[pl.DataFrame]:
        name = str(path)
        stats = self.summary.file(name)
        envelope = Envelope(self.tenant, f"{'evtx' if fmt == 'evtx' else 'file'}:{path.name}")
        folder_kind = self._folder_kind(path)
        all_fields = fmt != "jsonl" or (self.kind is not None and self.kind in OPEN_KINDS)
        seen_kind = False
        for chunk in self._chunks(path, fmt):
            stats.add(read=chunk.read)
            self._reject(name, stats, chunk.rejected, self.kind)
            records = chunk.records
            if records.height == 0:
                continue
            kinds = self._kinds(records, folder_kind, name, stats, first=not seen_kind)
            seen_kind = True
            for kind, of_kind in kinds:
                if kind in OPEN_KINDS and not all_fields:  # keep winlog's own fields too
                    of_kind = parse_objects(of_kind["_raw"]).with_columns(
                        of_kind["_line"], of_kind["_raw"]
                    )
                if kind == "winlog" and fmt != "evtx":  # shippers' shapes to native names
                    of_kind = normalise(of_kind)
                accepted, rejected = validate(of_kind, kind, now=self.now)
                self._reject(name, stats, rejected, kind)
                if accepted.height:
                    stats.add(accepted=accepted.height)
                    batch = envelope.fill(accepted, kind)
                    if fmt == "evtx":
                        batch = batch.with_columns(pl.lit(name, pl.String()).alias(SOURCE_FILE))
                    yield batch

    def _chunks(self, path: Path, fmt: str) -> Iterator[RawChunk]:
        if fmt == "csv":
            return iter_csv_chunks(path, batch_rows=self.batch_rows)
        if fmt == "parquet":
            return iter_parquet_chunks(path, batch_rows=self.batch_rows)
        if fmt == "evtx":
            return iter_evtx_chunks(path, batch_rows=self.batch_rows)
        return iter_json_chunks(path, schema=self._json_fields(), batch_rows=self.batch_rows)

    def _json_fields(self) -> dict[str, pl.DataType] | None:
        """The JSON fields to read: the kind's own (all fields for open kinds), or those of
        every kind when the records say their kind."""
        if self.kind is not None and self.kind in OPEN_KINDS:
            return None
        kinds = [self.kind] if self.kind is not None else sorted(KINDS)
        names = dict.fromkeys(ENVELOPE) | {c: None for k in kinds for c in KINDS[k]}
        return dict.fromkeys(names, pl.String())

    def _folder_kind(self, path: Path) -> str | None:
        """The kind named by the folder a file is in, or by a folder above it up to the root
        of the read (``flow`` or ``kind=flow``)."""
        top = self.root if self.root.is_dir() else path.parent
        for folder in path.parents:
            name = folder.name.removeprefix("kind=")
            if name in KINDS:
                return name
            if folder == top:
                break
        return None

    def _kinds(
        self,
        records: pl.DataFrame,
        folder_kind: str | None,
        name: str,
        stats: FileSummary,
        *,
        first: bool,
    ) -> list[tuple[str, pl.DataFrame]]:
        """Split records by kind, quarantining those whose kind is missing, unknown or not
        the one asked for."""
        own = (
            records["kind"].cast(pl.String).str.strip_chars() if "kind" in records.columns else None
        )
        if self.kind is not None:
            if own is None:
                return [(self.kind, records)]
            wrong = (own.is_not_null() & (own != self.kind)).fill_null(False)
            if wrong.any():
                says = 'kind="' + own.filter(wrong) + f'": the read is for {self.kind}'
                bad = rejects(records.filter(wrong), reasons.KIND_MISMATCH, says)
                self._reject(name, stats, bad, None)
                records = records.filter(~wrong)
            return [(self.kind, records)]
        resolved = own
        if own is not None and folder_kind is not None:
            resolved = own.fill_null(folder_kind)
        if folder_kind is None and "_raw" in records.columns:  # Windows events by their look
            windows = pl.select(
                pl.when(pl.lit(looks_like_windows(records["_raw"]))).then(pl.lit("winlog"))
            ).to_series()
            resolved = windows if resolved is None else resolved.fill_null(windows)
        if resolved is None or resolved.null_count() == len(resolved):
            if folder_kind is not None:
                return [(folder_kind, records)]
            if first:
                raise UnknownKindError(
                    f"{name}: cannot tell the stream kind of its records; pass kind=..., give "
                    f"each record a 'kind' field, or put the file in a folder named after its "
                    f"kind ({', '.join(sorted(KINDS))})"
                )
        assert resolved is not None
        missing = resolved.is_null()
        unknown = ~missing & ~resolved.is_in(list(KINDS))
        for mask, reason in ((missing, reasons.MISSING_KIND), (unknown, reasons.UNKNOWN_KIND)):
            if mask.any():
                if reason == reasons.MISSING_KIND:
                    detail: pl.Series | str = "no kind field, argument or folder name"
                else:
                    detail = 'kind="' + resolved.filter(mask) + '": not a known kind'
                self._reject(name, stats, rejects(records.filter(mask), reason, detail), None)
        keep = ~(missing | unknown)
        if keep.all() and resolved.n_unique() == 1:
            return [(str(resolved[0]), records)]
        split = records.filter(keep).with_columns(resolved.filter(keep).alias("_kind"))
        parts = split.partition_by("_kind", as_dict=True, include_key=False)
        return sorted((str(key[0]), frame) for key, frame in parts.items())

    def _reject(
        self, name: str, stats: FileSummary, rejected: pl.DataFrame, kind: str | None
    ) -> None:
        if rejected.height:
            stats.add(quarantined=self.quarantine.add(name, rejected, kind))
