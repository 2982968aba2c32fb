"""NetFlow v5, v9 and IPFIX export packets as flows (parsed by the `netflow` package).

`parse_exports` takes export packets as they arrive from a router (UDP payloads, in
order: v9 and IPFIX data sets are decoded with the templates sent before them, so a data
set that arrives before its template is kept and decoded once the template comes);
`read_netflow` takes a classic libpcap capture (``.pcap``) of those UDP datagrams over
Ethernet and IPv4 or IPv6. A packet that cannot be decoded is quarantined whole, with its
1-based position as the line: ``broken_packet`` (truncated, malformed, an unknown
version) or ``unknown_template`` (no template for a data set by the end of the input).

NetFlow records are one direction of a connection: the source's bytes are `bytes_out`
and `bytes_in` stays null. The time is the flow's start: for v5 and v9 the router's
export time less its uptime at the flow's first packet, for IPFIX ``flowStart*`` (or
the export time where the template carries no start). The TCP flags give the `state`
(``reset`` with an RST, ``syn_only`` with a SYN and no ACK, else ``established``), the
port the usual `service`. The exporter's own fields (interfaces, AS numbers, masks, ToS,
flags) stay in `FlowRead.features` under their export names.

The `netflow` package decodes each flow into a Python object, so this reader costs one
Python step per flow; the flows are then checked and enveloped as one frame.

>>> import struct
>>> header = struct.pack("!HHIIIIBBH", 5, 1, 60_000, 1_714_557_600, 0, 1, 0, 0, 0)
>>> record = struct.pack("!IIIHHIIIIHHxBBBHHBBxx", 0x0A000005, 0x0A000009, 0, 1, 2, 10,
...     4_000, 59_000, 59_500, 51000, 443, 0x18, 6, 0, 0, 0, 24, 24)
>>> read = parse_exports([header + record, b"\\x00\\x05\\x00"])
>>> read.events.select(pl.col("time").dt.strftime("%F %T"), "src_ip", "dst_port",
...     "bytes_out", "state").rows()
[('2024-05-01 09:59:59', '10.0.0.5', 443, 4000, 'established')]
>>> read.quarantine.records().select("line", "reason").rows()
[(2, 'broken_packet')]
"""

from __future__ import annotations

import ipaddress
import json
import struct
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from mamori.events.chunk import REJECTED
from mamori.events.flowread import Envelope, FlowRead, protocol_names, service_of_port
from mamori.events.quarantine import Quarantine

__all__ = ["BROKEN_PACKET", "UNKNOWN_TEMPLATE", "parse_exports", "read_netflow", "udp_payloads"]

BROKEN_PACKET = "broken_packet"  #: truncated, malformed, or a version other than 5, 9, 10
UNKNOWN_TEMPLATE = "unknown_template"  #: a v9/IPFIX data set whose template never came

#: Flow columns and the export field names that carry them (v5, v9, IPFIX).
FIELDS: dict[str, tuple[str, ...]] = {
    "src_ip": ("IPV4_SRC_ADDR", "IPV6_SRC_ADDR", "sourceIPv4Address", "sourceIPv6Address"),
    "dst_ip": (
        "IPV4_DST_ADDR", "IPV6_DST_ADDR", "destinationIPv4Address", "destinationIPv6Address",
    ),
    "src_port": ("SRC_PORT", "L4_SRC_PORT", "sourceTransportPort"),
    "dst_port": ("DST_PORT", "L4_DST_PORT", "destinationTransportPort"),
    "protocol": ("PROTO", "PROTOCOL", "protocolIdentifier"),
    "bytes_out": ("IN_OCTETS", "IN_BYTES", "octetDeltaCount", "octetTotalCount"),
    "packets": ("IN_PACKETS", "IN_PKTS", "packetDeltaCount", "packetTotalCount"),
    "tcp_flags": ("TCP_FLAGS", "tcpControlBits"),
}  # fmt: skip
_ADDRESSES = frozenset(FIELDS["src_ip"] + FIELDS["dst_ip"] + ("NEXT_HOP", "IPV4_NEXT_HOP"))
_SYN, _RST, _ACK = 0x02, 0x04, 0x10


