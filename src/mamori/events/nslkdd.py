"""NSL-KDD and KDD'99 connection records as flows.

Each line is one connection: 41 comma-separated features with no header, then optionally
the attack name (``normal`` for benign, with or without KDD'99's trailing dot) and, in
NSL-KDD, the difficulty (how many of 21 classifiers got it wrong). The flow columns are
`protocol` (``protocol_type``), `service`, `state` (the ``flag``, in the words of
`mamori.events.zeek.STATES`), `bytes_out` (``src_bytes``), `bytes_in` (``dst_bytes``) and
`duration`; the records carry no addresses and no times, so each gets ``start`` plus one
millisecond per line, which keeps the file's order. All 41 features are kept in
`FlowRead.features` under their KDD names (the three symbolic ones as text), with the
truth as `label` and `difficulty`.

A line with another number of fields is quarantined as ``broken_csv_row``, one with a
non-numeric value where a number belongs as ``wrong_type``.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "kdd.txt")
>>> row = "0,tcp,http,SF,215,45076" + ",0" * 16 + ",1,1" + ",0.00" * 7 + ",0,0" + ",0.00" * 8
>>> _ = open(path, "w").write(row + ",normal,21\\n" + row + ",smurf.\\n" + "0,tcp,http\\n")
>>> read = read_nslkdd(path)
>>> read.events.select("protocol", "service", "state", "bytes_out", "bytes_in").rows()
[('tcp', 'http', 'established', 215, 45076), ('tcp', 'http', 'established', 215, 45076)]
>>> read.features.select("label", "difficulty").rows()
[('normal', 21), ('smurf', None)]
>>> read.quarantine.records().select("line", "reason", "detail").rows()
[(3, 'broken_csv_row', '3 fields where 41 to 43 belong')]
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from mamori.events import reasons
from mamori.events.chunk import rejects
from mamori.events.flowread import Envelope, FlowRead
from mamori.events.quarantine import Quarantine
from mamori.events.textfile import iter_records
from mamori.events.zeek import STATES

__all__ = ["FEATURES", "SYMBOLIC", "read_nslkdd", "attack_categories"]

#: The 41 KDD connection features, in file order.
FEATURES = (
    "duration", "protocol_type", "service", "flag", "src_bytes", "dst_bytes", "land",
    "wrong_fragment", "urgent", "hot", "num_failed_logins", "logged_in", "num_compromised",
    "root_shell", "su_attempted", "num_root", "num_file_creations", "num_shells",
    "num_access_files", "num_outbound_cmds", "is_host_login", "is_guest_login", "count",
    "srv_count", "serror_rate", "srv_serror_rate", "rerror_rate", "srv_rerror_rate",
    "same_srv_rate", "diff_srv_rate", "srv_diff_host_rate", "dst_host_count",
    "dst_host_srv_count", "dst_host_same_srv_rate", "dst_host_diff_srv_rate",
    "dst_host_same_src_port_rate", "dst_host_srv_diff_host_rate", "dst_host_serror_rate",
    "dst_host_srv_serror_rate", "dst_host_rerror_rate", "dst_host_srv_rerror_rate",
)  # fmt: skip
SYMBOLIC = ("protocol_type", "service", "flag")

#: When the first connection of a file is placed (the DARPA 1998 capture's era).
START = datetime(1998, 6, 1, tzinfo=UTC)


def read_nslkdd(
    path: Path | str,
    tenant: str = "default",
    quarantine: Quarantine | None = None,
    *,
    start: datetime = START,
) -> FlowRead:
    """Flows and the 41 features from an NSL-KDD or KDD'99 file (plain or ``.gz``)."""
    name = str(path)
    envelope = Envelope(tenant, f"nsl-kdd:{Path(path).name}")
    read = FlowRead.empty(quarantine)
    for block in iter_records(path, quoted=False):
        raw = block.raw().cast(pl.String).str.strip_chars_end("\r\n")
        fields = raw.str.split(",")
        count = fields.list.len()
        whole = count.is_between(len(FEATURES), len(FEATURES) + 2)
        records = pl.DataFrame({"_line": block.line.astype(np.int64), "_raw": raw})
        if not whole.all():
            detail = count.filter(~whole).cast(pl.String) + " fields where 41 to 43 belong"
            read.reject(name, rejects(records.filter(~whole), reasons.BROKEN_CSV_ROW, detail))
        records, fields = records.filter(whole), fields.filter(whole)
        columns = pl.DataFrame(
            {c: fields.list.get(i, null_on_oob=True) for i, c in enumerate(FEATURES)}
        ).with_columns(pl.all().str.strip_chars())
        offset = pl.duration(milliseconds=pl.col("_line") - 1)
        flow = records.select(
            (pl.lit(start) + offset).dt.strftime("%Y-%m-%dT%H:%M:%S%.fZ").alias("time")
        ).with_columns(
            columns["protocol_type"].str.to_lowercase().alias("protocol"),
            columns["service"].alias("service"),
            columns["flag"].replace_strict(STATES, default=None).alias("state"),
            columns["src_bytes"].alias("bytes_out"),
            columns["dst_bytes"].alias("bytes_in"),
            columns["duration"].alias("duration"),
        )
        truth = pl.DataFrame(
            {
                "label": fields.list.get(len(FEATURES), null_on_oob=True)
                .str.strip_chars()
                .str.strip_suffix("."),
                "difficulty": fields.list.get(len(FEATURES) + 1, null_on_oob=True)
                .str.strip_chars()
                .cast(pl.Int64, strict=False),
            }
        )
        numeric = columns.drop(SYMBOLIC)
        other = pl.concat([columns.select(SYMBOLIC), truth], how="horizontal")
        read.add(name, records, flow, numeric, other, envelope, now=start + timedelta(days=3650))
    return read


def attack_categories(path: Path | str) -> dict[str, str]:
    """Attack name to category (``dos``, ``probe``, ``r2l``, ``u2r``, ``normal``) from an
    ``attack-types.csv`` (name,category lines; CR, LF or CRLF line ends)."""
    text = Path(path).read_text()
    pairs = (line.split(",") for line in text.replace("\r", "\n").split("\n") if "," in line)
    return {name.strip(): category.strip().lower() for name, category, *_ in pairs}
