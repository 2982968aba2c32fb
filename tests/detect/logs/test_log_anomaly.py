"""Template mining, rare templates and template surges: a constructed positive and a
benign look-alike each, and state that survives a snapshot."""

import json
from datetime import timedelta

import polars as pl

from mamori.detect.logs import RareTemplate, TemplateSurge
from mamori.detect.logs.templates import TemplateMiner
from tests.conftest import T0, batch


def lines(messages, host="db1", app="postgres", severity=None, start=0.0, step=0.1, prefix="e"):
    rows = [
        {"minute": start + i * step, "host": host, "app": app, "message": m, "severity": severity}
        for i, m in enumerate(messages)
    ]
    return batch("log", rows, prefix=prefix)


def routine(n, start=0.0, step=0.1, prefix="r"):
    users = ["alice", "bob", "carol", "dave"]
    return lines(
        [f"connection authorized: user={users[i % 4]} database=core{i % 7}" for i in range(n)],
        start=start,
        step=step,
        prefix=prefix,
    )


def test_masking_and_drain_give_one_template_for_varying_values():
    mined = TemplateMiner().mine(
        pl.Series(
            [
                "Accepted password for alice from 10.1.2.3 port 50122 ssh2",
                "Accepted password for bob from 192.168.7.70 port 22 ssh2",
                "disk /dev/sda1 at 0xdeadbeef is 91.5% full",
                "disk /dev/sdb2 at 0x0 is 12% full",
            ]
        )
    )
    assert mined["template_id"].n_unique() == 2
    assert mined["template"][1] == "Accepted password for <*> from <IP> port <NUM> ssh2"
    assert mined["template"][3] == "disk <PATH> at <HEX> is <NUM>% full"


def test_miner_state_is_plain_json_and_restores_the_same_templates():
    miner = TemplateMiner()
    miner.mine(pl.Series(["job 1 started on node a", "job 2 started on node b", "cache cleared"]))
    state = json.loads(json.dumps(miner.snapshot()))
    again = TemplateMiner()
    again.restore(state)
    probe = pl.Series(["job 9 started on node z", "cache cleared", "brand new message here"])
    assert again.mine(probe).equals(miner.mine(probe))


def test_rare_template_alerts_on_a_new_message_after_warmup():
    detector = RareTemplate(warmup=200)
    assert detector.process(routine(300)).height == 0
    new = lines(
        ["could not write block 7731 of relation base/16384/2619: No space left on device"],
        severity="error",
        start=40,
        prefix="n",
    )
    alerts = detector.process(new)
    assert alerts.height == 1
    row = alerts.row(0, named=True)
    assert (row["entity_id"], row["severity"], row["event_ids"]) == ("db1", "medium", ["n0"])
    assert "No space left" in row["explanation"]


def test_rare_template_stays_quiet_on_known_messages_with_new_values():
    detector = RareTemplate(warmup=200)
    detector.process(routine(300))
    look_alike = lines(
        ["connection authorized: user=zed database=archive2024"] * 3, start=40, prefix="n"
    )
    assert detector.process(look_alike).height == 0


def test_rare_template_learns_a_new_source_without_alerting():
    detector = RareTemplate(warmup=200)
    detector.process(routine(300))
    other = lines(["kernel: eth0 link up, 1000 Mbps"], host="web3", app="kernel", start=40)
    assert detector.process(other).height == 0


def test_rare_template_counts_are_per_source():
    detector = RareTemplate(warmup=50)
    detector.process(routine(100))
    detector.process(lines(["nightly backup finished"] * 60, host="bk1", app="cron", start=20))
    # known on bk1, new on db1
    alerts = detector.process(lines(["nightly backup finished"], start=40, prefix="n"))
    assert alerts["entity_id"].to_list() == ["db1"]


def history(hours, per_window=2):
    """`per_window` lines of one message every ten minutes for `hours` hours."""
    minutes = [10 * w + i for w in range(hours * 6) for i in range(per_window)]
    return batch(
        "log",
        [
            {"minute": m, "host": "app7", "app": "java", "message": "pool exhausted, waiting"}
            for m in minutes
        ],
        prefix="h",
    )


def storm(count, at_minute, message="pool exhausted, waiting"):
    return batch(
        "log",
        [
            {"minute": at_minute + i * 0.05, "host": "app7", "app": "java", "message": message}
            for i in range(count)
        ],
        prefix="s",
    )


def test_surge_alerts_once_on_a_storm_of_a_usual_message():
    detector = TemplateSurge()
    assert detector.process(history(6)).height == 0
    alerts = detector.process(storm(150, at_minute=6 * 60 + 1))
    assert alerts.height == 1
    row = alerts.row(0, named=True)
    assert row["entity_id"] == "app7" and row["rule_id"] == "log-template-surge"
    assert "150 times" in row["explanation"] and "usual 2.0" in row["explanation"]
    # the storm goes on: the cooldown keeps it to the one alert
    assert detector.process(storm(150, at_minute=6 * 60 + 12)).height == 0


def test_surge_stays_quiet_on_a_busy_but_usual_message():
    detector = TemplateSurge()
    busy = batch(
        "log",
        [
            {"minute": i * 0.1, "host": "app7", "app": "java", "message": f"GET /api/{i} 200"}
            for i in range(6 * 60 * 10)
        ],
    )
    assert detector.process(busy.head(3000)).height == 0
    assert detector.process(busy.slice(3000)).height == 0  # ~100 a window, as always


def test_surge_ignores_a_source_seen_for_the_first_time():
    detector = TemplateSurge()
    assert detector.process(storm(300, at_minute=0)).height == 0


def test_surge_flags_a_new_message_in_volume_from_a_known_source():
    detector = TemplateSurge()
    detector.process(history(3))
    alerts = detector.process(storm(80, at_minute=3 * 60 + 1, message="OutOfMemoryError in worker"))
    assert alerts.height == 1 and "usual 0.0" in alerts["explanation"][0]


def test_detector_time_columns_are_utc():
    alerts = RareTemplate(warmup=1).process(
        lines(["a b c", "x y z w"], step=timedelta(minutes=1).total_seconds() / 60)
    )
    assert alerts["time"].dtype == pl.Datetime("us", "UTC")
    assert alerts["time"].min() >= T0
