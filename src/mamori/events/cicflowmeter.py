"""CICFlowMeter CSV (CIC-IDS2017, CSE-CIC-IDS2018 and their relabelled versions) as flows.

CICFlowMeter writes one row per bidirectional flow with about 80 statistics. Versions
differ in their headers (``Src IP`` or ``Source IP``, ``Total Fwd Packet`` or ``Total Fwd
Packets``, leading spaces in the 2017 release), so headers are normalised to snake case
(``Flow Bytes/s`` is ``flow_bytes_s``) and the variants of the flow columns are looked up
by alias. The flow columns come out as the `flow` kind: `Timestamp` is the time (naive
times are read as UTC; the 2017 release's day-first ``7/7/2017 1:39:36 PM`` is read too),
forward bytes are `bytes_out`, backward bytes `bytes_in`, the protocol number its name, the
service the usual one of the destination port, and the state follows the TCP flags
(``reset`` with an RST, ``syn_only`` with a SYN and no answer, else ``established``).

Every other numeric column is a feature (`FlowRead.features`, Float64, ``Infinity`` and
``NaN`` kept); `Label` and `Attempted Category` are kept as `label` and
`attempted_category`; ids, addresses and the timestamp are not features.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "flows.csv")
>>> _ = open(path, "w").write(
...     "Src IP,Src Port,Dst IP,Dst Port,Protocol,Timestamp,Flow Duration,"
...     "Total Fwd Packet,Total Bwd packets,Total Length of Fwd Packet,"
...     "Total Length of Bwd Packet,RST Flag Count,SYN Flag Count,Label\\n"
...     "10.0.0.5,50000,10.0.0.9,443,6,2017-07-07 13:39:36.2,1500000,5,4,196,128,0,2,BENIGN\\n"
...     "10.0.0.5,50001,10.0.0.9,443,6,2017-07-07 13:39:37,abc,5,4,196,128,0,2,BENIGN\\n")
>>> read = read_cicflowmeter(path, tenant="bank-a")
>>> read.events.select("src_ip", "dst_port", "service", "bytes_out", "packets", "duration",
...     "state").rows()
[('10.0.0.5', 443, 'https', 196, 9, 1.5, 'established')]
>>> read.features.select("flow_duration", "label").rows()
[(1500000.0, 'BENIGN')]
>>> print(read.summary)
read 2, accepted 1, quarantined 1 (wrong_type 1) from 1 file
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import polars as pl

from mamori.events.csvfile import iter_csv_chunks
from mamori.events.flowread import Envelope, FlowRead, protocol_names, service_of_port
from mamori.events.quarantine import Quarantine

__all__ = ["read_cicflowmeter", "snake"]

#: The flow columns and the normalised header names they go by in CICFlowMeter versions.
ALIASES: dict[str, tuple[str, ...]] = {
    "src_ip": ("src_ip", "source_ip"),
    "src_port": ("src_port", "source_port"),
    "dst_ip": ("dst_ip", "destination_ip"),
    "dst_port": ("dst_port", "destination_port"),
    "protocol": ("protocol",),
    "time": ("timestamp",),
    "duration_us": ("flow_duration",),
    "fwd_packets": ("total_fwd_packet", "total_fwd_packets", "tot_fwd_pkts"),
    "bwd_packets": ("total_bwd_packets", "total_bwd_packet", "tot_bwd_pkts"),
    "fwd_bytes": (
        "total_length_of_fwd_packet",
        "total_length_of_fwd_packets",
        "totlen_fwd_pkts",
        "fwd_packets_length_total",
    ),
    "bwd_bytes": (
        "total_length_of_bwd_packet",
        "total_length_of_bwd_packets",
        "totlen_bwd_pkts",
        "bwd_packets_length_total",
    ),
    "rst_flags": ("rst_flag_count",),
    "syn_flags": ("syn_flag_count",),
}

#: Columns that identify a flow or say its truth: never features.
NOT_FEATURES = frozenset(
    {"id", "flow_id", "src_ip", "source_ip", "dst_ip", "destination_ip", "src_port",
     "source_port", "timestamp", "label", "attempted_category"}
)  # fmt: skip
LABELS = ("label", "attempted_category")

#: Day-first layouts of the 2017 release, tried after the spine's ISO-8601 ones.
_DAY_FIRST = ("%d/%m/%Y %I:%M:%S %p", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M")


def snake(header: str) -> str:
    """A CICFlowMeter header in snake case.

    >>> snake(" Flow Bytes/s"), snake("Fwd IAT Min"), snake("Down/Up Ratio")
    ('flow_bytes_s', 'fwd_iat_min', 'down_up_ratio')
    """
    return re.sub(r"[^0-9a-z]+", "_", header.strip().lower()).strip("_")


def read_cicflowmeter(
    path: Path | str,
    tenant: str = "default",
    quarantine: Quarantine | None = None,
    *,
    now: datetime | None = None,
) -> FlowRead:
    """Flows and features from a CICFlowMeter CSV file, or from every ``.csv`` (and
    ``.csv.gz``) file of a folder in name order. Raises `ValueError` for a file whose
    header lacks a timestamp or the addresses of a flow."""
    root = Path(path)
    files = (
        sorted(p for p in root.rglob("*") if p.name.lower().endswith((".csv", ".csv.gz")))
        if root.is_dir()
        else [root]
    )
    read = FlowRead.empty(quarantine)
    for file in files:
        name = str(file)
        envelope = Envelope(tenant, f"cicflowmeter:{file.name}")
        for chunk in iter_csv_chunks(file):
            read.reject(name, chunk.rejected)
            records = chunk.records.rename(
                {c: snake(c) for c in chunk.records.columns if not c.startswith("_")}
            )
            flow, numeric, other = _split(records, name)
            read.add(name, records, flow, numeric, other, envelope, now=now)
    return read


def _split(records: pl.DataFrame, name: str) -> tuple[pl.DataFrame, ...]:
    """The flow columns, numeric features and labels of normalised CICFlowMeter records."""
    have = set(records.columns)
    col = {key: next((a for a in names if a in have), None) for key, names in ALIASES.items()}
    missing = [k for k in ("time", "src_ip", "dst_ip") if col[k] is None]
    if missing:
        raise ValueError(f"{name}: not a CICFlowMeter CSV, no column for {', '.join(missing)}")

    def num(key: str) -> pl.Expr:
        source = col[key]
        if source is None:
            return pl.lit(None, pl.Float64)
        return pl.col(source).str.strip_chars().cast(pl.Float64, strict=False)

    text = pl.col(str(col["time"])).str.strip_chars()
    day_first = pl.coalesce(
        text.str.to_datetime(layout, time_unit="us", strict=False) for layout in _DAY_FIRST
    )
    tcp = protocol_names(pl.col(str(col["protocol"]))) == "tcp" if col["protocol"] else False
    flow = records.select(
        pl.coalesce(day_first.dt.strftime("%Y-%m-%dT%H:%M:%S%.f"), text).alias("time"),
        pl.col(str(col["src_ip"])).alias("src_ip"),
        pl.col(str(col["dst_ip"])).alias("dst_ip"),
        *(pl.col(c).alias(k) for k in ("src_port", "dst_port") if (c := col[k]) is not None),
        *([protocol_names(pl.col(c)).alias("protocol")] if (c := col["protocol"]) else []),
        *([service_of_port(pl.col(c)).alias("service")] if (c := col["dst_port"]) else []),
        num("fwd_bytes").cast(pl.Int64, strict=False).alias("bytes_out"),
        num("bwd_bytes").cast(pl.Int64, strict=False).alias("bytes_in"),
        (num("fwd_packets") + num("bwd_packets")).cast(pl.Int64, strict=False).alias("packets"),
        (num("duration_us") / 1e6).alias("duration"),
        pl.when(tcp & (num("rst_flags") > 0))
        .then(pl.lit("reset"))
        .when(tcp & (num("syn_flags") > 0) & (num("bwd_packets") == 0))
        .then(pl.lit("syn_only"))
        .when(tcp)
        .then(pl.lit("established"))
        .alias("state"),
    )
    features = [c for c in records.columns if not c.startswith("_") and c not in NOT_FEATURES]
    numeric = records.select(features)
    other = records.select(c for c in LABELS if c in have)
    return flow, numeric, other
