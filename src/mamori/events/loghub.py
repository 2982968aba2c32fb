"""Read the loghub log formats (BGL, OpenSSH, Linux, Apache) into the `log` kind.

loghub (Zhu et al., ISSRE 2023) collects real system logs for log-analytics research:

- ``bgl``: BlueGene/L RAS logs, ``LABEL EPOCH DATE NODE TIME NODE TYPE COMPONENT LEVEL
  content``. The first token is the ground truth (``-`` normal, else an alert category):
  it is taken out of the event, never kept in `message` or any other column, and returned
  beside the events as a separate label (`LabelledLogs.labels`), so no detector can learn
  from it by mistake. `host` is the node, `app` the component (KERNEL, APP, MMCS …),
  `severity` the level in lower case.
- ``openssh`` and ``linux``: RFC 3164 syslog lines (`mamori.events.syslog`).
- ``apache``: the Apache error log, ``[Sun Dec 04 04:47:44 2005] [level] message``; `app`
  is ``apache``.

The format is named or taken from the file name (``BGL_2k.log`` → ``bgl``). Lines that do
not fit are quarantined with their line number and reason, as for every reader.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "BGL_tiny.log")
>>> _ = open(path, "w").write(
...     "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 "
...     "R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected\\n"
...     "KERNDTLB 1118536327 2005.06.11 R30-M0-N9-C:J16-U01 2005-06-11-17.32.07.581048 "
...     "R30-M0-N9-C:J16-U01 RAS KERNEL FATAL data TLB error interrupt\\n")
>>> read = read_loghub(path)
>>> read.events.select("host", "app", "severity", "message").rows()[1]
('R30-M0-N9-C:J16-U01', 'KERNEL', 'fatal', 'data TLB error interrupt')
>>> read.labels.select("label", "anomalous").rows()
[('-', False), ('KERNDTLB', True)]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import polars as pl

from mamori.events.quarantine import Quarantine
from mamori.events.schema import empty
from mamori.events.syslog import Parser, SyslogParser, iter_log_lines, nil

FORMATS = ("bgl", "openssh", "linux", "apache")

_BGL = (
    r"^(?P<label>\S+) \d+ \S+ (?P<host>\S+) "
    r"(?P<stamp>\d{4}-\d{2}-\d{2}-\d{2}\.\d{2}\.\d{2}\.\d{1,6}) \S+ \S+ "
    r"(?P<app>\S+) (?P<severity>\S+)(?: (?P<message>.*))?$"
)
_APACHE = (
    r"^\[(?P<stamp>\w{3} \w{3} +\d{1,2} \d{2}:\d{2}:\d{2} \d{4})\] "
    r"\[(?P<severity>\w+)\] (?P<message>.*)$"
)


def parse_bgl(lines: pl.DataFrame) -> pl.DataFrame:
    """Parsed BGL lines: the log columns plus `label` and `anomalous`, kept apart later."""
    g = lines.select(pl.col("text").str.extract_groups(_BGL).alias("g")).unnest("g")
    fits = pl.col("stamp").is_not_null()
    return g.select(
        time=pl.col("stamp").str.to_datetime(
            "%Y-%m-%d-%H.%M.%S%.f", time_zone="UTC", strict=False, time_unit="us"
        ),
        host=pl.when(pl.col("host") != "NULL").then(pl.col("host")),
        app=nil("app"),
        pid=pl.lit(None, pl.Int64),
        severity=pl.col("severity").str.to_lowercase(),
        message=pl.when(fits).then(pl.col("message").fill_null("")),
        label=pl.col("label"),
        anomalous=pl.col("label") != "-",
    )


def parse_apache(lines: pl.DataFrame) -> pl.DataFrame:
    """Parsed Apache error-log lines."""
    g = lines.select(pl.col("text").str.extract_groups(_APACHE).alias("g")).unnest("g")
    return g.select(
        time=pl.col("stamp")
        .str.replace_all(" +", " ")
        .str.to_datetime("%a %b %d %H:%M:%S %Y", time_zone="UTC", strict=False),
        host=pl.lit(None, pl.String),
        app=pl.when(pl.col("stamp").is_not_null()).then(pl.lit("apache")),
        pid=pl.lit(None, pl.Int64),
        severity=pl.col("severity").str.to_lowercase(),
        message="message",
    )


def format_of(path: Path | str) -> str:
    """The loghub format a file's name says (``OpenSSH_2k.log`` → ``openssh``).

    >>> format_of("data/BGL_2k.log"), format_of("Apache_2k.log")
    ('bgl', 'apache')
    """
    name = Path(path).name.lower()
    for fmt in FORMATS:
        if name.startswith(fmt):
            return fmt
    raise ValueError(f"{path}: cannot tell the loghub format from the name; name one of {FORMATS}")


def parser_for(fmt: str, year: int | None = None) -> Parser:
    """The line parser of a loghub format."""
    if fmt == "bgl":
        return parse_bgl
    if fmt == "apache":
        return parse_apache
    if fmt in ("openssh", "linux"):
        return SyslogParser(year)
    raise ValueError(f"unknown loghub format {fmt!r}; known: {', '.join(FORMATS)}")


@dataclass
class LabelledLogs:
    """Events of one loghub file, with the labels (BGL only) kept apart from them."""

    events: pl.DataFrame
    labels: pl.DataFrame  # event_id, label, anomalous (empty when the format has none)
    quarantine: Quarantine = field(default_factory=Quarantine)

    @property
    def read(self) -> int:
        """Lines read: accepted plus quarantined."""
        return self.events.height + self.quarantine.count


def iter_loghub(
    path: Path | str,
    fmt: str | None = None,
    *,
    tenant: str = "default",
    year: int | None = None,
    quarantine: Quarantine | None = None,
    now: datetime | None = None,
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """(events, labels) per block of a loghub file; `year` for the syslog formats, whose
    lines carry none."""
    parse = parser_for(fmt or format_of(path), year)
    q = quarantine if quarantine is not None else Quarantine()
    yield from iter_log_lines(path, parse, tenant=tenant, quarantine=q, now=now)


def read_loghub(
    path: Path | str,
    fmt: str | None = None,
    *,
    tenant: str = "default",
    year: int | None = None,
    now: datetime | None = None,
) -> LabelledLogs:
    """A whole loghub file at once (see `iter_loghub`)."""
    q = Quarantine()
    parts = list(iter_loghub(path, fmt, tenant=tenant, year=year, quarantine=q, now=now))
    if not parts:
        return LabelledLogs(empty("log"), pl.DataFrame(schema={"event_id": pl.String}), q)
    events = pl.concat([p[0] for p in parts])
    labels = pl.concat([p[1] for p in parts])
    return LabelledLogs(events, labels, q)

