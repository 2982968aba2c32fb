"""Playbooks: named chains of catalogue actions that a team runs for one kind of incident.

A playbook's steps name an action and the entity type it applies to; `plan` turns them into
concrete (action, target, inputs) proposals for one incident, one per matching entity, in
step order. The response desk proposes them together and executes them in that order: a
step runs only when every earlier step has been executed or rejected.

>>> [(p.action_id, p.target) for p in plan(PLAYBOOKS["card_fraud"], ["card:4111", "customer:c9"])]
[('freeze_card', 'card:4111'), ('notify_customer', 'customer:c9'), ('open_case', 'incident')]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mamori.respond.catalogue import CATALOGUE, split_target

__all__ = ["PLAYBOOKS", "PlannedAction", "Playbook", "PlaybookStep", "plan"]

#: At most this many entities of one type get a step's action.
MAX_TARGETS_PER_STEP = 5


@dataclass(frozen=True)
class PlaybookStep:
    action_id: str
    entity_type: str  # "incident" for actions on the incident itself
    inputs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        action = CATALOGUE[self.action_id]
        if self.entity_type not in action.entity_types:
            raise ValueError(f"{self.action_id} does not apply to {self.entity_type}")


@dataclass(frozen=True)
class Playbook:
    playbook_id: str
    title: str
    description: str
    steps: tuple[PlaybookStep, ...]


@dataclass(frozen=True)
class PlannedAction:
    step: int
    action_id: str
    target: str
    inputs: Mapping[str, Any]


def plan(playbook: Playbook, entities: Iterable[str]) -> list[PlannedAction]:
    """The playbook's actions for an incident with these "type:id" entities, in step order.

    Steps whose entity type the incident does not have are left out.
    """
    by_type: dict[str, list[str]] = {}
    for entity in entities:
        kind, _ = split_target(entity)
        by_type.setdefault(kind, []).append(entity)
    planned: list[PlannedAction] = []
    for step in playbook.steps:
        targets = (
            ["incident"]
            if step.entity_type == "incident"
            else by_type.get(step.entity_type, [])[:MAX_TARGETS_PER_STEP]
        )
        planned.extend(
            PlannedAction(len(planned), step.action_id, t, dict(step.inputs)) for t in targets
        )
    return planned


_PLAYBOOKS = (
    Playbook(
        "account_takeover",
        "Online-banking account takeover",
        "Lock the attacker out, stop money leaving, tell the customer, open a fraud ticket.",
        (
            PlaybookStep("revoke_sessions", "customer"),
            PlaybookStep("force_password_reset", "customer"),
            PlaybookStep("hold_outgoing_payments", "account"),
            PlaybookStep("block_device", "device"),
            PlaybookStep("notify_customer", "customer", {"template": "payment_held"}),
            PlaybookStep("open_case", "incident", {"queue": "fraud"}),
        ),
    ),
    Playbook(
        "card_fraud",
        "Card fraud",
        "Freeze the card, warn the customer, open a fraud ticket.",
        (
            PlaybookStep("freeze_card", "card"),
            PlaybookStep("notify_customer", "customer", {"template": "card_frozen"}),
            PlaybookStep("open_case", "incident", {"queue": "fraud"}),
        ),
    ),
    Playbook(
        "mule_account",
        "Money-mule account",
        "Freeze the account, prepare the suspicious activity report, open an AML ticket.",
        (
            PlaybookStep("freeze_account", "account"),
            PlaybookStep("file_suspicious_activity_report", "account"),
            PlaybookStep("open_case", "incident", {"queue": "aml"}),
        ),
    ),
    Playbook(
        "compromised_host",
        "Compromised host",
        "Contain the host, keep the evidence, block the attacker's addresses and accounts.",
        (
            PlaybookStep("isolate_host", "host"),
            PlaybookStep("collect_forensics", "host"),
            PlaybookStep("block_ip", "ip"),
            PlaybookStep("block_domain", "domain"),
            PlaybookStep("disable_user_account", "user"),
            PlaybookStep("open_case", "incident", {"queue": "soc"}),
        ),
    ),
)

#: The built-in playbooks by id.
PLAYBOOKS: dict[str, Playbook] = {p.playbook_id: p for p in _PLAYBOOKS}
