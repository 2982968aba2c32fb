import polars as pl
import pytest

from mamori.detect.rules import Rule, RuleDetector
from mamori.engine.checkpoint import Checkpoint
from mamori.engine.pipeline import Pipeline, micro_batches
from tests.conftest import batch
from tests.detect.test_rules import STUFFING, failures


class MemoryStore:
    """An alert sink that, like the real store, ignores ids it already holds."""

    def __init__(self):
        self.rows: dict[str, dict] = {}

    def add_alerts(self, alerts: pl.DataFrame) -> int:
        new = [r for r in alerts.iter_rows(named=True) if r["alert_id"] not in self.rows]
        self.rows.update({r["alert_id"]: r for r in new})
        return len(new)


def inputs():
    rows = failures(40, ip="203.0.113.9") + failures(40, ip="198.51.100.4", start=45)
    rows += failures(30, ip="192.0.2.1", start=200) + failures(8, ip="192.0.2.2", start=300)
    return [batch("auth", rows)]


class Crash(Exception):
    pass


def crashing(batches, after):
    for i, b in enumerate(micro_batches(batches, 10)):
        if i == after:
            raise Crash
        yield b


def make(tmp_path, store):
    rule = Rule.from_dict({**STUFFING, "cooldown": "20m"})
    return Pipeline(
        [RuleDetector([rule])], store=store, checkpoint=Checkpoint(tmp_path / "cp"), batch_rows=10
    )


def test_restart_after_a_crash_continues_without_duplicates(tmp_path):
    reference = MemoryStore()
    Pipeline(
        [RuleDetector([Rule.from_dict({**STUFFING, "cooldown": "20m"})])],
        store=reference,
        batch_rows=10,
    ).run(inputs())
    assert len(reference.rows) >= 4

    store = MemoryStore()
    with pytest.raises(Crash):
        make(tmp_path, store).run(crashing(inputs(), after=7))
    before = set(store.rows)
    assert 0 < len(before) < len(reference.rows)
    stats = make(tmp_path, store).run(inputs())
    assert stats.skipped == 7
    assert set(store.rows) == set(reference.rows)
    assert stats.new_alerts == len(reference.rows) - len(before)


def test_a_batch_replayed_after_a_lost_checkpoint_adds_nothing(tmp_path):
    store = MemoryStore()
    make(tmp_path, store).run(inputs())
    first = dict(store.rows)
    stats = Pipeline(
        [RuleDetector([Rule.from_dict({**STUFFING, "cooldown": "20m"})])],
        store=store,
        batch_rows=10,
    ).run(inputs())
    assert stats.alerts == len(first) and stats.new_alerts == 0
    assert store.rows.keys() == first.keys()


def test_learn_until_suppresses_alerts_but_keeps_learning():
    rows = failures(20)
    from datetime import timedelta

    from tests.conftest import T0

    pipe = Pipeline([RuleDetector([Rule.from_dict(STUFFING)])], learn_until=T0 + timedelta(hours=1))
    pipe.run([batch("auth", rows)])
    assert pipe.alerts().height == 0


def test_checkpoint_round_trips_state_without_pickle(tmp_path):
    pipe = Pipeline([RuleDetector([Rule.from_dict(STUFFING)])])
    pipe.run([batch("auth", failures(3))])
    cp = Checkpoint(tmp_path / "cp")
    cp.save(3, pipe.state(), {"note": "x"})
    position, state, meta = cp.load()
    assert position == 3 and meta == {"note": "x"}
    assert list((tmp_path / "cp").glob("*.arrow"))
    assert not list((tmp_path / "cp").glob("*.pkl"))
    again = Pipeline([RuleDetector([Rule.from_dict(STUFFING)])])
    again.restore(state)
    assert (
        again.detectors[0]
        .snapshot()["frames"]["T-STUFF/tail"]
        .equals(pipe.detectors[0].snapshot()["frames"]["T-STUFF/tail"])
    )


def test_a_detector_appended_later_restores_from_a_checkpoint_with_or_without_it():
    stuffing = Rule.from_dict(STUFFING)
    before = Pipeline([RuleDetector([stuffing])])  # a checkpoint from before the addition
    before.run([batch("auth", failures(3))])
    with_it = Pipeline([RuleDetector([stuffing])])
    with_it.append(RuleDetector([stuffing]))
    with_it.run([batch("auth", failures(3))])
    tail = "T-STUFF/tail"
    for state, rows in ((before.state(), 0), (with_it.state(), 3)):
        again = Pipeline([RuleDetector([stuffing])])
        again.restore(state)
        again.append(RuleDetector([stuffing]), state)
        assert again._keys() == ["0:rules", "1:rules"]
        assert again.detectors[1].snapshot()["frames"].get(tail, pl.DataFrame()).height == rows


def test_windows_events_are_batched_per_channel_with_their_own_fields():
    mixed = batch(
        "winlog",
        [
            {"Channel": "Security", "EventID": 4625, "TargetUserName": "alice"},
            {"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1, "Image": "a.exe"},
            {"Channel": "Security", "EventID": 4624, "TargetUserName": "bob"},
        ],
    ).with_columns(pl.lit(None, pl.String).alias("ThreatName"))
    out = list(micro_batches([mixed, mixed], 4))
    assert [(b["Channel"][0], b.height) for b in out] == [
        ("Security", 4),
        ("Microsoft-Windows-Sysmon/Operational", 2),
    ]
    security = out[0]
    assert security["TargetUserName"].to_list() == ["alice", "bob", "alice", "bob"]
    assert "ThreatName" not in security.columns  # a field no event of the channel has
    assert "Image" in security.columns  # declared fields stay, null
    assert sum(b.height for b in out) == 2 * mixed.height


def test_events_waiting_in_all_streams_are_bounded():
    parts = [
        batch("winlog", [{"Channel": f"Channel-{i % 4}", "EventID": 1} for _ in range(3)])
        for i in range(12)
    ]
    out = list(micro_batches(parts, 10, waiting=8))
    assert sum(b.height for b in out) == 36
    assert all(b.height <= 10 for b in out)
    # no stream reached 10 rows: the fullest ones went out whenever more than 8 waited
    assert len(out) > 4 and max(b.height for b in out) <= 9


def test_sysmon_events_are_batched_per_event_id():
    sysmon = "Microsoft-Windows-Sysmon/Operational"
    mixed = batch(
        "winlog",
        [
            {"Channel": sysmon, "EventID": 1, "Image": "a.exe"},
            {"Channel": sysmon, "EventID": 3, "DestinationIp": "10.0.0.1"},
            {"Channel": sysmon, "EventID": 1, "Image": "b.exe"},
        ],
    )
    out = list(micro_batches([mixed], 10))
    assert [(b["EventID"].to_list()) for b in out] == [[1, 1], [3]]
