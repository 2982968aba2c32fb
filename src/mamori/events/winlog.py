"""Windows events as shippers write them in JSON, to the native names of the `winlog` kind.

Windows events reach a SOC as JSON lines in a few shapes. `normalise` recognises each in
every record (one file may mix them) and renames their fields to the native names the
EVTX reader gives (`mamori.events.evtx`), so that Sigma rules see the same record whatever
carried it:

* **Winlogbeat** (7.x, 8.x): a ``winlog`` object with ``event_id``, ``channel``,
  ``computer_name``, ``record_id``, ``provider_name``, ``provider_guid``, ``process.pid``,
  ``process.thread.id``, ``user.identifier``, and the payload in ``event_data`` and
  ``user_data``; the time is ``@timestamp``. Winlogbeat 6.x put the same fields at the top
  level (``event_id``, ``log_name``, ``computer_name``, ``record_number``, ``source_name``,
  ``event_data``).
* **NXLog** (``im_msvistalog`` with ``to_json()``): flat, the EventData fields at the top
  level beside ``EventID``, ``Channel``, ``Hostname``, ``SourceName``, ``ProviderGuid``,
  ``RecordNumber`` and ``EventTime``.
* **OTRF Security-Datasets (Mordor)**: NXLog's shape passed through Logstash, so flat as
  well, with ``@timestamp`` (UTC) beside NXLog's ``EventTime`` (the host's local time).
* **evtx_dump** JSON: an ``Event`` object as the Rust parser renders it, flattened by
  `mamori.events.evtx.flatten_event` (a loop over records: this shape is rare in transit).

Where a record already has a native field it is kept; the shipper's fields fill the rest,
and the columns they came from are dropped. The time is the first of ``time``,
``@timestamp`` and ``EventTime``; a time without a zone is read as UTC (NXLog's
``EventTime`` is the host's local time, so prefer shipping ``@timestamp`` or an offset).
A payload field whose name is a System or envelope name gets the ``EventData_`` prefix,
as in EVTX records. Everything else a shipper adds (``Message``, ``Severity``, ECS
``host``, ...) stays as an extra text column.

>>> raw = pl.DataFrame({"@timestamp": ["2024-05-01T10:00:00Z"], "winlog": [
...     '{"event_id": 4624, "channel": "Security", "computer_name": "dc1",'
...     ' "event_data": {"TargetUserName": "alice", "LogonType": "3"}}']})
>>> normalise(raw).select("EventID", "Channel", "Computer", "TargetUserName", "time").row(0)
('4624', 'Security', 'dc1', 'alice', '2024-05-01T10:00:00Z')
"""

from __future__ import annotations

import json
from collections import defaultdict

import polars as pl

from mamori.events.evtx import PAYLOAD_PREFIX, RESERVED, flatten_event
from mamori.events.validate import cast_value

__all__ = ["looks_like_windows", "normalise"]

#: Winlogbeat 7+: paths inside ``winlog`` and the native names they give.
WINLOGBEAT: dict[tuple[str, ...], str] = {
    ("event_id",): "EventID",
    ("channel",): "Channel",
    ("computer_name",): "Computer",
    ("record_id",): "EventRecordID",
    ("provider_name",): "Provider_Name",
    ("provider_guid",): "Provider_Guid",
    ("version",): "Version",
    ("activity_id",): "ActivityID",
    ("related_activity_id",): "RelatedActivityID",
    ("process", "pid"): "ExecutionProcessID",
    ("process", "thread", "id"): "ExecutionThreadID",
    ("user", "identifier"): "UserID",
}

#: Winlogbeat's payload objects, inside ``winlog`` (7+) or at the top level (6.x).
PAYLOADS = ("event_data", "user_data")

#: Flat shapes' own names (NXLog, Mordor, Winlogbeat 6.x) and the native names they give.
RENAMES: dict[str, str] = {
    "Hostname": "Computer",
    "SourceName": "Provider_Name",
    "ProviderGuid": "Provider_Guid",
    "RecordNumber": "EventRecordID",
    "event_id": "EventID",
    "log_name": "Channel",
    "computer_name": "Computer",
    "record_number": "EventRecordID",
    "source_name": "Provider_Name",
}

#: Where the time may be, best first.
TIMES = ("@timestamp", "EventTime")

_WINDOWS_KEY = r'"(?:winlog|EventID|event_id|Event)"\s*:'


def looks_like_windows(raw: pl.Series) -> pl.Series:
    """Which JSON lines look like Windows events: they have a ``winlog``, ``EventID``,
    ``event_id`` or ``Event`` field (a cheap text test, one pass over the column)."""
    return raw.cast(pl.String).str.contains(_WINDOWS_KEY).fill_null(False)


