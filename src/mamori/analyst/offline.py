"""The offline analyst: a grounded triage from the evidence alone, with no model at all.

It reads only the structured evidence (severities, detectors, kill-chain stages, ATT&CK ids,
entities, times, the history of the entities and similar past incidents), never the free
text, so attacker-written strings cannot move it. It is what every tier may use, and what the
gateway falls back to when a provider fails.

Verdict: *malicious* when a high or critical alert fired, the incident spans two or more
kill-chain or fraud stages, or its risk reached the "high" early-warning level; *benign*
when every alert is informational or low, from one detector, on one stage, with a risk under
the "guarded" level; otherwise *needs more information*. Confidence grows with independent
corroboration (distinct detectors and stages). Proposed actions come from the response
catalogue, chosen by the entity types and stages the incident shows.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from mamori.analyst.catalogue import CATALOGUE
from mamori.analyst.evidence import Evidence
from mamori.analyst.schema import Triage

__all__ = ["offline_triage"]

_SEVERITY_RANK = {"informational": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
_SEVERITY_OF_LEVEL = {1: "low", 2: "low", 3: "medium", 4: "high", 5: "critical"}
_RANK_NAME = {v: k for k, v in _SEVERITY_RANK.items()}
#: At most this many citations per claim, timeline entries, and proposed actions.
_CITE, _TIMELINE, _ACTIONS = 5, 12, 8

#: Stage -> (action, entity type it applies to), in order of urgency.
_STAGE_ACTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "credential_access": (("force_password_reset", "customer"), ("block_ip", "ip")),
    "account_manipulation": (
        ("revoke_sessions", "customer"),
        ("step_up_authentication", "customer"),
        ("hold_outgoing_payments", "account"),
    ),
    "initial_access": (("block_ip", "ip"), ("force_password_reset", "user")),
    "execution": (("isolate_host", "host"), ("collect_forensics", "host")),
    "lateral_movement": (("isolate_host", "host"), ("disable_user_account", "user")),
    "privilege_escalation": (("disable_user_account", "user"), ("isolate_host", "host")),
    "persistence": (("collect_forensics", "host"),),
    "command_and_control": (("block_domain", "domain"), ("block_ip", "ip")),
    "exfiltration": (("isolate_host", "host"), ("block_ip", "ip")),
    "impact": (("isolate_host", "host"),),
    "card_fraud": (("freeze_card", "card"), ("contact_customer", "customer")),
    "card_testing": (("freeze_card", "card"),),
    "cash_out": (("hold_outgoing_payments", "account"), ("contact_customer", "customer")),
    "placement": (("file_suspicious_activity_report", "account"),),
    "layering": (
        ("hold_outgoing_payments", "account"),
        ("file_suspicious_activity_report", "account"),
    ),
    "integration": (("file_suspicious_activity_report", "customer"),),
    "discovery": (("collect_forensics", "host"),),
    "collection": (("isolate_host", "host"),),
}
#: Fallback action per entity type when no stage suggests one.
_ENTITY_ACTIONS = {
    "card": "freeze_card",
    "account": "hold_outgoing_payments",
    "customer": "step_up_authentication",
    "user": "revoke_sessions",
    "host": "collect_forensics",
    "ip": "block_ip",
    "device": "block_device",
}


def offline_triage(evidence: Evidence) -> Triage:
    """Triage an incident from its structured evidence.

    Reads `evidence.alerts` in a handful of vectorised passes (group-bys and one explode), so
    an incident of hundreds of alerts takes milliseconds.
    """
    alerts = evidence.alerts.sort("time", "alert_id").with_columns(
        rank=pl.col("severity").replace_strict(_SEVERITY_RANK, default=0, return_dtype=pl.Int8),
        entity=pl.concat_str("entity_type", pl.lit(":"), "entity_id"),
    )
    incident = evidence.incident
    if alerts.height == 0:
        raise ValueError(f"incident {evidence.incident_id} has no alerts to triage")
    top = alerts.sort(["rank", "score", "time"], descending=[True, True, False])
    max_rank = int(top["rank"][0])
    stages = [s for s in alerts["stage"].unique(maintain_order=True).to_list() if s]
    detectors = alerts["detector"].unique(maintain_order=True).to_list()
    risk, level = int(incident.get("risk") or 0), int(incident.get("level") or 1)
    verdict = _verdict(max_rank, len(stages), len(detectors), risk, level)
    severity = _RANK_NAME[max(max_rank, _SEVERITY_RANK[_SEVERITY_OF_LEVEL.get(level, "low")])]
    confidence = round(min(0.95, 0.5 + 0.1 * (len(detectors) - 1) + 0.08 * len(stages)), 2)
    if verdict == "needs_more_information":
        confidence = min(confidence, 0.6)

    by_entity = (
        pl.concat(
            [
                alerts.select("alert_id", "time", e="entity"),
                alerts.select("alert_id", "time", e="related").explode("e"),
            ]
        )
        .drop_nulls("e")
        .group_by("e", maintain_order=True)
        .agg(pl.col("alert_id").head(_CITE), n=pl.len())
    )
    cites_of = dict(zip(by_entity["e"].to_list(), by_entity["alert_id"].to_list(), strict=True))
    primary = set(alerts["entity"].to_list())
    affected = [
        {"entity": e, "role": "subject" if e in primary else "named", "citations": ids}
        for e, ids in cites_of.items()
    ][:20]

    techniques = (
        alerts.select("alert_id", t="attack")
        .explode("t")
        .drop_nulls()
        .filter(pl.col("t").str.contains(r"^T\d{4}(\.\d{3})?$"))
        .group_by("t", maintain_order=True)
        .agg(pl.col("alert_id").head(_CITE))
    )
    timeline_rows = (
        pl.concat(
            [
                alerts.group_by("stage", maintain_order=True).first(),
                top.head(_TIMELINE // 2),
            ],
            how="diagonal_relaxed",
        )
        .unique("alert_id", maintain_order=True)
        .sort("time")
        .head(_TIMELINE)
    )
    timeline = [
        {
            "time": r["time"].isoformat(),
            "what": f"{r['severity']} {r['detector']} alert on {r['entity']}"
            + (f" ({r['stage']})" if r["stage"] else ""),
            "citations": [r["alert_id"]],
        }
        for r in timeline_rows.iter_rows(named=True)
    ]

    actions = _actions(stages, cites_of, verdict)
    first: Any = alerts["time"].min()
    last: Any = alerts["time"].max()
    top_row = top.row(0, named=True)
    summary = (
        f"{incident.get('title') or 'Incident'}: {alerts.height} alerts from "
        f"{', '.join(detectors)} between {first:%Y-%m-%d %H:%M} and {last:%H:%M} UTC"
        + (f", across {len(stages)} stages ({' → '.join(stages)})" if stages else "")
        + f". Strongest: {top_row['severity']} {top_row['detector']} alert on "
        f"{top_row['entity']}. Risk {risk}, early-warning level {level}."
    )
    questions = _questions(evidence, verdict, stages)
    return Triage.model_validate(
        {
            "summary": summary,
            "summary_citations": top["alert_id"].head(_CITE).to_list(),
            "verdict": verdict,
            "severity": severity,
            "confidence": confidence,
            "techniques": [
                {"technique_id": t, "citations": ids}
                for t, ids in zip(techniques["t"], techniques["alert_id"], strict=True)
            ],
            "affected_entities": affected,
            "timeline": timeline,
            "recommended_actions": actions,
            "open_questions": questions,
        }
    )


def _verdict(max_rank: int, stages: int, detectors: int, risk: int, level: int) -> str:
    if max_rank >= _SEVERITY_RANK["high"] or stages >= 2 or level >= 4:
        return "malicious"
    if max_rank <= _SEVERITY_RANK["low"] and detectors == 1 and stages <= 1 and risk < 25:
        return "benign"
    return "needs_more_information"


def _actions(
    stages: list[str], cites_of: dict[str, list[str]], verdict: str
) -> list[dict[str, Any]]:
    if verdict == "benign":
        return []
    by_type: dict[str, list[str]] = {}
    for entity in cites_of:
        by_type.setdefault(entity.split(":", 1)[0], []).append(entity)
    wanted = [pair for stage in stages for pair in _STAGE_ACTIONS.get(stage, ())]
    wanted += [(action, kind) for kind, action in _ENTITY_ACTIONS.items()]
    proposals: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for action, kind in wanted:
        for entity in by_type.get(kind, [])[:2]:
            if (action, entity) in seen or kind not in CATALOGUE[action].entity_types:
                continue
            seen.add((action, entity))
            reason = CATALOGUE[action].description
            proposals.append(
                {
                    "action": action,
                    "target": entity,
                    "reason": reason,
                    "citations": cites_of[entity],
                }
            )
    proposals = proposals[:_ACTIONS]
    all_cited = sorted({c for p in proposals for c in p["citations"]})[:_CITE]
    if verdict == "malicious" and all_cited:
        proposals.append(
            {
                "action": "open_case",
                "target": "incident",
                "reason": "Malicious verdict: the incident needs an owner.",
                "citations": all_cited,
            }
        )
    return proposals


def _questions(evidence: Evidence, verdict: str, stages: list[str]) -> list[str]:
    questions = []
    if evidence.history.height:
        questions.append(
            f"The incident's entities had {evidence.history.height} earlier alerts "
            "(latest first in the evidence): are they the same activity?"
        )
    if evidence.similar:
        ids = ", ".join(str(s["incident_id"]) for s in evidence.similar)
        questions.append(f"Similar earlier incidents share an entity: {ids}. How were they closed?")
    if verdict == "needs_more_information":
        questions.append(
            "Only weak or single-source signals: can the entity's owner confirm the activity?"
        )
    if len(stages) == 1 and verdict == "malicious":
        questions.append(f"Only the {stages[0]} stage was seen: did the attack go further?")
    return questions
