"""Group alerts into incidents, score their risk and derive early-warning levels.

Two alerts belong to one incident when they share an entity (their own, one their evidence
names, or one linked to it: a customer's account and card, the address of a host) and lie
within `gap` of each other on that entity. Entities shared by many unrelated alerts (a
busy server, a utility company's account) would glue everything together, so an entity
named by more than `hub_limit` distinct alerting entities is not used as a link. External
IPv4 addresses also link through their /24 network, since attackers rotate addresses
inside one block.

Risk (0–100) is the strongest alert's severity points, plus 30 % of the points of the
strongest alert of every further kill-chain or fraud stage (a weak signal corroborates
little, a second strong one a lot), plus up to 10 for the volume of alerts; every point is
explained in `reasons`.
The early-warning level is 1 (normal) to 5 (critical); an incident is *raised* to analysts
at `raise_level` (3) and above, the rest stay on the watch list. The risk is computed after
every alert, so `raised_at` is the simulated time at which an analyst would first have
seen the incident.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from mamori.detect.match import is_private_ip
from mamori.engine.links import canonical
from mamori.events.ids import hex128
from mamori.events.schema import INCIDENT, INCIDENT_LINK

SEVERITY_POINTS = {"informational": 5, "low": 15, "medium": 35, "high": 55, "critical": 75}
CORROBORATION = 0.3  # share of each further stage's strongest alert that adds to the risk
LEVEL_FLOORS = (0, 25, 45, 65, 85)  # risk at which levels 1..5 start
LEVEL_NAMES = {1: "normal", 2: "guarded", 3: "elevated", 4: "high", 5: "critical"}
RAISE_LEVEL = 3  # incidents at this level and above go to analysts; below, the watch list


@dataclass(frozen=True)
class IncidentPolicy:
    """How alerts are grouped and when an incident is raised."""

    gap: timedelta = timedelta(hours=24)
    hub_limit: int = 25
    raise_level: int = RAISE_LEVEL


def level_of(risk: pl.Expr) -> pl.Expr:
    """Early-warning level 1–5 from a risk 0–100."""
    level = pl.lit(1)
    for i, floor in enumerate(LEVEL_FLOORS[1:], start=2):
        level = pl.when(risk >= floor).then(pl.lit(i)).otherwise(level)
    return level.cast(pl.Int64)


def _keys(alerts: pl.DataFrame, links: pl.DataFrame) -> pl.DataFrame:
    """(alert index, entity key) for every entity an alert touches, links included."""
    own = alerts.select("_idx", key=pl.concat_str("entity_type", pl.lit(":"), "entity_id"))
    related = alerts.select("_idx", key="related").explode("key").drop_nulls()
    keys = pl.concat([own, related]).with_columns(canonical(pl.col("key")).alias("key")).unique()
    if links.height:
        both = pl.concat([links.select(a="a", b="b"), links.select(a="b", b="a")]).unique()
        linked = keys.join(both, left_on="key", right_on="a").select("_idx", key="b")
        keys = pl.concat([keys, linked]).unique()
    ip = pl.col("key").str.extract(r"^ip:(\d+\.\d+\.\d+)\.\d+$")
    nets = keys.filter(ip.is_not_null() & ~is_private_ip(ip)).select(
        "_idx", key=pl.lit("net:") + ip + ".0/24"
    )
    return pl.concat([keys, nets]).unique()


def _components(alerts: pl.DataFrame, keys: pl.DataFrame, policy: IncidentPolicy) -> np.ndarray:
    """Connected components of alerts linked through shared, non-hub entities in time."""
    primary = alerts.select("_idx", _primary=pl.concat_str("entity_type", pl.lit(":"), "entity_id"))
    fanout = (
        keys.join(primary, on="_idx").group_by("key").agg(pl.col("_primary").n_unique().alias("_n"))
    )
    usable = keys.join(fanout.filter(pl.col("_n") <= policy.hub_limit), on="key", how="semi")
    timed = usable.join(alerts.select("_idx", "time"), on="_idx").sort("key", "time")
    edges = timed.with_columns(
        _prev=pl.col("_idx").shift(1).over("key"),
        _dt=(pl.col("time") - pl.col("time").shift(1).over("key")),
    ).filter(pl.col("_prev").is_not_null() & (pl.col("_dt") <= policy.gap))
    n = alerts.height
    graph = coo_matrix(
        (
            np.ones(edges.height),
            (edges["_idx"].to_numpy(), edges["_prev"].to_numpy().astype(np.int64)),
        ),
        shape=(n, n),
    )
    _, labels = connected_components(graph, directed=False)
    return labels


def build_incidents(
    alerts: pl.DataFrame, links: pl.DataFrame | None = None, policy: IncidentPolicy | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Incidents (schema `INCIDENT`) and membership (incident_id, alert_id) from alerts.

    `links` holds entity pairs (a, b) as "type:id" keys that belong together, as learned
    by `mamori.engine.links.EntityLinks`.
    """
    policy = policy or IncidentPolicy()
    if alerts.height == 0:
        return pl.DataFrame(schema=INCIDENT), pl.DataFrame(schema=INCIDENT_LINK)
    alerts = alerts.sort("time", "alert_id").with_row_index("_idx")
    links = links if links is not None else pl.DataFrame(schema={"a": pl.String, "b": pl.String})
    labels = _components(alerts, _keys(alerts, links), policy)
    alerts = alerts.with_columns(_group=pl.Series(labels))

    points = pl.col("severity").replace_strict(SEVERITY_POINTS, return_dtype=pl.Int64)
    # after each alert: the strongest alert so far (M) and the sum over stages of each
    # stage's strongest alert so far (S); further stages add CORROBORATION of their strength
    stage_best = pl.col("_points").cum_max().over("_group", "stage")
    prefix = (
        alerts.with_columns(_points=points)
        .with_columns(
            _n=pl.int_range(1, pl.len() + 1).over("_group"),
            _stage_new=pl.struct("_group", "stage").is_first_distinct().cast(pl.Int64),
            _gain=stage_best - stage_best.shift(1).over("_group", "stage").fill_null(0),
        )
        .with_columns(
            _max_points=pl.col("_points").cum_max().over("_group"),
            _stages=pl.col("_stage_new").cum_sum().over("_group"),
            _stage_sum=pl.col("_gain").cum_sum().over("_group"),
        )
        .with_columns(
            _corroboration=(CORROBORATION * (pl.col("_stage_sum") - pl.col("_max_points")))
            .round(0)
            .cast(pl.Int64),
            _volume=(pl.col("_n").cast(pl.Float64).log(2) * 3)
            .clip(upper_bound=10)
            .round(0)
            .cast(pl.Int64),
        )
    )
    risk = (pl.col("_max_points") + pl.col("_corroboration") + pl.col("_volume")).clip(
        upper_bound=100
    )
    prefix = prefix.with_columns(_risk=risk).with_columns(_level=level_of(pl.col("_risk")))

    first_id = pl.col("alert_id").first()
    top = pl.col("_points") * 10 + pl.col("score")
    incidents = prefix.group_by("_group").agg(
        tenant=pl.col("tenant").first(),
        _first_alert=first_id,
        first_seen=pl.col("time").min(),
        last_seen=pl.col("time").max(),
        raised_at=pl.col("time").filter(pl.col("_level") >= policy.raise_level).first(),
        _top_title=pl.col("title").sort_by(top, descending=True).first(),
        _top_entity=pl.concat_str("entity_type", pl.lit(" "), "entity_id")
        .sort_by(top, descending=True)
        .first(),
        risk=pl.col("_risk").last(),
        level=pl.col("_level").last(),
        _stage_seq=pl.col("stage").unique(maintain_order=True),
        entities=pl.concat_str("entity_type", pl.lit(":"), "entity_id")
        .unique(maintain_order=True)
        .head(20),
        alert_count=pl.len().cast(pl.Int64),
        detectors=pl.col("detector").unique().sort(),
        _max_points=pl.col("_max_points").last(),
        _worst=pl.col("severity").sort_by("_points", descending=True).first(),
        _n_stages=pl.col("_stages").last(),
        _corroboration=pl.col("_corroboration").last(),
        _volume=pl.col("_volume").last(),
    )
    incidents = incidents.with_columns(
        status=pl.lit("open"),
        updated_at=pl.lit(None, pl.Datetime("us", "UTC")),
        incident_id=hex128(
            (incidents["tenant"] + incidents["_first_alert"]).hash(17),
            (incidents["tenant"] + incidents["_first_alert"]).hash(19),
        ),
        stages=pl.col("_stage_seq"),
        title=pl.when(pl.col("_n_stages") >= 3)
        .then(
            pl.lit("Multi-stage attack: ")
            + pl.col("_stage_seq")
            .list.eval(pl.element().str.replace_all("_", " "))
            .list.join(" → ")
            + pl.lit(" (")
            + pl.col("_top_entity")
            + pl.lit(")")
        )
        .otherwise(pl.col("_top_title") + pl.lit(" (") + pl.col("_top_entity") + pl.lit(")")),
        reasons=pl.concat_list(
            pl.format("worst alert is {} (+{})", pl.col("_worst"), pl.col("_max_points")),
            pl.when(pl.col("_n_stages") > 1).then(
                pl.format(
                    "{} further stage(s) corroborate (+{})",
                    pl.col("_n_stages") - 1,
                    pl.col("_corroboration"),
                )
            ),
            pl.when(pl.col("alert_count") > 1).then(
                pl.format("{} alerts (+{})", pl.col("alert_count"), pl.col("_volume"))
            ),
        ).list.drop_nulls(),
    )
    membership = prefix.join(incidents.select("_group", "incident_id"), on="_group").select(
        "incident_id", "alert_id"
    )
    out = incidents.select(list(INCIDENT)).sort("risk", "last_seen", descending=[True, True])
    return out.cast(pl.Schema(INCIDENT)), membership


