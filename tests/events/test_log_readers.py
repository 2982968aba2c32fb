"""Syslog and loghub readers: real sample lines, quarantine with line numbers, BGL labels
kept out of the events."""

from datetime import UTC, datetime

import polars as pl
import pytest

from mamori.events.loghub import format_of, read_loghub
from mamori.events.quarantine import Quarantine
from mamori.events.syslog import iter_syslog


def write(tmp_path, name, lines):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_rfc3164_auth_log_lines_and_quarantine_with_line_numbers(tmp_path):
    path = write(
        tmp_path,
        "auth.log",
        [
            "Jan  5 10:00:01 bastion1 sshd[811]: Failed password for root from 203.0.113.9 "
            "port 4022 ssh2",
            "not a syslog line",
            "<86>Jan  5 10:00:02 bastion1 sudo: alice : TTY=pts/0 ; COMMAND=/bin/ls",
            "Foo 32 10:00:03 bastion1 cron[1]: bad month",
        ],
    )
    q = Quarantine()
    logs = pl.concat(iter_syslog(path, tenant="bank-a", year=2026, quarantine=q))
    assert logs.select("host", "app", "pid", "severity").rows() == [
        ("bastion1", "sshd", 811, None),
        ("bastion1", "sudo", None, "info"),
    ]
    assert logs["time"].to_list()[0] == datetime(2026, 1, 5, 10, 0, 1, tzinfo=UTC)
    assert logs["message"][1] == "alice : TTY=pts/0 ; COMMAND=/bin/ls"
    assert (logs["kind"] == "log").all() and (logs["tenant"] == "bank-a").all()
    assert q.records().select("line", "reason").rows() == [
        (2, "broken_log_line"),
        (4, "unparseable_time"),
    ]
    assert logs.height + q.count == 4


def test_rfc5424_lines_with_structured_data_and_nil_fields(tmp_path):
    path = write(
        tmp_path,
        "gw.log",
        [
            '<165>1 2026-03-01T22:14:15.003+01:00 gw1.bank evntslog - ID47 '
            '[exampleSDID@32473 iut="3" eventSource="App"] payment gateway restarted',
            "<11>1 2026-03-01T21:15:00Z - core 4242 - - disk full",
        ],
    )
    logs = pl.concat(iter_syslog(path, year=2026))
    assert logs.select("host", "app", "pid", "severity", "message").rows() == [
        ("gw1.bank", "evntslog", None, "notice", "payment gateway restarted"),
        (None, "core", 4242, "err", "disk full"),
    ]
    assert logs["time"][0] == datetime(2026, 3, 1, 21, 14, 15, 3000, tzinfo=UTC)


def test_year_turns_when_months_fall_back(tmp_path):
    path = write(
        tmp_path,
        "messages",
        ["Dec 31 23:59:59 h app: last", "Jan  1 00:00:01 h app: first"],
    )
    years = [t.year for t in pl.concat(iter_syslog(path, year=2025))["time"]]
    assert years == [2025, 2026]


def test_identical_lines_get_distinct_stable_ids(tmp_path):
    path = write(tmp_path, "auth.log", ["Jan  5 10:00:01 h sshd[1]: x"] * 2)
    first = pl.concat(iter_syslog(path, year=2026))["event_id"].to_list()
    again = pl.concat(iter_syslog(path, year=2026))["event_id"].to_list()
    assert first == again and first[0] != first[1]


@pytest.mark.parametrize(
    ("name", "hosts", "apps"),
    [
        ("OpenSSH_2k.log", {"LabSZ"}, {"sshd"}),
        ("Linux_2k.log", {"combo"}, {"sshd(pam_unix)", "ftpd", "kernel"}),
        ("Apache_2k.log", {None}, {"apache"}),
    ],
)
def test_loghub_samples_read_whole(data_root, name, hosts, apps):
    read = read_loghub(data_root / "logs" / "loghub" / name, year=2005)
    assert read.read == 2000
    assert set(read.events["host"].unique().to_list()) == hosts
    assert apps <= set(read.events["app"].unique().to_list())
    assert read.events["time"].null_count() == 0
    assert read.events["message"].null_count() == 0


def test_linux_sample_quarantines_its_one_malformed_line(data_root):
    read = read_loghub(data_root / "logs" / "loghub" / "Linux_2k.log", year=2005)
    bad = read.quarantine.records()
    assert bad.select("line", "reason").rows() == [(899, "broken_log_line")]
    assert "-- root[2421]" in bad["record"][0]


def test_bgl_label_is_split_off_and_never_a_feature(data_root):
    read = read_loghub(data_root / "logs" / "loghub" / "BGL_2k.log")
    assert read.events.height == 2000 and read.quarantine.count == 0
    labels = read.labels
    assert labels["event_id"].to_list() == read.events["event_id"].to_list()
    assert int(labels["anomalous"].sum()) == 143
    assert set(labels.filter(~pl.col("anomalous"))["label"].unique()) == {"-"}
    # no event column carries the label token
    for column in ("message", "host", "app", "severity"):
        values = read.events[column].drop_nulls()
        assert not values.str.starts_with("KERNDTLB").any()
        assert not values.str.starts_with("- ").any()
    first = read.events.row(0, named=True)
    assert (first["host"], first["app"], first["severity"]) == (
        "R02-M1-N0-C:J12-U11",
        "KERNEL",
        "info",
    )
    assert first["message"] == "instruction cache parity error corrected"


def test_format_of_refuses_unknown_names():
    assert format_of("x/OpenSSH_2k.log") == "openssh"
    with pytest.raises(ValueError, match="loghub format"):
        format_of("mystery.log")