def read_netflow(
    path: Path | str,
    tenant: str = "default",
    quarantine: Quarantine | None = None,
    *,
    now: datetime | None = None,
) -> FlowRead:
    """Flows from a libpcap capture of NetFlow/IPFIX export datagrams. Raises `ValueError`
    for a file that is not a classic pcap."""
    data = Path(path).read_bytes()
    return parse_exports(
        udp_payloads(data, str(path)),
        file=str(path),
        tenant=tenant,
        quarantine=quarantine,
        now=now,
    )


def udp_payloads(data: bytes, name: str = "capture") -> Iterator[bytes]:
    """The UDP payloads of a classic pcap (microsecond or nanosecond, either byte order)
    whose link type is Ethernet; frames that are not UDP are passed over."""
    if len(data) < 24:
        raise ValueError(f"{name}: too short to be a pcap file")
    magic = data[:4]
    order = {b"\xd4\xc3\xb2\xa1": "<", b"\x4d\x3c\xb2\xa1": "<"}.get(magic)
    order = order or {b"\xa1\xb2\xc3\xd4": ">", b"\xa1\xb2\x3c\x4d": ">"}.get(magic)
    if order is None:
        raise ValueError(f"{name}: not a pcap file (magic {magic.hex()})")
    (link,) = struct.unpack(order + "I", data[20:24])
    if link != 1:
        raise ValueError(f"{name}: link type {link}, only Ethernet (1) is read")
    offset = 24
    while offset + 16 <= len(data):
        (size,) = struct.unpack(order + "I", data[offset + 8 : offset + 12])
        frame = data[offset + 16 : offset + 16 + size]
        offset += 16 + size
        payload = _udp_payload(frame)
        if payload is not None:
            yield payload


def _udp_payload(frame: bytes) -> bytes | None:
    """The UDP payload of one Ethernet frame (VLAN tags skipped), or None."""
    at, ethertype = 14, int.from_bytes(frame[12:14], "big")
    while ethertype == 0x8100 and len(frame) >= at + 4:
        ethertype, at = int.from_bytes(frame[at + 2 : at + 4], "big"), at + 4
    if ethertype == 0x0800 and len(frame) > at and frame[at + 9 : at + 10] == b"\x11":
        at += (frame[at] & 0x0F) * 4
    elif ethertype == 0x86DD and frame[at + 6 : at + 7] == b"\x11":
        at += 40
    else:
        return None
    return frame[at + 8 :] if len(frame) >= at + 8 else None


def parse_exports(
    packets: Iterable[bytes],
    *,
    file: str = "netflow",
    tenant: str = "default",
    quarantine: Quarantine | None = None,
    now: datetime | None = None,
) -> FlowRead:
    """Flows from export packets in the order they arrived (see the module docstring)."""
    from netflow.ipfix import IPFIXTemplateNotRecognized
    from netflow.utils import parse_packet
    from netflow.v9 import V9TemplateNotRecognized

    templates: dict[str, Any] = {"netflow": {}, "ipfix": {}}
    rows: list[dict[str, Any]] = []
    bad: list[tuple[int, str, str, str]] = []
    waiting: list[tuple[int, bytes]] = []
    unknown = (V9TemplateNotRecognized, IPFIXTemplateNotRecognized)

    def decode(number: int, packet: bytes, final: bool) -> None:
        try:
            parsed = parse_packet(packet, templates)
        except unknown as err:
            if final:
                bad.append((number, UNKNOWN_TEMPLATE, f"no template: {err}", packet.hex()))
            else:
                waiting.append((number, packet))
            return
        except Exception as err:  # noqa: BLE001 - the parser raises many kinds on bad bytes
            bad.append((number, BROKEN_PACKET, f"{type(err).__name__}: {err}", packet.hex()))
            return
        rows.extend(_flow_rows(number, parsed))

    for number, packet in enumerate(packets, start=1):
        decode(number, bytes(packet), final=False)
    for number, packet in waiting:  # their templates may have come later
        decode(number, packet, final=True)

    read = FlowRead.empty(quarantine)
    read.reject(file, pl.DataFrame(bad, schema=REJECTED, orient="row"))
    if rows:
        records = pl.DataFrame(rows, infer_schema_length=None).sort("_line", maintain_order=True)
        flow, numeric = _columns(records)
        envelope = Envelope(tenant, f"netflow:{Path(file).name}")
        read.add(file, records, flow, numeric, pl.DataFrame(), envelope, now=now)
    return read


