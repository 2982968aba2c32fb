"""EVTX reader: real EVTX-ATTACK-SAMPLES logs, field flattening, damage, stable ids."""

from __future__ import annotations

import shutil
import struct
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from evtx import PyEvtxParser

from mamori.events.evtx import CHUNK_SIZE, HEADER_SIZE, flatten_event, scan_chunks
from mamori.events.readers import SOURCE_FILE, ReadRun, read_path

NOW = datetime(2026, 1, 1, tzinfo=UTC)
#: A multi-chunk log (16 chunks, 1,537 records: Sysmon, BITS, OpenVPN).
MULTI_CHUNK = "Command and Control/bits_openvpn.evtx"


def read(path: Path, **kwargs: object) -> tuple[pl.DataFrame, ReadRun]:
    run = read_path(path, tenant="bank-a", now=NOW, **kwargs)  # type: ignore[arg-type]
    batches = list(run)
    summary = run.summary
    assert summary.read == summary.accepted + summary.quarantined
    for counts in summary.files.values():
        assert counts.read == counts.accepted + counts.quarantined
    frame = pl.concat(batches, how="diagonal_relaxed") if batches else pl.DataFrame()
    return frame, run


def parser_count(path: Path) -> int:
    return sum(1 for _ in PyEvtxParser(str(path)).records_json())


@pytest.fixture(scope="module")
def evtx_root(data_root: Path) -> Path:
    root = data_root / "evtx"
    if not root.is_dir():
        pytest.skip(f"no EVTX samples at {root}")
    return root


@pytest.fixture(scope="module")
def everything(evtx_root: Path) -> tuple[pl.DataFrame, ReadRun]:
    return read(evtx_root)


def test_every_file_reads_with_the_parsers_record_count(
    evtx_root: Path, everything: tuple[pl.DataFrame, ReadRun]
) -> None:
    frame, run = everything
    files = sorted(evtx_root.rglob("*.evtx"))
    expected = {str(f): parser_count(f) for f in files}
    assert len(files) == 277
    assert not run.summary.failed and not run.summary.skipped
    assert {name: c.read for name, c in run.summary.files.items()} == expected
    assert run.summary.accepted == frame.height == sum(expected.values()) == 8255
    # 18 files carry preallocated, zeroed chunk slots past the chunks their header counts:
    # that is how Windows grows a log, not damage, and nothing is reported for it.
    assert run.summary.quarantined == 0
    assert frame["kind"].unique().to_list() == ["winlog"]
    # Ids do not depend on the file: the few events that two sample files share (the same
    # log exported twice) get one id, and are the same event.
    assert frame.group_by(SOURCE_FILE).agg(pl.col("event_id").is_unique().all())["event_id"].all()
    shared = frame.filter(pl.col("event_id").is_duplicated())
    assert 0 < shared.height < 30
    same = ["event_id", "Computer", "EventRecordID", "EventID", "time"]
    assert shared.select(same).unique().height == shared["event_id"].n_unique()


def test_system_fields_are_flat_and_typed(everything: tuple[pl.DataFrame, ReadRun]) -> None:
    frame, _ = everything
    assert frame.schema["EventID"] == pl.Int32
    assert frame.schema["EventRecordID"] == pl.Int64
    assert frame.schema["LogonType"] == pl.Int32
    assert frame["EventID"].null_count() == 0
    assert frame["Computer"].null_count() == 0
    assert frame["time"].null_count() == 0
    channels = set(frame["Channel"].drop_nulls())
    assert {"Security", "System", "Microsoft-Windows-Sysmon/Operational"} <= channels
    # EventID given as {"#text": 7045, "#attributes": {"Qualifiers": 16384}}
    services = frame.filter(pl.col("EventID") == 7045, pl.col("Provider_Name").is_not_null())
    assert services.height > 0 and set(services["Qualifiers"]) == {"16384"}


def test_sysmon_process_creation(evtx_root: Path) -> None:
    frame, _ = read(evtx_root / "Execution" / "exec_sysmon_1_ftp.evtx")
    row = frame.filter(pl.col("EventRecordID") == 16511).row(0, named=True)
    assert row["EventID"] == 1
    assert row["Channel"] == "Microsoft-Windows-Sysmon/Operational"
    assert row["Provider_Name"] == "Microsoft-Windows-Sysmon"
    assert row["Computer"] == "IEWIN7"
    assert row["Image"] == r"C:\Windows\System32\cmd.exe"
    assert row["CommandLine"] == '"C:\\Windows\\system32\\cmd.exe" '
    assert row["UserID"] == "S-1-5-18"
    assert row["time"] == datetime(2019, 5, 12, 17, 20, 1, 980574, tzinfo=UTC)
    assert row["source"] == "evtx:exec_sysmon_1_ftp.evtx"
    assert row[SOURCE_FILE].endswith("Execution/exec_sysmon_1_ftp.evtx")


def test_security_logon(evtx_root: Path) -> None:
    path = evtx_root / "Lateral Movement" / "LM_4624_mimikatz_sekurlsa_pth_source_machine.evtx"
    frame, _ = read(path)
    logon = frame.filter(pl.col("EventID") == 4624).row(0, named=True)
    assert (logon["TargetUserName"], logon["LogonType"], logon["IpAddress"]) == ("user01", 9, "::1")
    assert (logon["Channel"], logon["Computer"]) == ("Security", "PC01.example.corp")
    assert logon["EventRecordID"] == 432903
    assert logon["Provider_Name"] == "Microsoft-Windows-Security-Auditing"


