"""Windows events as Winlogbeat, NXLog, OTRF/Mordor and evtx_dump JSON: one native shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from mamori.events.readers import UnknownKindError, read_path

NOW = datetime(2024, 6, 1, tzinfo=UTC)
GUID = "{54849625-5478-4994-a5ba-3e3b0328c30d}"
LOGON = {  # the EventData of one 4624 (network logon from a workstation)
    "SubjectUserSid": "S-1-0-0",
    "SubjectUserName": "-",
    "TargetUserSid": "S-1-5-21-3623811015-3361044348-30300820-1013",
    "TargetUserName": "j.tanaka",
    "TargetDomainName": "BANK",
    "TargetLogonId": "0x3e7a2f1",
    "LogonType": "3",
    "LogonProcessName": "NtLmSsp ",
    "AuthenticationPackageName": "NTLM",
    "WorkstationName": "WS-0142",
    "IpAddress": "10.20.4.142",
    "IpPort": "49832",
}

WINLOGBEAT_8 = {
    "@timestamp": "2024-05-01T10:00:00.123Z",
    "agent": {"type": "winlogbeat", "version": "8.13.2"},
    "event": {"code": "4624", "kind": "event", "provider": "Microsoft-Windows-Security-Auditing"},
    "host": {"name": "dc01.bank.local"},
    "log": {"level": "information"},
    "message": "An account was successfully logged on.",
    "winlog": {
        "api": "wineventlog",
        "channel": "Security",
        "computer_name": "DC01.bank.local",
        "event_id": "4624",
        "provider_name": "Microsoft-Windows-Security-Auditing",
        "provider_guid": GUID,
        "record_id": 8812931,
        "process": {"pid": 636, "thread": {"id": 4120}},
        "keywords": ["Audit Success"],
        "opcode": "Info",
        "task": "Logon",
        "event_data": LOGON,
    },
}
WINLOGBEAT_7 = {  # event_id a number, LogonType too
    **WINLOGBEAT_8,
    "winlog": {
        **WINLOGBEAT_8["winlog"],  # type: ignore[dict-item]
        "event_id": 4624,
        "event_data": {**LOGON, "LogonType": 3},
    },
}
NXLOG = {
    "EventTime": "2024-05-01T12:00:00.123+02:00",
    "Hostname": "DC01.bank.local",
    "Keywords": "-9214364837600034816",
    "EventType": "AUDIT_SUCCESS",
    "SeverityValue": 2,
    "Severity": "INFO",
    "EventID": 4624,
    "SourceName": "Microsoft-Windows-Security-Auditing",
    "ProviderGuid": GUID,
    "Version": 2,
    "Task": 12544,
    "OpcodeValue": 0,
    "RecordNumber": 8812931,
    "ExecutionProcessID": 636,
    "ExecutionThreadID": 4120,
    "Channel": "Security",
    "Message": "An account was successfully logged on.",
    "Category": "Logon",
    "Opcode": "Info",
    **LOGON,
    "EventReceivedTime": "2024-05-01T12:00:01.004+02:00",
    "SourceModuleName": "eventlog",
    "SourceModuleType": "im_msvistalog",
}
MORDOR = {  # NXLog through Logstash: @timestamp in UTC, EventTime the host's local time
    **{k: v for k, v in NXLOG.items() if k != "EventTime"},
    "@timestamp": "2024-05-01T10:00:00.123Z",
    "@version": "1",
    "EventTime": "2024-05-01 12:00:00",
    "host": "wec.internal.cloudapp.net",
    "port": 60032,
    "tags": ["mordorDataset"],
}
EVTX_DUMP = {
    "Event": {
        "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
        "System": {
            "Provider": {
                "#attributes": {"Name": "Microsoft-Windows-Security-Auditing", "Guid": GUID}
            },
            "EventID": 4624,
            "Version": 2,
            "TimeCreated": {"#attributes": {"SystemTime": "2024-05-01T10:00:00.123000Z"}},
            "EventRecordID": 8812931,
            "Execution": {"#attributes": {"ProcessID": 636, "ThreadID": 4120}},
            "Channel": "Security",
            "Computer": "DC01.bank.local",
        },
        "EventData": {**LOGON, "LogonType": 3},
    }
}
PATHS = {"Image": r"C:\Windows\System32\cmd.exe", "CommandLine": r'"C:\x y\a.exe" /c "q"'}
SHAPES = {
    "winlogbeat8": WINLOGBEAT_8,
    "winlogbeat7": WINLOGBEAT_7,
    "nxlog": NXLOG,
    "mordor": MORDOR,
    "evtx_dump": EVTX_DUMP,
}
NATIVE = [
    "time",
    "EventID",
    "Channel",
    "Computer",
    "EventRecordID",
    "Provider_Name",
    "Provider_Guid",
    "ExecutionProcessID",
    "ExecutionThreadID",
    *LOGON,
]
EXPECTED = {
    "time": datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC),
    "EventID": 4624,
    "Channel": "Security",
    "Computer": "DC01.bank.local",
    "EventRecordID": 8812931,
    "Provider_Name": "Microsoft-Windows-Security-Auditing",
    "Provider_Guid": GUID,
    "ExecutionProcessID": "636",
    "ExecutionThreadID": "4120",
    **LOGON,
    "LogonType": 3,
}


def read(path: Path, **kwargs: object) -> pl.DataFrame:
    run = read_path(path, tenant="bank-a", now=NOW, **kwargs)  # type: ignore[arg-type]
    batches = list(run)
    assert run.summary.quarantined == 0, run.quarantine.records().to_dicts()
    assert run.summary.read == run.summary.accepted
    return pl.concat(batches, how="diagonal_relaxed")


def write(path: Path, records: list[dict[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_each_shape_gives_the_native_record(tmp_path: Path, shape: str) -> None:
    frame = read(write(tmp_path / f"{shape}.jsonl", [SHAPES[shape]]), kind="winlog")
    row = frame.row(0, named=True)
    assert {name: row[name] for name in NATIVE} == EXPECTED
    assert frame["kind"][0] == "winlog" and frame["source"][0] == f"file:{shape}.jsonl"
    consumed = {"winlog", "@timestamp", "Hostname", "SourceName", "RecordNumber", "Event"}
    assert not consumed & set(frame.columns)


def test_one_file_may_mix_shapes_and_needs_no_kind(tmp_path: Path) -> None:
    path = write(tmp_path / "mixed.jsonl", [SHAPES[s] for s in sorted(SHAPES)])
    by_kind = read(path, kind="winlog")
    sniffed = read(path)  # no kind argument, field or folder: the records look like Windows
    in_folder = read(write(tmp_path / "winlog" / "mixed.jsonl", [SHAPES[s] for s in SHAPES]))
    for frame in (by_kind, sniffed, in_folder):
        assert frame.height == len(SHAPES)
        assert frame.select(NATIVE).unique().to_dicts() == [EXPECTED]
    assert by_kind["event_id"].to_list() == sniffed["event_id"].to_list()


def test_shipper_extras_are_kept_as_text(tmp_path: Path) -> None:
    frame = read(write(tmp_path / "m.jsonl", [MORDOR, WINLOGBEAT_8]), kind="winlog")
    assert frame["Message"][0] == "An account was successfully logged on."
    assert frame["SeverityValue"][0] == "2"
    assert json.loads(frame["host"][1]) == {"name": "dc01.bank.local"}


def test_sysmon_process_creation_from_winlogbeat(tmp_path: Path) -> None:
    sysmon = {
        "@timestamp": "2024-05-01T10:05:00.5Z",
        "winlog": {
            "channel": "Microsoft-Windows-Sysmon/Operational",
            "computer_name": "WS-0142.bank.local",
            "event_id": 1,
            "provider_name": "Microsoft-Windows-Sysmon",
            "record_id": 5531,
            "user": {"identifier": "S-1-5-18", "name": "SYSTEM", "domain": "NT AUTHORITY"},
            "event_data": {
                "Image": r"C:\Windows\System32\rundll32.exe",
                "CommandLine": r"rundll32.exe C:\Users\Public\x.dll,Start",
                "ParentImage": r"C:\Windows\explorer.exe",
                "User": r"BANK\j.tanaka",
                "Hashes": "SHA256=0F3A...",
            },
        },
    }
    row = read(write(tmp_path / "s.jsonl", [sysmon])).row(0, named=True)
    assert (row["EventID"], row["Image"], row["UserID"]) == (
        1,
        r"C:\Windows\System32\rundll32.exe",
        "S-1-5-18",
    )
    assert row["CommandLine"] == r"rundll32.exe C:\Users\Public\x.dll,Start"


def test_native_records_pass_unchanged_and_other_records_still_need_a_kind(
    tmp_path: Path,
) -> None:
    native = {"time": "2024-05-01T10:00:00Z", "EventID": 4688, "Computer": "ws1", "X": "y"}
    row = read(write(tmp_path / "n.jsonl", [native]), kind="winlog").row(0, named=True)
    assert (row["EventID"], row["Computer"], row["X"]) == (4688, "ws1", "y")
    with pytest.raises(UnknownKindError):
        list(read_path(write(tmp_path / "tx.jsonl", [{"time": "2024-05-01", "amount": 5}])))


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_backslashes_and_quotes_survive(tmp_path: Path, shape: str) -> None:
    record = json.loads(json.dumps(SHAPES[shape]))
    if "winlog" in record:
        record["winlog"]["event_data"].update(PATHS)
    elif "Event" in record:
        record["Event"]["EventData"].update(PATHS)
    else:
        record.update(PATHS)
    row = read(write(tmp_path / "p.jsonl", [record]), kind="winlog").row(0, named=True)
    assert {name: row[name] for name in PATHS} == PATHS


def test_a_payload_field_may_not_overwrite_the_envelope(tmp_path: Path) -> None:
    odd = {**WINLOGBEAT_8, "winlog": {**WINLOGBEAT_8["winlog"], "event_data": {"kind": "flow"}}}  # type: ignore[dict-item]
    row = read(write(tmp_path / "o.jsonl", [odd])).row(0, named=True)
    assert (row["kind"], row["EventData_kind"]) == ("winlog", "flow")


def test_a_field_whose_json_type_changes_between_lines_is_read_as_text(tmp_path: Path) -> None:
    """Shippers disagree on types: one sends ``"User": 18``, another ``true`` or an object.
    Every line is still accepted (no line lost, none failing the whole file), as text."""
    base = {"time": "2024-05-01T10:00:00Z", "Channel": "Security", "EventID": 4624,
            "Computer": "WS-1"}
    values = [1.5, True, {"Name": "alice"}, 18, None, "bob", [1, 2]]
    lines = [{**base, "EventRecordID": i, "SubjectUserName": v, "Description": [2.5, False][i % 2]}
             for i, v in enumerate(values)]  # fmt: skip
    path = write(tmp_path / "mixed-types.jsonl", lines)
    says = write(tmp_path / "says.jsonl", [{**line, "kind": "winlog"} for line in lines])
    for frame in (read(path, kind="winlog"), read(path), read(says)):  # asked, sniffed, said
        assert frame.height == len(values)
        got = frame.sort("EventRecordID")["SubjectUserName"].to_list()
        assert got[:2] == ["1.5", "true"] and got[3:6] == ["18", None, "bob"]
        assert json.loads(got[2]) == {"Name": "alice"} and json.loads(got[6]) == [1, 2]
        assert frame.sort("EventRecordID")["Description"].to_list()[:2] == ["2.5", "false"]