def _flow_rows(number: int, parsed: Any) -> list[dict[str, Any]]:
    """One plain row per flow of a decoded packet: its fields (addresses as text), the
    packet's number, the flow as JSON, and its start in epoch milliseconds."""
    header = parsed.header
    version = header.version
    rows = []
    for flow in parsed.flows:
        fields: dict[str, Any] = {
            k: _address(v) if k in _ADDRESSES else v
            for k, v in flow.data.items()
            if isinstance(v, int | float | str | bytes)
        }
        fields = {k: v.hex() if isinstance(v, bytes) else v for k, v in fields.items()}
        if version == 10:
            start = fields.get("flowStartMilliseconds")
            end = fields.get("flowEndMilliseconds")
            if start is None and "flowStartSeconds" in fields:
                start = fields["flowStartSeconds"] * 1000
                end = fields.get("flowEndSeconds", fields["flowStartSeconds"]) * 1000
            if start is None:
                start = header.export_uptime * 1000  # the export time, misnamed by the parser
        else:
            first = fields.get("FIRST_SWITCHED", header.uptime)
            start = header.timestamp * 1000 - (header.uptime - first)
            end = start + fields.get("LAST_SWITCHED", first) - first
        row = {
            "_line": number,
            "_raw": json.dumps(fields),
            "_start_ms": start,
            "_duration_s": None if end is None else (end - start) / 1000,
            "_version": version,
        }
        rows.append(row | {f"f_{k}": v for k, v in fields.items()})
    return rows


def _address(value: Any) -> Any:
    """An address field as text, whatever form the parser gave it in."""
    if isinstance(value, str):
        return value
    try:
        return ipaddress.ip_address(value).compressed
    except ValueError:
        return str(value)


def _columns(records: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Flow columns and numeric features of the decoded flow rows."""
    have = set(records.columns)

    def field(key: str) -> pl.Expr:
        names = [f"f_{n}" for n in FIELDS[key] if f"f_{n}" in have]
        return pl.coalesce(*(pl.col(n).cast(pl.String) for n in names), pl.lit(None, pl.String))

    flags = field("tcp_flags").cast(pl.Int64, strict=False)
    tcp = protocol_names(field("protocol")) == "tcp"
    flow = records.select(
        pl.col("_start_ms").cast(pl.String).alias("time"),
        field("src_ip").alias("src_ip"),
        field("src_port").alias("src_port"),
        field("dst_ip").alias("dst_ip"),
        field("dst_port").alias("dst_port"),
        protocol_names(field("protocol")).alias("protocol"),
        service_of_port(field("dst_port")).alias("service"),
        field("bytes_out").alias("bytes_out"),
        field("packets").alias("packets"),
        pl.col("_duration_s").cast(pl.Float64).alias("duration"),
        pl.when(tcp & (flags & _RST > 0))
        .then(pl.lit("reset"))
        .when(tcp & (flags & _SYN > 0) & (flags & _ACK == 0))
        .then(pl.lit("syn_only"))
        .when(tcp)
        .then(pl.lit("established"))
        .alias("state"),
    )
    numeric = records.select(
        pl.col(c).alias(c.removeprefix("f_"))
        for c in records.columns
        if c.startswith("f_") and records[c].dtype.is_numeric()
    )
    return flow, numeric.with_columns(records["_version"].alias("export_version"))