def test_ids_are_stable_and_do_not_depend_on_the_file_name(evtx_root: Path, tmp_path: Path) -> None:
    path = evtx_root / MULTI_CHUNK
    first, _ = read(path)
    again, _ = read(path)
    assert first["event_id"].to_list() == again["event_id"].to_list()
    renamed = tmp_path / "renamed.evtx"
    shutil.copy(path, renamed)
    moved, _ = read(renamed)
    assert moved["event_id"].to_list() == first["event_id"].to_list()
    assert moved["source"][0] == "evtx:renamed.evtx"


def damaged_copy(src: Path, dst: Path, chunk: int, lo: int = 0, hi: int = CHUNK_SIZE) -> Path:
    """A copy of `src` with bytes lo..hi of chunk `chunk` zeroed."""
    data = bytearray(src.read_bytes())
    start = HEADER_SIZE + chunk * CHUNK_SIZE
    data[start + lo : start + hi] = bytes(hi - lo)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(bytes(data))
    return dst


def chunk_ids(path: Path, chunk: int) -> range:
    head = path.read_bytes()[HEADER_SIZE + chunk * CHUNK_SIZE :][:40]
    first, last = struct.unpack_from("<QQ", head, 24)
    return range(first, last + 1)


def test_a_zeroed_chunk_is_quarantined_record_by_record(evtx_root: Path, tmp_path: Path) -> None:
    src = evtx_root / MULTI_CHUNK
    lost = chunk_ids(src, 3)
    bad = damaged_copy(src, tmp_path / "logs" / "zeroed.evtx", chunk=3)
    shutil.copy(evtx_root / "Execution" / "exec_sysmon_1_ftp.evtx", tmp_path / "logs")
    frame, run = read(tmp_path / "logs")

    assert [[c.problem for c in run] for run in scan_chunks(bad).damaged()] == [["zeroed"]]
    counts = run.summary.files[str(bad)]
    assert (counts.read, counts.accepted) == (1537, 1537 - len(lost))
    assert dict(counts.by_reason) == {"corrupt_chunk": len(lost)}
    assert run.summary.files[str(tmp_path / "logs" / "exec_sysmon_1_ftp.evtx")].accepted == 4
    q = run.quarantine.records()
    assert q["line"].to_list() == list(lost)  # the lost records' EventRecordIDs
    assert set(q["file"]) == {str(bad)}
    assert (
        q["detail"][0]
        == f"chunk 3 at byte {HEADER_SIZE + 3 * CHUNK_SIZE}: zeroed (92 records lost)"
    )
    assert not frame.filter(pl.col("EventRecordID").is_in(list(lost))).height


def test_a_record_the_parser_fails_on_loses_the_rest_of_its_chunk(
    evtx_root: Path, tmp_path: Path
) -> None:
    src = evtx_root / MULTI_CHUNK
    lost = chunk_ids(src, 5)
    bad = damaged_copy(src, tmp_path / "partial.evtx", chunk=5, lo=600, hi=5000)
    frame, run = read(bad)
    assert run.summary.accepted == frame.height == 1537 - len(lost)
    assert dict(run.summary.by_reason) == {"corrupt_record": len(lost)}
    detail = run.quarantine.records()["detail"][0]
    assert detail.startswith("chunk 5 at byte") and f"record number {lost[0]}" in detail


def test_a_truncated_file_reports_its_missing_chunks(evtx_root: Path, tmp_path: Path) -> None:
    src = evtx_root / MULTI_CHUNK
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(src.read_bytes()[: HEADER_SIZE + 14 * CHUNK_SIZE + 100])
    frame, run = read(cut)
    lost = range(chunk_ids(src, 14)[0], chunk_ids(src, 15)[-1] + 1)
    assert run.summary.read == 1537 and frame.height == 1537 - len(lost)
    assert dict(run.summary.by_reason) == {"corrupt_chunk": len(lost)}
    detail = run.quarantine.records()["detail"][0]
    assert detail.startswith(f"chunks 14-15 at byte {HEADER_SIZE + 14 * CHUNK_SIZE}: truncated")


def test_a_file_that_is_not_evtx_fails_alone(evtx_root: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.evtx").write_text("this is not an event log\n" * 10)
    shutil.copy(evtx_root / "Execution" / "exec_sysmon_1_ftp.evtx", tmp_path)
    frame, run = read(tmp_path)
    assert frame.height == 4
    assert list(run.summary.failed) == [str(tmp_path / "notes.evtx")]
    assert "not an EVTX file" in run.summary.failed[str(tmp_path / "notes.evtx")]


def test_an_evtx_file_in_a_read_for_another_kind_is_quarantined(
    evtx_root: Path, tmp_path: Path
) -> None:
    shutil.copy(evtx_root / "Execution" / "exec_sysmon_1_ftp.evtx", tmp_path)
    frame, run = read(tmp_path, kind="flow")
    assert frame.height == 0 and dict(run.summary.by_reason) == {"kind_mismatch": 4}


def test_flatten_payload_shapes() -> None:
    system = {"EventID": 800, "Channel": "Windows PowerShell", "Computer": "ws1"}
    classic = flatten_event({"System": system, "EventData": {"Data": {"#text": ["a", "b"]}}})
    assert classic["Data"] == "a\nb"
    user = flatten_event(
        {
            "System": system,
            "UserData": {
                "LogFileCleared": {
                    "#attributes": {"xmlns": "x"},
                    "SubjectUserName": "IEUser",
                    "SubjectLogonId": "0x1371b",
                }
            },
        }
    )
    assert (user["SubjectUserName"], user["SubjectLogonId"]) == ("IEUser", "0x1371b")
    clash = flatten_event(
        {"System": system, "EventData": {"Channel": "x", "kind": "y", "b": False}}
    )
    assert (clash["Channel"], clash["EventData_Channel"], clash["EventData_kind"]) == (
        "Windows PowerShell",
        "x",
        "y",
    )
    assert clash["b"] == "false"
