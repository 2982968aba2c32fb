"""A reader's bounded guard against an alert delivered twice, and duplicate attribution."""

from __future__ import annotations

import polars as pl

from mamori.stream.drill import SeenAlerts, explain_duplicates


def test_seen_alerts_drops_copies_within_the_window_across_batches() -> None:
    seen = SeenAlerts(window=4)
    first = seen.fresh(pl.DataFrame({"alert_id": ["a", "b", "b", "c"], "n": [1, 2, 3, 4]}))
    assert first["n"].to_list() == [1, 2, 4]  # first copy kept
    assert seen.fresh(pl.DataFrame({"alert_id": ["c", "a", "d"]}))["alert_id"].to_list() == ["d"]
    seen.fresh(pl.DataFrame({"alert_id": ["e", "f"]}))  # a and b leave the window
    assert seen.fresh(pl.DataFrame({"alert_id": ["a", "f"]}))["alert_id"].to_list() == ["a"]


def test_duplicates_are_explained_only_by_a_resent_alert_and_the_killed_writer() -> None:
    topic = pl.DataFrame(
        {
            "alert_id": ["x", "x", "y", "y", "z"],
            "writer": ["a/100/7", "b/200/3", "b/200/1", "b/200/2", "a/100/1"],
        }
    )
    assert explain_duplicates(topic, {"x", "y"}, killed_pid=100) == {
        "duplicated_ids": 2,
        "resent_and_killed": 1,  # y: both copies from a live worker, not explained
    }
    assert explain_duplicates(topic, set(), 100)["resent_and_killed"] == 0
