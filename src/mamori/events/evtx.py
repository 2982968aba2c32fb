"""EVTX files (Windows event logs), read with the Rust `evtx` parser into `winlog` records.

The parser (``evtx.PyEvtxParser``, Rust) renders each record as JSON; `flatten_event` turns
its ``Event`` object into one flat record under the native names Sigma rules use:

* ``System``: ``Channel``, ``EventID`` (and ``Qualifiers`` where given), ``Provider_Name``,
  ``Provider_Guid``, ``Computer``, ``EventRecordID``, ``Version``, ``Level``, ``Task``,
  ``Opcode``, ``Keywords``, ``ActivityID``, ``RelatedActivityID``, ``ExecutionProcessID``,
  ``ExecutionThreadID``, ``UserID`` (the Security SID), and ``time`` (``SystemTime``);
* ``EventData``: each named ``Data`` element under its name (``Image``, ``CommandLine``,
  ``TargetUserName``, ...); unnamed ones, as in classic PowerShell events, joined by line
  ends under ``Data``;
* ``UserData`` (and ``ProcessingErrorData``): every leaf under its own name, the first one
  winning where two share a name.

Every value is text (numbers as their digits, booleans as ``true``/``false``, as the XML
has them); `mamori.events.validate` then casts the declared columns (``EventID``,
``EventRecordID``, ``LogonType``, ``DestinationPort``) to their types. A payload field whose
name is a System or envelope name (``Version``, ``time``, ``kind``, ...) keeps its value
under ``EventData_<name>`` instead of overwriting it.

Records are handed on in chunks of at most `batch_rows`, with ``_line`` the record's
``EventRecordID`` (so a quarantine entry points at the record in the log).

**Damage.** An EVTX file is a header and 64 KiB chunks, each starting ``ElfChnk``. The Rust
parser silently skips a chunk whose header is gone (a zeroed chunk) and stops at a
truncated one, so the file's chunk table is checked here first (`scan_chunks`, a few bytes
per chunk). The records a damaged chunk held are counted from the record ids of the chunks
around it (or the file header's next record id) and quarantined one by one with reason
``corrupt_chunk``, their chunk and byte offset; a record the parser fails on mid-chunk
(which loses the rest of that chunk) is quarantined with reason ``corrupt_record`` and the
parser's message, with every record of the chunk that did not come back. A file that is not
EVTX at all raises `NotEvtxError` (the reader lists it in ``summary.failed``).
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from evtx import PyEvtxParser

from mamori.events.chunk import INTERNAL, REJECTED, RawChunk, no_rejects
from mamori.events.reasons import CORRUPT_CHUNK, CORRUPT_RECORD
from mamori.events.schema import ENVELOPE

__all__ = [
    "ChunkInfo",
    "NotEvtxError",
    "flatten_event",
    "iter_evtx_chunks",
    "scan_chunks",
]

FILE_MAGIC = b"ElfFile\x00"
CHUNK_MAGIC = b"ElfChnk\x00"
HEADER_SIZE = 4096
CHUNK_SIZE = 65536

#: The prefix a payload field gets when its name is taken by a System or envelope field.
PAYLOAD_PREFIX = "EventData_"

#: Names a payload field may not take: the envelope, the reader's own, and System fields.
SYSTEM_FIELDS = (
    "Channel",
    "EventID",
    "Qualifiers",
    "Provider_Name",
    "Provider_Guid",
    "Computer",
    "EventRecordID",
    "Version",
    "Level",
    "Task",
    "Opcode",
    "Keywords",
    "ActivityID",
    "RelatedActivityID",
    "ExecutionProcessID",
    "ExecutionThreadID",
    "UserID",
)
RESERVED = frozenset(ENVELOPE) | INTERNAL | frozenset(SYSTEM_FIELDS)

#: Record loops the parser may fail in a row before the rest of the file is given up.
MAX_ERRORS_IN_A_ROW = 1000

_RECORD_NUMBER = re.compile(r"record number (\d+)")


class NotEvtxError(ValueError):
    """A file read as EVTX that is not one (no ``ElfFile`` header)."""


# --- the chunk table ---------------------------------------------------------------------


@dataclass(frozen=True)
class ChunkInfo:
    """One 64 KiB chunk slot of an EVTX file.

    `first_id` and `last_id` are the record ids the chunk header names (None when the chunk
    is damaged); `problem` says what is wrong with it, None for a sound chunk.
    """

    index: int
    offset: int
    first_id: int | None = None
    last_id: int | None = None
    problem: str | None = None


@dataclass(frozen=True)
class ChunkTable:
    """The chunks of a file and the record id its header says comes next."""

    chunks: list[ChunkInfo]
    next_record_id: int

    def damaged(self) -> list[list[ChunkInfo]]:
        """The damaged chunks, in runs with no sound chunk between them."""
        runs: list[list[ChunkInfo]] = []
        previous_damaged = False
        for c in self.chunks:
            if c.problem is None:
                previous_damaged = False
                continue
            if previous_damaged:
                runs[-1].append(c)
            else:
                runs.append([c])
            previous_damaged = True
        return runs

    def holding(self, record_id: int) -> ChunkInfo | None:
        """The sound chunk whose header claims `record_id`."""
        for c in self.chunks:
            known = c.first_id is not None and c.last_id is not None
            if known and c.first_id <= record_id <= c.last_id:  # type: ignore[operator]
                return c
        return None


def scan_chunks(path: Path | str) -> ChunkTable:
    """Check the file header and every chunk header of an EVTX file.

    A chunk slot the file header counts that does not start with ``ElfChnk`` is damaged
    (``zeroed`` when it is all zero bytes), and so is one the file is too short to hold.
    Slots past the header's count are preallocated space: read when they hold a chunk,
    ignored when they do not. Raises `NotEvtxError` for a file without an EVTX header.
    """
    with open(path, "rb") as fh:
        header = fh.read(HEADER_SIZE)
        if len(header) < 128 or header[:8] != FILE_MAGIC:
            raise NotEvtxError(f"not an EVTX file (starts with {header[:8]!r}, not {FILE_MAGIC!r})")
        (next_record_id,) = struct.unpack_from("<Q", header, 24)
        (counted,) = struct.unpack_from("<H", header, 42)
        size = fh.seek(0, 2)
        present = max(0, (size - HEADER_SIZE + CHUNK_SIZE - 1) // CHUNK_SIZE)
        chunks = []
        for index in range(max(counted, present)):
            offset = HEADER_SIZE + index * CHUNK_SIZE
            if offset + CHUNK_SIZE > size:
                if index < counted:
                    problem = f"truncated: the file ends at byte {size}, inside or before it"
                    chunks.append(ChunkInfo(index, offset, problem=problem))
                continue
            fh.seek(offset)
            head = fh.read(40)
            if head[:8] == CHUNK_MAGIC:
                first_id, last_id = struct.unpack_from("<QQ", head, 24)
                chunks.append(ChunkInfo(index, offset, first_id, last_id))
            elif index < counted:
                fh.seek(offset)
                zeroed = not any(fh.read(CHUNK_SIZE))
                what = "zeroed" if zeroed else f"no chunk header (starts with {head[:8]!r})"
                chunks.append(ChunkInfo(index, offset, problem=what))
    return ChunkTable(chunks, next_record_id)


def _lost_ids(table: ChunkTable, run: list[ChunkInfo]) -> range | None:
    """The record ids a run of damaged chunks held, from the sound chunks around it; None
    when the ids cannot be told (a damaged first chunk)."""
    chunks = table.chunks
    at = chunks.index(run[0])
    before = [c for c in chunks[:at] if c.last_id is not None]
    after = [c for c in chunks[at + len(run) :] if c.first_id is not None]
    if not before:
        return None
    lo = before[-1].last_id + 1  # type: ignore[operator]
    hi = after[0].first_id if after else table.next_record_id  # exclusive
    assert hi is not None
    return range(lo, hi) if hi > lo else range(0)


# --- flattening --------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """A JSON value as the text the event's XML holds."""
    if value is None or value.__class__ is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "\n".join(t for t in map(_text, value) if t is not None)
    if isinstance(value, dict):
        if "#text" in value:
            return _text(value["#text"])
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _attr(node: Any, name: str) -> Any:
    """An XML attribute of a rendered element, or None."""
    if isinstance(node, dict):
        attrs = node.get("#attributes")
        if isinstance(attrs, dict):
            return attrs.get(name)
    return None


