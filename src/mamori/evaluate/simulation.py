"""Score a run against the simulator's ground truth.

An alert *belongs* to a scenario instance when its evidence names one of the instance's
malicious events, or when it is raised on one of the instance's entities between the
instance's start and an hour after its end. An instance is *detected* when an incident that
holds one of its alerts was raised to analysts; its time to detect is when that incident
was raised (or, if it was already raised by then, when the first of the instance's alerts
joined it), measured from the instance's first malicious event in simulated time.

A stage is *hidden* when an alert of the instance saw it but no raised incident that holds
the instance's alerts shows it: grouping must cut the analyst's queue without hiding any.

Everything else is benign: alerts that belong to no instance, and raised incidents none of
whose alerts belong to one (false incidents, reported per 10,000 customers per day).
"""

from __future__ import annotations

from datetime import timedelta
from statistics import median
from typing import Any

import polars as pl


def _belongs(alerts: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """(alert_id, instance_id) pairs: which alert belongs to which scenario instance."""
    by_event = (
        truth.select("instance_id", "tenant", event_id="event_ids")
        .explode("event_id")
        .join(
            alerts.select("alert_id", "tenant", event_id="event_ids").explode("event_id"),
            on=["tenant", "event_id"],
        )
        .select("alert_id", "instance_id")
    )
    by_entity = (
        truth.select("instance_id", "tenant", "start", "end", key="entities")
        .explode("key")
        .join(
            alerts.select(
                "alert_id",
                "tenant",
                "time",
                key=pl.concat_str("entity_type", pl.lit(":"), "entity_id"),
            ),
            on=["tenant", "key"],
        )
        .filter(
            (pl.col("time") >= pl.col("start"))
            & (pl.col("time") <= pl.col("end") + timedelta(hours=1))
        )
        .select("alert_id", "instance_id")
    )
    return pl.concat([by_event, by_entity]).unique()


def score_run(
    truth: pl.DataFrame,
    alerts: pl.DataFrame,
    incidents: pl.DataFrame,
    membership: pl.DataFrame,
    *,
    customers: int,
    days: float,
    raise_level: int = 3,
) -> dict[str, Any]:
    """The evaluation report (JSON-able) of one run."""
    belongs = _belongs(alerts, truth)
    raised = incidents.filter(pl.col("level") >= raise_level)
    alert_times = alerts.select("alert_id", "time", "stage")
    hits = (
        belongs.join(membership, on="alert_id")
        .join(raised.select("incident_id", "raised_at", "stages"), on="incident_id")
        .join(alert_times, on="alert_id")
    )
    per_instance = []
    for row in truth.sort("tenant", "start").iter_rows(named=True):
        mine = hits.filter(pl.col("instance_id") == row["instance_id"])
        stages_seen = set(
            belongs.filter(pl.col("instance_id") == row["instance_id"])
            .join(alert_times, on="alert_id")["stage"]
            .to_list()
        )
        ttd = None
        if mine.height:
            detected_at = (
                mine.group_by("incident_id")
                .agg(at=pl.max_horizontal(pl.col("raised_at").first(), pl.col("time").min()))["at"]
                .min()
            )
            ttd = max(0.0, (detected_at - row["start"]).total_seconds())
        truth_stages = list(row["stages"])
        shown = {st for stages in mine["stages"].to_list() for st in stages}
        per_instance.append(
            {
                "scenario": row["scenario"],
                "instance_id": row["instance_id"],
                "tenant": row["tenant"],
                "detected": mine.height > 0,
                "time_to_detect_s": ttd,
                "alerts": belongs.filter(pl.col("instance_id") == row["instance_id"]).height,
                "stages": truth_stages,
                "stages_seen": [s for s in truth_stages if s in stages_seen],
                "stages_hidden": sorted(stages_seen - shown),
            }
        )
    scenario_alerts = set(belongs["alert_id"].to_list())
    benign_alerts = alerts.filter(~pl.col("alert_id").is_in(scenario_alerts)).height
    true_incidents = set(
        membership.filter(pl.col("alert_id").is_in(scenario_alerts))["incident_id"].to_list()
    )
    false_raised = raised.filter(~pl.col("incident_id").is_in(true_incidents)).height
    tenants = max(1, truth["tenant"].n_unique()) if truth.height else 1
    per_10k_day = false_raised / (customers * tenants / 10_000) / max(days, 1e-9)
    ttds = [i["time_to_detect_s"] for i in per_instance if i["time_to_detect_s"] is not None]
    scenarios: dict[str, dict[str, Any]] = {}
    for inst in per_instance:
        s = scenarios.setdefault(
            inst["scenario"], {"instances": 0, "detected": 0, "ttd": [], "stages_missed": set()}
        )
        s["instances"] += 1
        s["detected"] += int(inst["detected"])
        if inst["time_to_detect_s"] is not None:
            s["ttd"].append(inst["time_to_detect_s"])
        s["stages_missed"] |= set(inst["stages"]) - set(inst["stages_seen"])
    return {
        "scenarios": {
            name: {
                "instances": s["instances"],
                "detected": s["detected"],
                "median_time_to_detect_s": median(s["ttd"]) if s["ttd"] else None,
                "stages_missed": sorted(s["stages_missed"]),
            }
            for name, s in sorted(scenarios.items())
        },
        "instances": per_instance,
        "detected": sum(i["detected"] for i in per_instance),
        "total": len(per_instance),
        "median_time_to_detect_s": median(ttds) if ttds else None,
        "stages_hidden": sum(len(i["stages_hidden"]) for i in per_instance),
        "alerts": alerts.height,
        "benign_alerts": benign_alerts,
        "incidents": incidents.height,
        "incidents_raised": raised.height,
        "false_incidents_raised": false_raised,
        "false_incidents_per_10k_customers_per_day": round(per_10k_day, 3),
        "reduction_alerts_per_incident": round(alerts.height / max(1, incidents.height), 2),
        "reduction_alerts_per_raised_incident": round(alerts.height / max(1, raised.height), 2),
    }