def normalise(records: pl.DataFrame) -> pl.DataFrame:
    """Records of any shape above with native field names (see the module docstring).
    Records already native pass unchanged; `_line`, `_raw` and other columns are kept."""
    found: defaultdict[str, list[pl.Series]] = defaultdict(list)
    used: set[str] = set()
    nested = _Nested(records)
    if "winlog" in records.columns:
        winlog = nested.get("winlog")
        if winlog is not None:
            used.add("winlog")
            for path, native in WINLOGBEAT.items():
                _add(found, native, _field(winlog, path))
            for section in PAYLOADS:
                _add_payload(found, _field(winlog, (section,)))
    for section in PAYLOADS:
        if section in records.columns:
            payload = nested.get(section)
            if payload is not None:
                used.add(section)
                _add_payload(found, payload)
    for name, native in RENAMES.items():
        if name in records.columns:
            used.add(name)
            _add(found, native, records[name])
    for name in TIMES:
        if name in records.columns:
            used.add(name)
            _add(found, "time", records[name])
    if "Event" in records.columns:
        used.add("Event")
        for name, values in _flatten_dumped(records).items():
            _add(found, name, values)
    if not found:
        return records.drop(used)
    merged = []
    for native, sources in found.items():
        own = [records[native].cast(pl.String)] if native in records.columns else []
        merged.append(pl.coalesce([pl.lit(s) for s in own + sources]).alias(native))
    return records.drop(used).with_columns(merged)


class _Nested:
    """Object fields of the records as struct columns.

    They are decoded from each record's own text (`_raw`) where there is one: the JSON text
    Polars gives for a nested value read as a string drops the escaping of backslashes
    (``"C:\\\\x"`` comes back as ``"C:\\x"``), which would break Windows paths. The column's
    text is the fallback (e.g. a `_raw`-less frame)."""

    def __init__(self, records: pl.DataFrame) -> None:
        self.records = records
        self._whole: pl.Series | None | bool = False  # False: not decoded yet

    def get(self, column: str) -> pl.Series | None:
        if self._whole is False:
            self._whole = None
            if "_raw" in self.records.columns:
                raw = self.records["_raw"].cast(pl.String).str.strip_chars()
                self._whole = _as_struct(raw)
        whole = self._whole
        if isinstance(whole, pl.Series):
            field = _field(whole, (column,))
            if field is not None and isinstance(field.dtype, pl.Struct):
                return field
        return _as_struct(self.records[column])


def _as_struct(values: pl.Series) -> pl.Series | None:
    """A column of objects as a struct column (decoding JSON text); None where it is not
    one (e.g. a plain string column that only shares the name)."""
    if isinstance(values.dtype, pl.Struct):
        return values
    if values.dtype != pl.String or values.null_count() == len(values):
        return None
    text = values.str.strip_chars()
    if not text.drop_nulls().str.starts_with("{").all():
        return None
    try:
        decoded = text.str.json_decode(infer_schema_length=None)
    except pl.exceptions.PolarsError:
        return None
    return decoded if isinstance(decoded.dtype, pl.Struct) else None


def _field(struct: pl.Series | None, path: tuple[str, ...]) -> pl.Series | None:
    """A nested field of a struct column, or None where the path is not there."""
    for name in path:
        if struct is None or not isinstance(struct.dtype, pl.Struct):
            return None
        if name not in [f.name for f in struct.dtype.fields]:
            return None
        struct = struct.struct.field(name)
    return struct


def _add(found: defaultdict[str, list[pl.Series]], native: str, values: pl.Series | None) -> None:
    """One more source for a native field, as text."""
    if values is not None:
        text, _ = cast_value(values, pl.String())
        found[native].append(text.alias(native))


def _add_payload(found: defaultdict[str, list[pl.Series]], payload: pl.Series | None) -> None:
    """The fields of an event_data or user_data struct, each under its own name."""
    if payload is None or not isinstance(payload.dtype, pl.Struct):
        return
    for field in payload.dtype.fields:
        name = PAYLOAD_PREFIX + field.name if field.name in RESERVED else field.name
        _add(found, name, payload.struct.field(field.name))


def _flatten_dumped(records: pl.DataFrame) -> dict[str, pl.Series]:
    """evtx_dump's ``Event`` objects, flattened one by one (from each record's own text
    where there is one, see `_Nested`)."""
    whole = "_raw" in records.columns
    rows = []
    for text in records["_raw" if whole else "Event"].cast(pl.String):
        try:
            event = json.loads(text) if text else None
        except json.JSONDecodeError:
            event = None
        if whole and isinstance(event, dict):
            event = event.get("Event")
        rows.append(flatten_event(event) if isinstance(event, dict) else {})
    names = dict.fromkeys(name for row in rows for name in row)
    frame = pl.DataFrame(rows, schema=dict.fromkeys(names, pl.String()))
    return {name: frame[name] for name in frame.columns}