def _system(system: Mapping[str, Any], out: dict[str, str | None]) -> None:
    """The System fields, under their flat names."""
    event_id = system.get("EventID")
    if isinstance(event_id, dict):
        out["Qualifiers"] = _text(_attr(event_id, "Qualifiers"))
        event_id = event_id.get("#text")
    out["EventID"] = _text(event_id)
    out["Channel"] = _text(system.get("Channel"))
    provider = system.get("Provider")
    out["Provider_Name"] = _text(_attr(provider, "Name"))
    out["Provider_Guid"] = _text(_attr(provider, "Guid"))
    out["Computer"] = _text(system.get("Computer"))
    out["EventRecordID"] = _text(system.get("EventRecordID"))
    for name in ("Version", "Level", "Task", "Opcode", "Keywords"):
        if name in system:
            out[name] = _text(system[name])
    out["time"] = _text(_attr(system.get("TimeCreated"), "SystemTime"))
    correlation = system.get("Correlation")
    if correlation:
        out["ActivityID"] = _text(_attr(correlation, "ActivityID"))
        out["RelatedActivityID"] = _text(_attr(correlation, "RelatedActivityID"))
    execution = system.get("Execution")
    if execution:
        out["ExecutionProcessID"] = _text(_attr(execution, "ProcessID"))
        out["ExecutionThreadID"] = _text(_attr(execution, "ThreadID"))
    security = system.get("Security")
    if security:
        out["UserID"] = _text(_attr(security, "UserID"))


