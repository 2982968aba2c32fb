"""Zeek ``conn.log`` as flows: the TSV form with its ``#`` header lines, and JSON lines.

The TSV form says its own layout: ``#separator`` (usually ``\\x09``), ``#unset_field``
(``-``), ``#empty_field`` (``(empty)``) and ``#fields``; a file may hold several logs one
after another (``#close`` then a new header), and each row is read with the header above
it. A row whose field count differs from its header's is quarantined
(``broken_csv_row``). The JSON form (``LogAscii::use_json``) has one object per line,
with ``ts`` as epoch seconds or ISO-8601.

``ts`` is the time, ``id.orig_h``/``id.orig_p`` the source, ``id.resp_h``/``id.resp_p``
the destination, ``orig_bytes`` the bytes out, ``resp_bytes`` the bytes in, both
directions' packets the packets, and ``conn_state`` the `state` in words (`STATES`).
``dns.log`` and ``http.log`` rows read the same way carry their ``query`` or ``host`` as
the flow's `query`. The uid, the raw ``conn_state``, the ``history`` and the byte and
packet counts are kept in `FlowRead.features`.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "conn.log")
>>> _ = open(path, "w").write(
...     "#separator \\\\x09\\n#unset_field\\t-\\n#empty_field\\t(empty)\\n#path\\tconn\\n"
...     "#fields\\tts\\tuid\\tid.orig_h\\tid.orig_p\\tid.resp_h\\tid.resp_p\\tproto\\t"
...     "service\\tduration\\torig_bytes\\tresp_bytes\\tconn_state\\torig_pkts\\tresp_pkts\\n"
...     "1714557600.5\\tC1\\t10.0.0.5\\t51000\\t10.0.0.9\\t53\\tudp\\tdns\\t0.01\\t40\\t90"
...     "\\tSF\\t1\\t1\\n"
...     "1714557601.0\\tC2\\t10.0.0.5\\t51001\\t10.0.0.9\\t445\\ttcp\\t-\\t-\\t-\\t-"
...     "\\tREJ\\t1\\t1\\n")
>>> read = read_zeek(path)
>>> read.events.select("dst_port", "protocol", "service", "bytes_out", "packets", "state").rows()
[(53, 'udp', 'dns', 40, 2, 'established'), (445, 'tcp', None, None, 2, 'rejected')]
>>> read.features.select("uid", "conn_state").rows()
[('C1', 'SF'), ('C2', 'REJ')]
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

from mamori.events import reasons
from mamori.events.chunk import rejects
from mamori.events.flowread import Envelope, FlowRead
from mamori.events.jsonlines import iter_json_chunks
from mamori.events.quarantine import Quarantine
from mamori.events.textfile import iter_records

__all__ = ["STATES", "read_zeek"]

#: Zeek's (and KDD's) connection states in the words of the `flow` kind's `state`.
STATES: dict[str, str] = {
    "SF": "established",  # set up and closed normally
    "S1": "established",  # set up, not closed
    "S2": "established",  # set up, only the originator closed
    "S3": "established",  # set up, only the responder closed
    "S0": "syn_only",  # a SYN and no answer
    "SH": "syn_only",  # a SYN then a FIN from the originator, no SYN-ACK
    "SHR": "half_open",  # the responder's SYN-ACK then FIN, no SYN seen
    "REJ": "rejected",  # the SYN answered by RST
    "RSTO": "reset",  # set up, the originator aborted
    "RSTR": "reset",  # set up, the responder aborted
    "RSTOS0": "reset",  # a SYN then RST from the originator, no SYN-ACK
    "RSTRH": "reset",  # the responder's SYN-ACK then RST, no SYN seen
    "OTH": "other",  # no SYN seen: midstream traffic
}

_NUMERIC = (
    "duration", "orig_bytes", "resp_bytes", "missed_bytes", "orig_pkts", "orig_ip_bytes",
    "resp_pkts", "resp_ip_bytes",
)  # fmt: skip
_OTHER = ("uid", "conn_state", "history", "local_orig", "local_resp")
_FIELDS = (
    "ts", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service", "query",
    "host", *_NUMERIC, *_OTHER,
)  # fmt: skip


def read_zeek(
    path: Path | str,
    tenant: str = "default",
    quarantine: Quarantine | None = None,
    *,
    now: datetime | None = None,
) -> FlowRead:
    """Flows from a Zeek log, TSV or JSON (plain or ``.gz``); the form is told by the first
    character of the file (``#`` or ``{``)."""
    name = str(path)
    envelope = Envelope(tenant, f"zeek:{Path(path).name}")
    read = FlowRead.empty(quarantine)
    blocks = iter_records(path, quoted=False)
    first = next(blocks, None)
    if first is None:
        return read
    if first.data[first.start[0] : first.start[0] + 1] == b"{":
        for chunk in iter_json_chunks(path, schema=dict.fromkeys(_FIELDS, pl.String())):
            read.reject(name, chunk.rejected)
            _add(read, name, chunk.records, envelope, now)
        return read
    layout = _Layout()
    for block in (first, *blocks):
        raw = block.raw().cast(pl.String).str.strip_chars_end("\r\n")
        lines = block.line.astype(np.int64)
        is_header = raw.str.starts_with("#").to_numpy()
        cuts = sorted({0, *np.flatnonzero(is_header).tolist(), len(raw)})
        for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
            if is_header[lo]:
                layout.update(str(raw[lo]))
                lo += 1
            if hi > lo:
                layout.rows(read, name, raw[lo:hi], lines[lo:hi], envelope, now)
    return read


class _Layout:
    """The header in force: separator, unset and empty markers, field names."""

    def __init__(self) -> None:
        self.separator = "\t"
        self.unset = "-"
        self.empty = "(empty)"
        self.fields: list[str] = []

    def update(self, line: str) -> None:
        key, _, value = line[1:].partition(" " if line.startswith("#separator") else "\t")
        if key == "separator":
            self.separator = value.encode().decode("unicode_escape")
        elif key == "unset_field":
            self.unset = value
        elif key == "empty_field":
            self.empty = value
        elif key == "fields":
            self.fields = value.split(self.separator)

    def rows(
        self,
        read: FlowRead,
        name: str,
        raw: pl.Series,
        lines: np.ndarray,
        envelope: Envelope,
        now: datetime | None,
    ) -> None:
        records = pl.DataFrame({"_line": lines, "_raw": raw})
        parts = raw.str.split(self.separator)
        whole = parts.list.len() == len(self.fields)
        if not whole.all():
            said = "no #fields header" if not self.fields else f"{len(self.fields)} in #fields"
            detail = parts.list.len().filter(~whole).cast(pl.String) + f" fields, {said}"
            read.reject(name, rejects(records.filter(~whole), reasons.BROKEN_CSV_ROW, detail))
            records, parts = records.filter(whole), parts.filter(whole)
        values = pl.DataFrame(
            {f: parts.list.get(i) for i, f in enumerate(self.fields) if f in _FIELDS}
        )
        markers = [self.unset, self.empty]
        values = values.with_columns(
            pl.when(pl.all().is_in(markers)).then(None).otherwise(pl.all()).name.keep()
        )
        _add(read, name, pl.concat([records, values], how="horizontal"), envelope, now)


def _add(
    read: FlowRead,
    name: str,
    records: pl.DataFrame,
    envelope: Envelope,
    now: datetime | None,
) -> None:
    """Map Zeek fields (strings, absent ones missing) to flow columns and features."""
    have = set(records.columns)

    def field(key: str) -> pl.Expr:
        return pl.col(key) if key in have else pl.lit(None, pl.String())

    def number(key: str) -> pl.Expr:
        return field(key).cast(pl.Float64, strict=False)

    flow = records.select(
        field("ts").alias("time"),
        field("id.orig_h").alias("src_ip"),
        field("id.orig_p").alias("src_port"),
        field("id.resp_h").alias("dst_ip"),
        field("id.resp_p").alias("dst_port"),
        field("proto").str.to_lowercase().alias("protocol"),
        field("service").alias("service"),
        field("orig_bytes").alias("bytes_out"),
        field("resp_bytes").alias("bytes_in"),
        pl.when(number("orig_pkts").is_not_null() | number("resp_pkts").is_not_null())
        .then(number("orig_pkts").fill_null(0) + number("resp_pkts").fill_null(0))
        .cast(pl.Int64, strict=False)
        .alias("packets"),
        field("duration").alias("duration"),
        field("conn_state").replace_strict(STATES, default=None).alias("state"),
        pl.coalesce(field("query"), field("host")).alias("query"),
    )
    numeric = records.select(field(c).alias(c) for c in _NUMERIC)
    other = records.select(field(c).alias(c) for c in _OTHER)
    read.add(name, records, flow, numeric, other, envelope, now=now)
