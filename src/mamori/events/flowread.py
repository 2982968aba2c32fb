"""What every flow reader shares: flow events beside their reader's own features.

Flow formats carry more than the `flow` kind declares: CICFlowMeter writes about 80
statistics per flow, NSL-KDD 41 connection features, Zeek a uid and a TCP history. The
intrusion models need them, the shared schema should not grow dozens of columns for them;
so a flow reader returns a `FlowRead`: the `events` (the `flow` kind, conformed, envelope
filled) and `features`, one row per accepted event keyed by `event_id`, holding the
format's own columns under snake-case names (numbers as Float64, codes as strings) and any
ground-truth label the file carries (`label`; never a feature).

A record is quarantined (`mamori.events.quarantine`) with its file, line and reason when it
cannot be parsed, when a numeric feature is not a number (``wrong_type``), or when its flow
columns fail the spine's checks (`mamori.events.validate`); the `summary` counts every
record as accepted or quarantined.

>>> import polars as pl
>>> records = pl.DataFrame({"_line": [2, 3], "_raw": ["a", "b"]})
>>> flow = pl.DataFrame({"time": ["2024-05-01T10:00:00Z"] * 2, "dst_port": ["443", "80"]})
>>> numeric = pl.DataFrame({"pkts": ["3", "x"]})
>>> read = FlowRead.empty()
>>> read.add("f.csv", records, flow, numeric, pl.DataFrame(), Envelope("bank-a", "file:f.csv"))
>>> read.events.select("dst_port").rows(), read.features.columns
([(443,)], ['event_id', 'pkts'])
>>> read.quarantine.records().select("line", "reason", "detail").rows()
[(3, 'wrong_type', 'pkts="x": not a number')]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from mamori.events import reasons
from mamori.events.chunk import rejects
from mamori.events.envelope import Envelope
from mamori.events.quarantine import Quarantine
from mamori.events.schema import empty
from mamori.events.summary import ReadSummary
from mamori.events.validate import validate

__all__ = ["Envelope", "FlowRead", "PROTOCOLS", "protocol_names", "service_of_port"]

#: IANA protocol numbers and the names the `flow` kind uses.
PROTOCOLS: dict[int, str] = {
    1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 58: "icmpv6", 132: "sctp",
}  # fmt: skip

#: Well-known server ports and their service, for formats that do not name the service.
PORT_SERVICES: dict[int, str] = {
    20: "ftp-data", 21: "ftp", 22: "ssh", 23: "telnet", 25: "smtp", 53: "dns", 67: "dhcp",
    80: "http", 88: "kerberos", 110: "pop3", 123: "ntp", 135: "msrpc", 137: "netbios",
    139: "netbios", 143: "imap", 161: "snmp", 389: "ldap", 443: "https", 445: "smb",
    465: "smtps", 587: "smtp", 636: "ldaps", 993: "imaps", 995: "pop3s", 1433: "mssql",
    1521: "oracle", 3306: "mysql", 3389: "rdp", 5432: "postgresql", 5900: "vnc",
    8080: "http", 8443: "https",
}  # fmt: skip


def protocol_names(numbers: pl.Expr) -> pl.Expr:
    """Protocol numbers (as text or integers) to names; unlisted numbers stay as digits and
    names given as text (``TCP``) are lower-cased."""
    text = numbers.cast(pl.String).str.strip_chars()
    as_int = text.cast(pl.Int64, strict=False)
    named = as_int.replace_strict(PROTOCOLS, default=None, return_dtype=pl.String)
    return pl.coalesce(named, as_int.cast(pl.String), text.str.to_lowercase())


def service_of_port(port: pl.Expr) -> pl.Expr:
    """The usual service of a destination port, null where none is well known."""
    return port.cast(pl.Int64, strict=False).replace_strict(
        PORT_SERVICES, default=None, return_dtype=pl.String
    )


@dataclass
class FlowRead:
    """Flow events, their reader's features keyed by `event_id`, and the read's counts."""

    events: pl.DataFrame
    features: pl.DataFrame
    summary: ReadSummary = field(default_factory=ReadSummary)
    quarantine: Quarantine = field(default_factory=Quarantine)

    @classmethod
    def empty(cls, quarantine: Quarantine | None = None) -> FlowRead:
        """A read with nothing in it yet."""
        return cls(
            empty("flow"),
            pl.DataFrame(schema={"event_id": pl.String()}),
            quarantine=quarantine or Quarantine(),
        )

    def add(
        self,
        file: str,
        records: pl.DataFrame,
        flow: pl.DataFrame,
        numeric: pl.DataFrame,
        other: pl.DataFrame,
        envelope: Envelope,
        *,
        read: int | None = None,
        now: datetime | None = None,
    ) -> None:
        """Add parsed records of `file` (with `_line` and `_raw`): `flow` their flow columns
        as text or typed values, `numeric` their numeric features as text, `other` their
        other features and labels; all four of one height and order. `read` is how many
        records they stand for (default: their number; more where a format reader
        quarantined some before)."""
        stats = self.summary.file(file)
        stats.add(read=records.height if read is None else read)
        position = records.select("_line", "_raw")
        values, bad, detail = _numbers(numeric)
        if bad.any():
            rejected = rejects(position.filter(bad), reasons.WRONG_TYPE, detail.filter(bad))
            stats.add(quarantined=self.quarantine.add(file, rejected, "flow"))
        keep = ~bad
        accepted, rejected = validate(
            pl.concat([flow, position], how="horizontal").filter(keep), "flow", now=now
        )
        if rejected.height:
            stats.add(quarantined=self.quarantine.add(file, rejected, "flow"))
        ok = ~position["_line"].filter(keep).is_in(rejected["_line"].implode())
        if not ok.any():
            return
        events = envelope.fill(accepted, "flow")
        features = pl.concat([values, other], how="horizontal").filter(keep).filter(ok)
        features = features.insert_column(0, events["event_id"])
        stats.add(accepted=events.height)
        self.events = pl.concat([self.events, events])
        self.features = pl.concat([self.features, features], how="diagonal_relaxed")

    def reject(self, file: str, rejected: pl.DataFrame) -> None:
        """Quarantine records a format reader could not parse (columns of
        `mamori.events.chunk.REJECTED`); they count as read."""
        if rejected.height:
            stats = self.summary.file(file)
            stats.add(read=rejected.height, quarantined=self.quarantine.add(file, rejected))


def _numbers(numeric: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series, pl.Series]:
    """Numeric features as Float64 (``Infinity`` and ``NaN`` are numbers), which rows hold a
    value that is not a number, and what to say of the first such value of each row."""
    n = numeric.height
    if numeric.width == 0:
        nothing = pl.repeat(False, n, eager=True)
        return numeric, nothing, pl.repeat(None, n, dtype=pl.String, eager=True)
    text = [pl.col(c).cast(pl.String).str.strip_chars() for c in numeric.columns]
    names = numeric.columns
    values = numeric.select(
        t.cast(pl.Float64, strict=False).alias(c) for t, c in zip(text, names, strict=True)
    )
    wrong = [
        t.is_not_null() & (t != "") & t.cast(pl.Float64, strict=False).is_null() for t in text
    ]
    checked = numeric.select(
        pl.any_horizontal(wrong).alias("bad"),
        pl.coalesce(
            pl.when(w).then(pl.format('{}="{}": not a number', pl.lit(c), t))
            for w, t, c in zip(wrong, text, names, strict=True)
        ).alias("detail"),
    )
    return values, checked["bad"], checked["detail"]
