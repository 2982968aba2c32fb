"""Read syslog files (RFC 3164 and RFC 5424 lines, auth.log) into the `log` kind.

A line is parsed with one regular expression per format over a whole block of lines
(`mamori.events.textfile`), never line by line in Python:

- RFC 3164 (BSD syslog, ``/var/log/messages``, ``auth.log``): an optional ``<PRI>``, then
  ``Mmm dd hh:mm:ss host tag[pid]: message``. The line carries no year: the reader takes
  `year` (default: the current UTC year) and moves to the next year where the month falls
  back by more than six months (a December-to-January turn). Times without a zone are UTC.
- RFC 5424: ``<PRI>1 timestamp host app procid msgid structured-data message``, where ``-``
  means absent.

Columns: `host`, `app` (the tag or APP-NAME, e.g. ``sshd`` or ``sshd(pam_unix)``), `pid`,
`severity` (from PRI when there is one: ``emerg`` … ``debug``), and `message`: the text the
program wrote, after the header (the header's fields are in their own columns). A line
that fits neither format, or whose time cannot be read, is quarantined with its line number
and the reason (``broken_log_line``, ``unparseable_time``) and the read goes on.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "auth.log")
>>> _ = open(path, "w").write(
...     "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186\\n"
...     "<34>1 2024-05-01T10:00:00Z gw1 su - ID47 - 'su root' failed on /dev/pts/8\\n"
...     "garbage\\n")
>>> q = Quarantine()
>>> logs = pl.concat(iter_syslog(path, tenant="bank-a", year=2024, quarantine=q))
>>> logs.select("host", "app", "pid", "severity").rows()
[('LabSZ', 'sshd', 24200, None), ('gw1', 'su', None, 'crit')]
>>> logs["message"][0], str(logs["time"][0])
('Invalid user webmaster from 173.234.31.186', '2024-12-10 06:55:46+00:00')
>>> q.records().select("line", "reason").rows()
[(3, 'broken_log_line')]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from mamori.events import reasons
from mamori.events.chunk import rejects
from mamori.events.envelope import Envelope
from mamori.events.quarantine import Quarantine
from mamori.events.textfile import iter_records
from mamori.events.validate import validate

#: A line that fits none of the reader's formats.
BROKEN_LOG_LINE = "broken_log_line"

#: syslog severities by number (PRI modulo 8).
SYSLOG_SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")

_RFC3164 = (
    r"^(?:<(?P<pri>\d{1,3})>)?"
    r"(?P<stamp>[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}) (?P<host>\S+) "
    r"(?P<app>[^\s:\[]+(?: [\d.]+)?)(?:\[(?P<pid>\d+)\])?: ?(?P<message>.*)$"
)
_RFC5424 = (
    r"^<(?P<pri>\d{1,3})>1 (?P<stamp>\S+) (?P<host>\S+) (?P<app>\S+) (?P<pid>\S+) \S+ "
    r"(?:-|(?:\[(?:[^\]\\]|\\.)*\])+) ?(?P<message>.*)$"
)
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}

#: A parser turns a block of lines (`_line`, `_raw`, `text`) into parsed columns, with
#: null `time` and `message` where the line did not fit.
Parser = Callable[[pl.DataFrame], pl.DataFrame]


def nil(column: str) -> pl.Expr:
    """A header field, null where the line leaves it out (empty or RFC 5424's ``-``)."""
    value = pl.col(column)
    return pl.when(value.is_in(["", "-"])).then(None).otherwise(value).alias(column)


class SyslogParser:
    """Parses blocks of syslog lines; keeps the year across blocks of one file."""

    def __init__(self, year: int | None = None) -> None:
        self.year = datetime.now(UTC).year if year is None else year
        self._last_month: int | None = None

    def __call__(self, lines: pl.DataFrame) -> pl.DataFrame:
        text = pl.col("text")
        both = lines.select(
            bsd=text.str.extract_groups(_RFC3164), new=text.str.extract_groups(_RFC5424)
        )
        is_new = pl.col("new").struct.field("stamp").is_not_null()

        def field(name: str) -> pl.Expr:
            new, bsd = pl.col("new").struct.field(name), pl.col("bsd").struct.field(name)
            return pl.when(is_new).then(new).otherwise(bsd).alias(name)

        parsed = both.select(
            *(field(c) for c in ("pri", "host", "app", "pid", "message")),
            _bsd=pl.when(~is_new).then(pl.col("bsd").struct.field("stamp")),
            _new=pl.when(is_new).then(pl.col("new").struct.field("stamp")),
        ).with_columns(nil("host"), nil("app"), nil("pid"))
        new_time = parsed["_new"].str.to_datetime(time_zone="UTC", strict=False, time_unit="us")
        times = new_time.fill_null(self._bsd_times(parsed["_bsd"])).alias("time")
        severity = pl.col("pri").cast(pl.Int64, strict=False) % 8
        return parsed.with_columns(
            time=times,
            severity=severity.replace_strict(
                dict(enumerate(SYSLOG_SEVERITIES)), default=None, return_dtype=pl.String
            ),
            pid=pl.col("pid").cast(pl.Int64, strict=False),
        ).drop("pri", "_bsd", "_new")

    def _bsd_times(self, stamps: pl.Series) -> pl.Series:
        """RFC 3164 stamps (no year) as UTC times, the year turning where months fall back."""
        parts = stamps.str.extract_groups(r"^(\w{3}) +(\d{1,2}) (\d{2}:\d{2}:\d{2})$").struct
        month = parts.field("1").replace_strict(_MONTHS, default=None, return_dtype=pl.Int64)
        seen = pl.Series([self._last_month], dtype=pl.Int64).append(month).forward_fill()
        turns = (seen.diff() < -6).fill_null(False).cum_sum().slice(1)
        if seen.len() and seen[-1] is not None:
            self._last_month = int(seen[-1])
        years = turns + self.year
        if turns.len():
            self.year += int(turns[-1])
        text = pl.select(
            pl.concat_str(
                [years.cast(pl.String), month.cast(pl.String), parts.field("2"), parts.field("3")],
                separator=" ",
            )
        ).to_series()
        return text.str.to_datetime("%Y %m %d %H:%M:%S", time_zone="UTC", strict=False)


def iter_log_lines(
    path: Path | str,
    parse: Parser,
    *,
    tenant: str,
    quarantine: Quarantine,
    now: datetime | None = None,
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """(events, extra) per block of a text log: `parse` gives the parsed columns, the
    envelope is filled, lines that did not fit are quarantined. `extra` holds every
    column `parse` returned beyond the `log` kind's (such as a label), with `event_id`."""
    name = str(path)
    envelope = Envelope(tenant, f"file:{Path(path).name}")
    now = now or datetime.now(UTC)
    for block in iter_records(path, quoted=False):
        lines = pl.DataFrame(
            {"_line": block.line, "_raw": block.raw()}
        ).with_columns(
            text=pl.col("_raw").cast(pl.String, strict=False).str.strip_chars_end("\r\n")
        )
        parsed = pl.concat([lines.select("_line", "_raw"), parse(lines)], how="horizontal")
        broken = parsed["message"].is_null()
        untimed = ~broken & parsed["time"].is_null()
        for mask, reason, detail in (
            (broken, BROKEN_LOG_LINE, "not a line of this log format"),
            (untimed, reasons.UNPARSEABLE_TIME, "the time in the header is not a date"),
        ):
            if mask.any():
                quarantine.add(name, rejects(parsed.filter(mask), reason, detail), "log")
        good = parsed.filter(~broken & ~untimed)
        extra = [c for c in good.columns if c not in _LOG_COLUMNS and c not in ("_line", "_raw")]
        accepted, rejected = validate(good.drop(extra), "log", now=now)
        quarantine.add(name, rejected, "log")
        if accepted.height == 0:
            continue
        events = envelope.fill(accepted.drop("_line", "_raw", strict=False), "log")
        kept = good.join(rejected.select("_line"), on="_line", how="anti", maintain_order="left")
        yield events, pl.concat([events.select("event_id"), kept.select(extra)], how="horizontal")


_LOG_COLUMNS = frozenset({"time", "host", "app", "pid", "severity", "message"})


def iter_syslog(
    path: Path | str,
    *,
    tenant: str = "default",
    year: int | None = None,
    quarantine: Quarantine | None = None,
    now: datetime | None = None,
) -> Iterator[pl.DataFrame]:
    """Batches of the `log` kind from a syslog or auth.log file (see the module docstring);
    rejects go to `quarantine` (an in-memory one when none is given)."""
    q = quarantine if quarantine is not None else Quarantine()
    parser = SyslogParser(year)
    for events, _ in iter_log_lines(path, parser, tenant=tenant, quarantine=q, now=now):
        yield events