def _put(out: dict[str, str | None], name: str, value: Any) -> None:
    """A payload field, renamed where its name is reserved; the first value of a name wins."""
    if name in RESERVED:
        name = PAYLOAD_PREFIX + name
    if name not in out:
        out[name] = value if value.__class__ is str else _text(value)


def _leaves(node: Mapping[str, Any], out: dict[str, str | None]) -> None:
    """Every leaf of a nested payload (UserData) under its own name."""
    for name, value in node.items():
        if name == "#attributes":
            continue
        if isinstance(value, dict) and "#text" not in value:
            _leaves(value, out)
        else:
            _put(out, name, value)


def flatten_event(event: Mapping[str, Any]) -> dict[str, str | None]:
    """One flat record of text values from an evtx-rendered ``Event`` object.

    >>> flatten_event({"System": {"EventID": {"#attributes": {"Qualifiers": 16384},
    ...     "#text": 7045}, "Channel": "System", "Computer": "dc1",
    ...     "Provider": {"#attributes": {"Name": "Service Control Manager"}},
    ...     "TimeCreated": {"#attributes": {"SystemTime": "2019-03-19T20:58:31.719867Z"}}},
    ...     "EventData": {"ServiceName": "x", "ImagePath": "C:\\\\x.exe", "Version": 2}})
    ... # doctest: +NORMALIZE_WHITESPACE
    {'Qualifiers': '16384', 'EventID': '7045', 'Channel': 'System',
     'Provider_Name': 'Service Control Manager', 'Provider_Guid': None, 'Computer': 'dc1',
     'EventRecordID': None, 'time': '2019-03-19T20:58:31.719867Z', 'ServiceName': 'x',
     'ImagePath': 'C:\\\\x.exe', 'EventData_Version': '2'}
    """
    out: dict[str, str | None] = {}
    system = event.get("System")
    if isinstance(system, dict):
        _system(system, out)
    data = event.get("EventData")
    if isinstance(data, dict):
        for name, value in data.items():
            if name != "#attributes":
                _put(out, name, value)
    elif data is not None:
        _put(out, "Data", data)
    for section in ("UserData", "ProcessingErrorData"):
        payload = event.get(section)
        if isinstance(payload, dict):
            _leaves(payload, out)
    return out


# --- reading -----------------------------------------------------------------------------


