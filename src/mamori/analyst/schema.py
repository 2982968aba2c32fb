"""The triage contract: one validated schema, and the grounding check on its citations.

Every factual claim (the summary, each technique, affected entity, timeline entry and
proposed action) cites alert or event ids of the incident. `grounding_problems` lists what
is wrong with an answer: uncited claims, ids the incident does not have, actions outside the
response catalogue or on entities the incident does not name. The gateway rejects an answer
with any problem, asks once more with the problems listed, then falls back.

>>> triage = Triage.model_validate({"summary": "Card testing on one card", "summary_citations":
...     ["a1"], "verdict": "malicious", "severity": "high", "confidence": 0.8,
...     "recommended_actions": [{"action": "freeze_card", "target": "card:4111",
...     "reason": "many declines", "citations": ["a9"]}]})
>>> grounding_problems(triage, {"a1", "a2"}, {"card:4111"})
['recommended_actions[0] cites ids the incident does not have: a9']
"""

from __future__ import annotations

from collections.abc import Iterator, Set
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mamori.analyst.catalogue import CATALOGUE

__all__ = [
    "AffectedEntity",
    "ProposedAction",
    "Technique",
    "TimelineEntry",
    "Triage",
    "claims",
    "grounding_problems",
    "triage_json_schema",
]

Verdict = Literal["malicious", "benign", "needs_more_information"]
Severity = Literal["informational", "low", "medium", "high", "critical"]

#: How lenient each verdict is: a move to a higher number lowers the alarm.
LENIENCY = {"malicious": 0, "needs_more_information": 1, "benign": 2}


class _Claim(BaseModel):
    model_config = ConfigDict(extra="forbid")

    citations: list[str] = Field(default_factory=list, description="alert or event ids")


class Technique(_Claim):
    technique_id: str = Field(pattern=r"^T\d{4}(\.\d{3})?$")
    name: str = ""


class AffectedEntity(_Claim):
    entity: str = Field(description='"type:id", as the incident names it')
    role: str = Field(default="", description="victim, source, asset, mule ...")


class TimelineEntry(_Claim):
    time: str
    what: str


class ProposedAction(_Claim):
    action: str = Field(description="an action_id of the response catalogue")
    target: str = Field(description='"type:id" of one of the incident\'s entities, or "incident"')
    reason: str


class Triage(BaseModel):
    """An analyst's triage of one incident."""

    model_config = ConfigDict(extra="forbid")

    summary: str = Field(min_length=1, max_length=4000)
    summary_citations: list[str] = Field(default_factory=list)
    verdict: Verdict
    severity: Severity
    confidence: float = Field(ge=0.0, le=1.0)
    techniques: list[Technique] = Field(default_factory=list)
    affected_entities: list[AffectedEntity] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    recommended_actions: list[ProposedAction] = Field(default_factory=list)
    open_questions: list[str] = Field(default_factory=list)


def triage_json_schema() -> dict[str, Any]:
    """The JSON schema sent to providers that support structured output."""
    return Triage.model_json_schema()


def claims(triage: Triage) -> Iterator[tuple[str, list[str]]]:
    """Every factual claim as (where, citations)."""
    yield "summary", triage.summary_citations
    for field in ("techniques", "affected_entities", "timeline", "recommended_actions"):
        for i, claim in enumerate(getattr(triage, field)):
            yield f"{field}[{i}]", claim.citations


def grounding_problems(triage: Triage, evidence_ids: Set[str], entities: Set[str]) -> list[str]:
    """What makes an answer unacceptable (empty: every claim is grounded).

    `evidence_ids` are the incident's alert and event ids; `entities` its "type:id" entities.
    """
    problems = []
    for where, cited in claims(triage):
        if not cited:
            problems.append(f"{where} cites no evidence")
            continue
        unknown = sorted(set(cited) - evidence_ids)
        if unknown:
            problems.append(f"{where} cites ids the incident does not have: {', '.join(unknown)}")
    for i, entity in enumerate(triage.affected_entities):
        if entity.entity not in entities:
            problems.append(f"affected_entities[{i}] is not an entity of the incident")
    for i, proposal in enumerate(triage.recommended_actions):
        action = CATALOGUE.get(proposal.action)
        if action is None:
            problems.append(
                f"recommended_actions[{i}]: {proposal.action!r} is not in the response catalogue"
            )
            continue
        kind = "incident" if proposal.target == "incident" else proposal.target.split(":", 1)[0]
        if proposal.target != "incident" and proposal.target not in entities:
            problems.append(f"recommended_actions[{i}] targets an entity the incident lacks")
        elif kind not in action.entity_types:
            problems.append(
                f"recommended_actions[{i}]: {proposal.action} does not apply to a {kind}"
            )
    return problems
