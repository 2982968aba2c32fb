"""Readers: formats, kinds, envelope, stable ids, quarantine and the summary's counts."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from mamori.events.quarantine import Quarantine
from mamori.events.readers import (
    ReadSummary,
    UnknownKindError,
    UnsupportedFormatError,
    read_path,
)
from mamori.events.schema import schema

NOW = datetime(2024, 6, 1, tzinfo=UTC)
T0 = "2024-05-01T10:00:00Z"


def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
    return path


def tx(**fields: object) -> str:
    return json.dumps({"time": T0, "amount": 10.0, "currency": "EUR", **fields})


def read_all(path: Path, **kwargs: object) -> tuple[list[pl.DataFrame], ReadSummary, Quarantine]:
    kwargs.setdefault("now", NOW)
    run = read_path(path, **kwargs)  # type: ignore[arg-type]
    batches = list(run)
    assert run.summary.read == run.summary.accepted + run.summary.quarantined
    for counts in run.summary.files.values():
        assert counts.read == counts.accepted + counts.quarantined
    return batches, run.summary, run.quarantine


def test_each_bad_record_is_quarantined_with_its_line_and_reason(tmp_path: Path) -> None:
    lines = [
        tx(account="A1"),  # 1 ok
        '{"time": "2024-05-01T10:00:00Z", "amount": ',  # 2
        "[1, 2]",  # 3
        json.dumps({"amount": 5}),  # 4
        tx(time="soon"),  # 5
        tx(time="1980-01-01T00:00:00Z"),  # 6
        tx(time="2024-06-03T00:00:00Z"),  # 7: more than a day after NOW
        tx(amount="abc"),  # 8
        tx(amount=-5),  # 9
        tx(currency="eur"),  # 10
        tx(kind="flow"),  # 11
        "",  # 12: blank, no record
        tx(amount="inf"),  # 13: not finite
        tx(account="A1"),  # 14 ok, a duplicate of line 1
    ]
    path = write_lines(tmp_path / "tx.jsonl", lines)
    qfile = tmp_path / "q" / "quarantine.jsonl"
    batches, summary, q = read_all(path, kind="transaction", quarantine=Quarantine(qfile))

    expected = [
        (2, "broken_json"),
        (3, "not_an_object"),
        (4, "missing_time"),
        (5, "unparseable_time"),
        (6, "time_out_of_range"),
        (7, "time_out_of_range"),
        (8, "wrong_type"),
        (9, "bad_value"),
        (10, "bad_value"),
        (11, "kind_mismatch"),
        (13, "bad_value"),
    ]
    written = [json.loads(line) for line in qfile.read_text().splitlines()]
    assert sorted((r["line"], r["reason"]) for r in written) == expected
    assert {r["file"] for r in written} == {str(path)}
    by_line = {r["line"]: r for r in written}
    assert by_line[8]["detail"] == 'amount="abc": not a number'
    assert by_line[8]["record"] == lines[7]
    assert by_line[8]["kind"] == "transaction"
    assert by_line[2]["record"] == lines[1]
    assert (summary.read, summary.accepted, summary.quarantined) == (13, 2, 11)
    assert summary.by_reason == {
        "broken_json": 1, "not_an_object": 1, "missing_time": 1, "unparseable_time": 1,
        "time_out_of_range": 2, "wrong_type": 1, "bad_value": 3, "kind_mismatch": 1,
    }  # fmt: skip
    assert q.count == 11 and q.by_reason == summary.by_reason
    assert sum(b.height for b in batches) == 2


def test_many_broken_lines_in_one_chunk_are_found_exactly(tmp_path: Path) -> None:
    bad = {7, 50, 51, 333, 999}
    lines = [
        '{"time": "2024-05-01T10:00:00Z", "amount": 1,,}' if i in bad else tx(account=f"A{i}")
        for i in range(1, 1001)
    ]
    path = write_lines(tmp_path / "tx.jsonl", lines)
    batches, summary, q = read_all(path, kind="transaction")
    assert sorted(q.records()["line"].to_list()) == sorted(bad)
    assert summary.accepted == 995
    accounts = pl.concat(batches)["account"].to_list()
    assert accounts == [f"A{i}" for i in range(1, 1001) if i not in bad]


def test_batches_conform_and_envelope_is_filled(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "tx.jsonl",
        [tx(account="A1"), tx(account="A2", tenant="bank-b", source="core", event_id="e-1")],
    )
    (batch,) = read_all(path, kind="transaction", tenant="bank-a")[0]
    assert batch.schema == pl.Schema(schema("transaction"))
    assert batch["tenant"].to_list() == ["bank-a", "bank-b"]
    assert batch["source"].to_list() == ["file:tx.jsonl", "core"]
    assert batch["event_id"][1] == "e-1"
    assert len(batch["event_id"][0]) == 32
    assert batch["kind"].to_list() == ["transaction", "transaction"]


def test_ids_are_stable_and_duplicates_get_distinct_ids(tmp_path: Path) -> None:
    lines = [tx(account="A1"), tx(account="A2"), tx(account="A1"), tx(account="A1")]
    path = write_lines(tmp_path / "a" / "tx.jsonl", lines)
    first = pl.concat(read_all(path, kind="transaction")[0])["event_id"]
    again = pl.concat(read_all(path, kind="transaction")[0])["event_id"]
    small = pl.concat(read_all(path, kind="transaction", batch_rows=1)[0])["event_id"]
    moved = write_lines(tmp_path / "b" / "renamed.jsonl", lines)
    elsewhere = pl.concat(read_all(moved, kind="transaction")[0])["event_id"]
    assert first.n_unique() == 4
    assert first.to_list() == again.to_list() == small.to_list() == elsewhere.to_list()
    other_tenant = pl.concat(read_all(path, kind="transaction", tenant="x")[0])["event_id"]
    assert set(other_tenant).isdisjoint(first)


def test_same_instant_in_any_time_format_gives_the_same_id(tmp_path: Path) -> None:
    times = [
        "2024-05-01T10:00:00Z",
        "2024-05-01T12:00:00+02:00",
        "2024-05-01T10:00:00.000000+00:00",
        "2024-05-01 10:00:00",
        "2024-05-01T10:00:00",
        1714557600,
        1714557600000,
        "1714557600",
        1714557600.0,
    ]
    path = write_lines(tmp_path / "t.jsonl", [json.dumps({"time": t}) for t in times])
    batches, summary, _ = read_all(path, kind="log")
    batch = pl.concat(batches)
    assert summary.accepted == len(times)
    assert batch["time"].dtype == pl.Datetime("us", "UTC")
    assert set(batch["time"].to_list()) == {datetime(2024, 5, 1, 10, tzinfo=UTC)}
    assert batch["event_id"].n_unique() == len(times)  # same content: told apart by ordinal


def test_fractions_offsets_and_dates(tmp_path: Path) -> None:
    times = ["2024-05-01T10:00:00.123456Z", "2024-05-01T05:30:00.5-04:30", "2024-05-01"]
    path = write_lines(tmp_path / "t.jsonl", [json.dumps({"time": t}) for t in times])
    batch = pl.concat(read_all(path, kind="log")[0])
    assert batch["time"].to_list() == [
        datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC),
        datetime(2024, 5, 1, 10, 0, 0, 500000, tzinfo=UTC),
        datetime(2024, 5, 1, tzinfo=UTC),
    ]


def test_kind_from_the_folder_name(tmp_path: Path) -> None:
    flows = [json.dumps({"time": T0, "src_port": 443, "bytes_out": 10})]
    write_lines(tmp_path / "events" / "flow" / "x.jsonl", flows)
    write_lines(tmp_path / "events" / "kind=auth" / "day=1" / "y.jsonl", [json.dumps({"time": T0})])
    batches, summary, _ = read_all(tmp_path / "events")
    assert [b["kind"][0] for b in batches] == ["flow", "auth"]  # "flow/" sorts before "kind=auth/"
    assert batches[0]["src_port"].to_list() == [443]
    assert summary.accepted == 2


def test_no_kind_anywhere_is_a_clear_error(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "misc" / "x.jsonl", [json.dumps({"time": T0})])
    with pytest.raises(UnknownKindError, match="kind"):
        read_all(path)
    with pytest.raises(ValueError, match="unknown stream kind"):
        read_path(path, kind="trades")


def test_unknown_extension_is_a_clear_error_and_skipped_in_folders(tmp_path: Path) -> None:
    odd = tmp_path / "flow" / "notes.txt"
    odd.parent.mkdir()
    odd.write_text("hello")
    with pytest.raises(UnsupportedFormatError, match="notes.txt"):
        read_path(odd)
    write_lines(tmp_path / "flow" / "a.jsonl", [json.dumps({"time": T0})])
    _, summary, _ = read_all(tmp_path)
    assert summary.skipped == [str(odd)]
    assert summary.accepted == 1


def test_mixed_kind_file_is_split_by_kind(tmp_path: Path) -> None:
    lines = [
        json.dumps({"kind": "transaction", "time": T0, "amount": 1}),
        json.dumps({"kind": "flow", "time": T0, "dst_port": 22}),
        json.dumps({"kind": "transaction", "time": T0, "amount": 2}),
        json.dumps({"kind": "trades", "time": T0}),
        json.dumps({"time": T0}),
        json.dumps({"kind": "winlog", "time": T0, "EventID": 4624, "Extra": {"a": 1}}),
    ]
    path = write_lines(tmp_path / "mixed.jsonl", lines)
    batches, summary, q = read_all(path)
    by_kind = {b["kind"][0]: b for b in batches}
    assert sorted(by_kind) == ["flow", "transaction", "winlog"]
    assert by_kind["transaction"]["amount"].to_list() == [1.0, 2.0]
    assert by_kind["flow"]["dst_port"].to_list() == [22]
    assert by_kind["winlog"]["Extra"].to_list() == ['{"a": 1}']
    assert sorted(q.records().select("line", "reason").rows()) == [
        (4, "unknown_kind"),
        (5, "missing_kind"),
    ]
    for kind, batch in by_kind.items():
        assert list(batch.columns[: len(schema(kind))]) == list(schema(kind))


def test_winlog_keeps_extra_fields_as_strings(tmp_path: Path) -> None:
    lines = [
        json.dumps({"time": T0, "EventID": 1, "Image": "a.exe", "RuleName": "x", "Level": 4}),
        json.dumps({"time": T0, "EventID": "x"}),
        json.dumps({"time": T0, "EventID": 70000}),
    ]
    path = write_lines(tmp_path / "w.jsonl", lines)
    (batch,), summary, q = read_all(path, kind="winlog")
    assert batch["EventID"].dtype == pl.Int32
    assert batch.select("RuleName", "Level").rows() == [("x", "4")]
    assert batch["Level"].dtype == pl.String
    assert q.records().select("line", "reason").rows() == [(2, "wrong_type"), (3, "bad_value")]


def test_closed_kinds_drop_unknown_fields(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "t.jsonl", [tx(note="hello")])
    (batch,) = read_all(path, kind="transaction")[0]
    assert "note" not in batch.columns
    assert batch.width == len(schema("transaction"))


def test_flow_value_checks(tmp_path: Path) -> None:
    def flow(**f: object) -> str:
        return json.dumps({"time": T0, **f})

    lines = [
        flow(src_port=443, bytes_out=5, duration=0.5),
        flow(dst_port=70000),
        flow(bytes_in=-1),
        flow(packets=2.5),
        flow(duration="NaN"),
        flow(src_port="443.0"),
    ]
    path = write_lines(tmp_path / "f.jsonl", lines)
    (batch,), _, q = read_all(path, kind="flow")
    assert batch["src_port"].to_list() == [443, 443]
    assert q.records().select("line", "reason").rows() == [
        (2, "bad_value"),
        (3, "bad_value"),
        (4, "wrong_type"),
        (5, "bad_value"),
    ]


def test_csv_with_quoted_newlines_and_broken_rows(tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    path.write_text(
        "time,amount,merchant\n"
        f'{T0},1.5,"Shop, Inc."\n'
        f'{T0},2,"two\nlines"\n'
        f"{T0},3\n"
        "\n"
        f"{T0},abc,x\n"
        f"{T0},4,\n"
    )
    batches, summary, q = read_all(path, kind="transaction")
    batch = pl.concat(batches)
    assert batch["amount"].to_list() == [1.5, 2.0, 4.0]
    assert batch["merchant"].to_list() == ["Shop, Inc.", "two\nlines", None]
    rows = q.records().select("line", "reason").rows()
    assert rows == [(5, "broken_csv_row"), (7, "wrong_type")]
    assert q.records()["record"][1] == f"{T0},abc,x"
    assert (summary.read, summary.accepted) == (5, 3)


def test_gzip_jsonl_and_csv(tmp_path: Path) -> None:
    folder = tmp_path / "transaction"
    folder.mkdir()
    (folder / "a.jsonl.gz").write_bytes(gzip.compress((tx(account="G") + "\n{oops\n").encode()))
    (folder / "b.csv.gz").write_bytes(gzip.compress(f"time,account\n{T0},C\n".encode()))
    batches, summary, q = read_all(folder)
    assert [b["account"].to_list() for b in batches] == [["G"], ["C"]]
    assert q.records().select("line", "reason").rows() == [(2, "broken_json")]
    assert summary.files[str(folder / "a.jsonl.gz")].quarantined == 1


def test_parquet_from_the_simulator(tmp_path: Path) -> None:
    t0 = datetime(2024, 5, 1, tzinfo=UTC)
    frame = pl.DataFrame(
        {
            "event_id": ["e1", "e2", "e3", "e4"],
            "time": [t0, t0, t0, t0],
            "tenant": ["bank-a"] * 4,
            "source": ["sim"] * 4,
            "kind": ["transaction", "flow", "transaction", "auth"],
            "amount": [5.0, None, -1.0, None],
            "dst_port": [None, 443, None, None],
            "user": [None, None, None, "u1"],
        }
    )
    path = tmp_path / "sim.parquet"
    frame.write_parquet(path)
    batches, summary, q = read_all(path, batch_rows=2)
    # chunk by chunk (two rows each), and within a chunk kind by kind in name order
    assert [(b["kind"][0], b["event_id"].to_list()) for b in batches] == [
        ("flow", ["e2"]),
        ("transaction", ["e1"]),
        ("auth", ["e4"]),
    ]
    rejected = q.records()
    assert rejected.select("line", "reason", "kind").rows() == [(2, "bad_value", "transaction")]
    assert json.loads(rejected["record"][0])["event_id"] == "e3"
    assert (summary.read, summary.accepted, summary.quarantined) == (4, 3, 1)


def test_folder_order_is_sorted_and_deterministic(tmp_path: Path) -> None:
    root = tmp_path / "log"
    for name in ["b/2.jsonl", "a.jsonl", "b/1.jsonl", "c.ndjson", ".hidden.jsonl"]:
        write_lines(root / name, [json.dumps({"time": T0, "message": name})])
    batches = read_all(root)[0]
    order = [b["message"][0] for b in batches]
    assert order == ["a.jsonl", "b/1.jsonl", "b/2.jsonl", "c.ndjson"]
    assert order == [b["message"][0] for b in read_all(root)[0]]


def test_a_run_iterates_once_and_summaries_add_up(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "log" / "x.jsonl", [json.dumps({"time": T0}), "nope"])
    summary = ReadSummary()
    run = read_path(path, summary=summary, now=NOW)
    list(run)
    with pytest.raises(RuntimeError):
        list(run)
    list(read_path(path, summary=summary, now=NOW))
    assert (summary.read, summary.accepted, summary.quarantined) == (4, 2, 2)
    assert str(summary) == "read 4, accepted 2, quarantined 2 (broken_json 2) from 1 file"