def iter_evtx_chunks(
    path: Path | str, *, batch_rows: int = 100_000, threads: int = 1
) -> Iterator[RawChunk]:
    """Chunks of at most `batch_rows` flattened records of an EVTX file, every field a
    string, ``_line`` the EventRecordID; the last chunk carries the records lost to damage
    (see the module docstring). `threads` is the Rust parser's worker count (0: one per
    core; one is fastest for the small files of a typical collection)."""
    table = scan_chunks(path)
    parser = PyEvtxParser(str(path), number_of_threads=threads)
    records = parser.records_json()
    rows: list[dict[str, str | None]] = []
    lines: list[int] = []
    names: dict[str, None] = {}
    seen: set[int] = set()
    errors: list[str] = []
    in_a_row = 0
    while True:
        try:
            record = next(records)
        except StopIteration:
            break
        except RuntimeError as err:  # a record the parser cannot read: note it, go on
            errors.append(str(err))
            in_a_row += 1
            if in_a_row >= MAX_ERRORS_IN_A_ROW:
                break
            continue
        in_a_row = 0
        if record is None:
            continue
        record_id = record["event_record_id"]
        fields = flatten_event(json.loads(record["data"]).get("Event") or {})
        if fields.get("time") is None:
            fields["time"] = record.get("timestamp")
        names.update(dict.fromkeys(fields))
        rows.append(fields)
        lines.append(record_id)
        seen.add(record_id)
        if len(rows) >= batch_rows:
            yield RawChunk(_frame(rows, lines, names))
            rows, lines, names = [], [], {}
    lost = _lost(table, seen, errors, gave_up=in_a_row >= MAX_ERRORS_IN_A_ROW)
    if rows or lost.height:
        yield RawChunk(_frame(rows, lines, names), lost)


def _frame(
    rows: list[dict[str, str | None]], lines: list[int], names: dict[str, None]
) -> pl.DataFrame:
    """The records as strings, with their kind and ``_line`` (the EventRecordID)."""
    frame = pl.DataFrame(rows, schema=dict.fromkeys(names, pl.String()))
    return frame.with_columns(
        pl.lit("winlog", pl.String()).alias("kind"),
        pl.Series("_line", lines, dtype=pl.Int64),
    )


def _lost(table: ChunkTable, seen: set[int], errors: list[str], *, gave_up: bool) -> pl.DataFrame:
    """Quarantine rows for the records of damaged chunks and of chunks the parser broke off
    in: one row per lost record id (a null id where the ids cannot be told)."""
    out: list[tuple[int | None, str, str, str]] = []

    def lose(ids: range | None, reason: str, detail: str, chunk: ChunkInfo) -> None:
        where = json.dumps({"chunk": chunk.index, "offset": chunk.offset})
        missing = [None] if ids is None else [i for i in ids if i not in seen]
        out.extend((i, reason, detail, where) for i in missing)

    for run in table.damaged():
        ids = _lost_ids(table, run)
        span = "record ids unknown" if ids is None else f"{len(ids)} records"
        first = run[0]
        which = f"chunk {first.index}" if len(run) == 1 else f"chunks {first.index}-{run[-1].index}"
        detail = f"{which} at byte {first.offset}: {first.problem} ({span} lost)"
        lose(ids, CORRUPT_CHUNK, detail, first)
    broken: dict[int, str] = {}
    for message in errors:
        number = _RECORD_NUMBER.search(message)
        chunk = table.holding(int(number.group(1))) if number else None
        if chunk is None:
            out.append((None, CORRUPT_RECORD, message, "{}"))
        else:
            broken.setdefault(chunk.index, message)
    if gave_up:
        out.append((None, CORRUPT_RECORD, f"gave up after {MAX_ERRORS_IN_A_ROW} errors", "{}"))
    for index, message in sorted(broken.items()):
        chunk = table.chunks[[c.index for c in table.chunks].index(index)]
        assert chunk.first_id is not None and chunk.last_id is not None
        detail = f"chunk {index} at byte {chunk.offset}: {message}"
        lose(range(chunk.first_id, chunk.last_id + 1), CORRUPT_RECORD, detail, chunk)
    if not out:
        return no_rejects()
    return pl.DataFrame(out, schema=REJECTED, orient="row")
