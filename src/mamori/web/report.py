"""A self-contained HTML report of one institution's alerts and incidents, for a SOC analyst.

`render_report` writes one ``index.html`` with everything inline: CSS, SVG charts drawn here
(alert volume over time, stacked by detector; incident risk over time, coloured by early-
warning level), the incident list by risk with a kill-chain strip, and each incident's
alert timeline behind a ``<details>`` toggle. When an incident has been triaged by the AI
analyst, its latest triage is shown with it: verdict, severity, confidence, summary,
techniques, proposed actions, open questions, every claim with the alert and event ids it
cites (alert ids link to their rows in the timeline) and who wrote it, the offline analyst's
fallback included (`mamori.analyst.archive.StoredTriage.view`).

Nothing is fetched from anywhere: the page carries a Content-Security-Policy that forbids
every external resource and allows only its own inline script (pinned by hash), and every
value is HTML-escaped, because alert text (command lines, log lines, user agents) and the
triage's text can carry attacker-controlled markup.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
import polars as pl

from mamori.engine.incidents import RAISE_LEVEL
from mamori.events.schema import INCIDENT, conform_alerts, empty_alerts
from mamori.store.sql import conform_incidents

__all__ = ["LEVELS", "render_report"]

#: Early-warning levels: name and colour.
LEVELS: dict[int, tuple[str, str]] = {
    1: ("Normal", "#2e7d32"),
    2: ("Guarded", "#1565c0"),
    3: ("Elevated", "#b7950b"),
    4: ("High", "#d35400"),
    5: ("Critical", "#b71c1c"),
}

SEVERITY_COLOURS = {
    "informational": "#78909c",
    "low": "#1565c0",
    "medium": "#b7950b",
    "high": "#d35400",
    "critical": "#b71c1c",
}

#: Detector colours (Tableau 10, muted enough for a report), assigned in name order.
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)

#: At most this many hourly bars; a longer period is drawn per day.
MAX_HOURLY_BUCKETS = 168

_TEMPLATES = Path(__file__).parent / "templates"
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

# Chart geometry (SVG user units).
_WIDTH, _HEIGHT = 560, 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 12, 12, 40


def render_report(
    alerts: pl.DataFrame,
    incidents: pl.DataFrame,
    links: pl.DataFrame,
    institution: Mapping[str, Any],
    out_dir: Path,
    title: str = "Mamori early-warning report",
    *,
    max_incidents: int = 500,
    max_timeline: int = 200,
    triages: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """Write ``out_dir/index.html`` and return its path.

    Parameters
    ----------
    alerts:
        Alerts (ALERT schema) of the period.
    incidents:
        Incidents (`mamori.events.schema.INCIDENT` columns).
    links:
        ``incident_id``, ``alert_id``: which alerts make up which incident.
    institution:
        ``tenant``, ``level`` (1-5), ``reasons`` (list of str), ``incidents_by_level``
        ({level: count}) and, when known, ``events`` (events processed).
    out_dir:
        The folder to write into; created if missing.
    title:
        The page title.
    max_incidents, max_timeline:
        Caps that keep the page light: the riskiest `max_incidents` incidents are listed,
        each with at most its first `max_timeline` alerts.
    triages:
        The latest AI triage of each incident by incident id, as
        `mamori.analyst.archive.StoredTriage.view` gives it; incidents without one show none.
    """
    alerts = conform_alerts(alerts) if alerts.height else empty_alerts()
    incidents = conform_incidents(incidents) if incidents.height else pl.DataFrame(schema=INCIDENT)
    incidents = incidents.sort(["risk", "last_seen", "incident_id"], descending=[True, True, False])
    links = links.select(pl.col("incident_id").cast(pl.String), pl.col("alert_id").cast(pl.String))

    script = (_TEMPLATES / "report.js").read_text(encoding="utf-8")
    script_hash = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    detectors = sorted(alerts["detector"].unique().drop_nulls().to_list())
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(detectors)}

    page = (
        _environment()
        .get_template("report.html.j2")
        .render(
            title=title,
            institution=_institution_view(institution),
            numbers=_key_numbers(alerts, incidents, institution),
            period=_period(alerts),
            volume=_volume_chart(alerts, colours),
            risk=_risk_chart(incidents),
            incidents=_incident_views(
                incidents, links, alerts, max_incidents, max_timeline, triages or {}
            ),
            incident_total=incidents.height,
            levels={level: {"name": n, "colour": c} for level, (n, c) in LEVELS.items()},
            raise_level=RAISE_LEVEL,
            severity_colours=SEVERITY_COLOURS,
            script=script,
            script_hash=script_hash,
            generated=dt.datetime.now(dt.UTC).strftime(_TIME_FORMAT) + " UTC",
        )
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "index.html"
    target.write_text(page, encoding="utf-8")
    return target


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,  # every value is escaped unless the template says otherwise
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


# --- header and numbers ---------------------------------------------------------------------


def _institution_view(institution: Mapping[str, Any]) -> dict[str, Any]:
    level = int(institution.get("level") or 1)
    level = min(max(level, 1), 5)
    by_level = {int(k): int(v) for k, v in (institution.get("incidents_by_level") or {}).items()}
    name, colour = LEVELS[level]
    return {
        "tenant": str(institution.get("tenant") or "—"),
        "level": level,
        "level_name": name,
        "colour": colour,
        "reasons": [str(r) for r in institution.get("reasons") or []],
        "by_level": [
            {
                "level": lv,
                "name": LEVELS[lv][0],
                "colour": LEVELS[lv][1],
                "count": by_level.get(lv, 0),
            }
            for lv in sorted(LEVELS, reverse=True)
        ],
    }


def _key_numbers(
    alerts: pl.DataFrame, incidents: pl.DataFrame, institution: Mapping[str, Any]
) -> list[dict[str, str]]:
    events = institution.get("events")
    raised = incidents.filter(pl.col("level") >= RAISE_LEVEL).height if incidents.height else 0
    reduction = f"{alerts.height / raised:,.1f}×" if raised else "—"
    return [
        {"label": "Events", "value": f"{int(events):,}" if events is not None else "—"},
        {"label": "Alerts", "value": f"{alerts.height:,}"},
        {"label": f"Incidents raised (level ≥ {RAISE_LEVEL})", "value": f"{raised:,}"},
        {"label": "Watch list (levels 1–2)", "value": f"{incidents.height - raised:,}"},
        {"label": "Alerts per raised incident", "value": reduction},
    ]


def _period(alerts: pl.DataFrame) -> str:
    if alerts.height == 0:
        return "no alerts"
    first, last = _time_range(alerts["time"])
    return f"{_fmt(first)} – {_fmt(last)} UTC"


# --- charts ---------------------------------------------------------------------------------


def _volume_chart(alerts: pl.DataFrame, colours: Mapping[str, str]) -> dict[str, Any]:
    """Alert counts per hour (per day over long periods), stacked by detector."""
    chart: dict[str, Any] = _axes()
    chart.update(bars=[], legend=[], xticks=[], yticks=[], unit="hour")
    if alerts.height == 0:
        return chart
    start, end = _time_range(alerts["time"])
    start = start.replace(minute=0, second=0, microsecond=0)
    hours = int((end - start) / dt.timedelta(hours=1)) + 1
    every = "1h" if hours <= MAX_HOURLY_BUCKETS else "1d"
    if every == "1d":
        start = start.replace(hour=0)
        chart["unit"] = "day"
    counts = (
        alerts.group_by(pl.col("time").dt.truncate(every).alias("bucket"), "detector")
        .len()
        .sort("bucket", "detector")
    )
    step = dt.timedelta(hours=1) if every == "1h" else dt.timedelta(days=1)
    buckets = int((end - start) / step) + 1
    peak = counts.group_by("bucket").agg(pl.col("len").sum()).select(pl.col("len").max()).item()
    top, ticks = _nice_scale(int(peak))
    plot_w, plot_h = chart["plot_w"], chart["plot_h"]
    slot = plot_w / buckets
    bar_w = max(slot * 0.8, 0.5)
    stacked: dict[int, float] = {}
    for bucket, detector, count in counts.iter_rows():
        index = int((bucket - start) / step)
        height = count / top * plot_h
        below = stacked.get(index, 0.0)
        stacked[index] = below + height
        chart["bars"].append(
            {
                "x": round(_LEFT + index * slot + (slot - bar_w) / 2, 2),
                "y": round(_TOP + plot_h - below - height, 2),
                "w": round(bar_w, 2),
                "h": round(height, 2),
                "colour": colours.get(detector, PALETTE[-1]),
                "label": f"{_fmt(bucket)} UTC · {detector}: {count:,} alerts",
            }
        )
    chart["yticks"] = [
        {"y": round(_TOP + plot_h - t / top * plot_h, 2), "label": f"{t:,}"} for t in ticks
    ]
    label = "%m-%d %H:00" if every == "1h" else "%Y-%m-%d"
    chart["xticks"] = [
        {"x": round(_LEFT + (i + 0.5) * slot, 2), "label": (start + i * step).strftime(label)}
        for i in _tick_indices(buckets)
    ]
    chart["legend"] = [{"name": name, "colour": colour} for name, colour in colours.items()]
    return chart


def _risk_chart(incidents: pl.DataFrame) -> dict[str, Any]:
    """Each incident a point at (first_seen, risk), coloured by level."""
    chart: dict[str, Any] = _axes()
    chart.update(points=[], xticks=[], yticks=[])
    plot_w, plot_h = chart["plot_w"], chart["plot_h"]
    chart["yticks"] = [
        {"y": round(_TOP + plot_h - r / 100 * plot_h, 2), "label": str(r)}
        for r in (0, 25, 50, 75, 100)
    ]
    if incidents.height == 0:
        return chart
    first, last = _time_range(incidents["first_seen"])
    span = max((last - first).total_seconds(), 3600.0)
    pad = span * 0.04
    origin = first - dt.timedelta(seconds=pad)
    width = span + 2 * pad

    def x_of(moment: dt.datetime) -> float:
        return round(_LEFT + (moment - origin).total_seconds() / width * plot_w, 2)

    # draw the lowest levels first so critical points sit on top
    ordered = incidents.with_row_index("rank").sort("level", "risk")
    for row in ordered.iter_rows(named=True):
        name, colour = LEVELS.get(int(row["level"]), LEVELS[1])
        chart["points"].append(
            {
                "cx": x_of(row["first_seen"]),
                "cy": round(_TOP + plot_h - row["risk"] / 100 * plot_h, 2),
                "r": 4 + int(row["level"]),
                "colour": colour,
                "anchor": f"incident-{row['rank']}",
                "label": f"{row['incident_id']} · risk {row['risk']} · level {row['level']} "
                f"({name}) · {_fmt(row['first_seen'])} UTC · {row['title'] or ''}",
            }
        )
    chart["xticks"] = [
        {
            "x": x_of(origin + dt.timedelta(seconds=pad + span * i / 4)),
            "label": (origin + dt.timedelta(seconds=pad + span * i / 4)).strftime("%m-%d %H:%M"),
        }
        for i in range(5)
    ]
    return chart


def _time_range(times: pl.Series) -> tuple[dt.datetime, dt.datetime]:
    """The first and last moment of a time column with at least one value."""
    first, last = times.min(), times.max()
    if not isinstance(first, dt.datetime) or not isinstance(last, dt.datetime):
        raise ValueError(f"column {times.name!r} has no times")
    return first, last


def _axes() -> dict[str, Any]:
    return {
        "width": _WIDTH,
        "height": _HEIGHT,
        "left": _LEFT,
        "top": _TOP,
        "plot_w": _WIDTH - _LEFT - _RIGHT,
        "plot_h": _HEIGHT - _TOP - _BOTTOM,
        "bottom": _HEIGHT - _BOTTOM,
        "right": _WIDTH - _RIGHT,
    }


def _nice_scale(peak: int) -> tuple[int, list[int]]:
    """A round axis maximum at or above `peak` and its ticks (1, 2 or 5 times a power of 10)."""
    raw = max(peak, 1) / 4
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(int(step), 1)
    top = step * math.ceil(max(peak, 1) / step)
    return top, list(range(0, top + 1, step))


def _tick_indices(count: int, most: int = 7) -> Sequence[int]:
    every = max(1, math.ceil(count / most))
    return range(0, count, every)


# --- incidents ------------------------------------------------------------------------------


def _incident_views(
    incidents: pl.DataFrame,
    links: pl.DataFrame,
    alerts: pl.DataFrame,
    max_incidents: int,
    max_timeline: int,
    triages: Mapping[str, Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """The riskiest incidents, each with its alerts in time order and its latest triage."""
    shown = incidents.head(max_incidents).with_row_index("rank")
    timeline = (
        links.join(shown.select("incident_id"), on="incident_id", how="semi")
        .join(alerts, on="alert_id", how="inner")
        .sort("time", "alert_id")
    )
    by_incident = {
        key[0]: part for key, part in timeline.partition_by("incident_id", as_dict=True).items()
    }
    views = []
    for row in shown.iter_rows(named=True):
        rows = by_incident.get(row["incident_id"], empty_alerts())
        name, colour = LEVELS.get(int(row["level"]), LEVELS[1])
        entities = row["entities"] or []
        anchor = f"incident-{row['rank']}"
        shown_alerts = [
            _alert_view(a, anchor) for a in rows.head(max_timeline).iter_rows(named=True)
        ]
        triage = triages.get(row["incident_id"])
        views.append(
            {
                "anchor": anchor,
                "id": row["incident_id"],
                "title": row["title"] or "(untitled incident)",
                "risk": int(row["risk"]),
                "level": int(row["level"]),
                "level_name": name,
                "colour": colour,
                "status": row["status"],
                "stages": row["stages"] or [],
                "entities": entities[:8],
                "more_entities": max(len(entities) - 8, 0),
                "reasons": row["reasons"] or [],
                "detectors": row["detectors"] or [],
                "alert_count": int(row["alert_count"] or rows.height),
                "first_seen": _fmt(row["first_seen"]),
                "last_seen": _fmt(row["last_seen"]),
                "alerts": shown_alerts,
                "hidden_alerts": max(rows.height - max_timeline, 0),
                "triage": None if triage is None else _triage_view(triage, shown_alerts),
            }
        )
    return views


def _triage_view(
    triage: Mapping[str, Any], shown_alerts: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """A stored triage with each cited id as (id, anchor of its alert row, or None: an event
    id, or an alert beyond the timeline's cap)."""
    rows = {a["alert_id"]: a["row_id"] for a in shown_alerts}
    claims = [
        {
            **claim,
            "citations": [{"id": c, "anchor": rows.get(c)} for c in claim["citations"]],
        }
        for claim in triage["claims"]
    ]
    return {**triage, "claims": claims, "confidence_pct": f"{triage['confidence'] * 100:.0f}%"}


def _alert_view(alert: Mapping[str, Any], incident_anchor: str) -> dict[str, Any]:
    entity = ":".join(str(v) for v in (alert["entity_type"], alert["entity_id"]) if v)
    return {
        "alert_id": alert["alert_id"],
        "row_id": f"{incident_anchor}-alert-{alert['alert_id']}",
        "time": _fmt(alert["time"]),
        "detector": alert["detector"],
        "rule_id": alert["rule_id"],
        "title": alert["title"] or "",
        "severity": alert["severity"] or "informational",
        "score": f"{alert['score']:.2f}" if alert["score"] is not None else "",
        "stage": alert["stage"] or "",
        "entity": entity,
        "attack": alert["attack"] or [],
        "explanation": alert["explanation"] or "",
    }


def _fmt(moment: dt.datetime | None) -> str:
    return moment.strftime(_TIME_FORMAT) if moment is not None else "—"