def institution_level(
    incidents: pl.DataFrame, window: timedelta = timedelta(hours=24)
) -> list[dict[str, object]]:
    """Early-warning level per institution, from its incidents active in the last `window`."""
    if incidents.height == 0:
        return []
    recent = incidents.filter(
        pl.col("last_seen") >= pl.col("last_seen").max().over("tenant") - window
    )
    rows = (
        recent.group_by("tenant")
        .agg(
            level=pl.col("level").max(),
            incidents=pl.len(),
            raised=(pl.col("level") >= RAISE_LEVEL).sum(),
            by_level=pl.col("level").value_counts(sort=True),
            worst=pl.col("title").sort_by("risk", descending=True).first(),
        )
        .sort("tenant")
    )
    out = []
    for row in rows.iter_rows(named=True):
        counts = {int(v["level"]): int(v["count"]) for v in row["by_level"]}
        out.append(
            {
                "tenant": row["tenant"],
                "level": int(row["level"]),
                "name": LEVEL_NAMES[int(row["level"])],
                "incidents_by_level": dict(sorted(counts.items())),
                "reasons": [
                    f"{row['raised']} incident(s) raised at level {RAISE_LEVEL} or above "
                    f"in the last {window.total_seconds() / 3600:g} hours",
                    f"worst: {row['worst']}",
                ],
            }
        )
    return out
