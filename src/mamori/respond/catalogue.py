"""The response catalogue: every action a person, a rule or the AI analyst may propose.

This is the single source of truth for response actions; the AI analyst's schema checks its
proposals against `CATALOGUE`, and the response desk (`mamori.respond.desk`) refuses
anything not in it. Each action says what it does, on which kinds of entity, how much harm
a mistake would do (its *impact*), which inputs it takes, and which action undoes it.

Impact decides approval: ``high`` needs two different responders besides the proposer
(four eyes); ``low`` and ``medium`` need one responder who is not the proposer.

>>> CATALOGUE["freeze_account"].impact, CATALOGUE["freeze_account"].undo
('high', 'unfreeze_account')
>>> CATALOGUE["freeze_account"].reversible
True
>>> sorted(a.action_id for a in actions_for("ip"))
['block_ip']
>>> resolve_inputs(CATALOGUE["block_ip"], "ip:203.0.113.9", {})
{'duration_hours': 24}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "CATALOGUE",
    "IMPACTS",
    "UNDO_ACTIONS",
    "Action",
    "ActionInput",
    "CatalogueError",
    "Impact",
    "actions_for",
    "approvals_needed",
    "lookup",
    "resolve_inputs",
    "split_target",
]

Impact = Literal["low", "medium", "high"]
IMPACTS: tuple[Impact, ...] = ("low", "medium", "high")


class CatalogueError(ValueError):
    """An action that is not in the catalogue, or inputs it does not accept."""


@dataclass(frozen=True)
class ActionInput:
    """One parameter of an action besides its target entity."""

    name: str
    label: str
    kind: Literal["text", "int", "choice"] = "text"
    required: bool = False
    default: str | int | None = None
    choices: tuple[str, ...] = ()

    def parse(self, value: Any) -> str | int:
        """The value in this input's type, or `CatalogueError`."""
        if self.kind == "int":
            try:
                number = int(value)
            except (TypeError, ValueError):
                raise CatalogueError(f"{self.name} must be a whole number, not {value!r}") from None
            if number < 0:
                raise CatalogueError(f"{self.name} must not be negative")
            return number
        text = str(value).strip()
        if self.kind == "choice" and text not in self.choices:
            raise CatalogueError(f"{self.name} must be one of {', '.join(self.choices)}")
        if len(text) > 2000:
            raise CatalogueError(f"{self.name} is longer than 2000 characters")
        return text


@dataclass(frozen=True)
class Action:
    """One response: what it does, on which entity types, its impact, inputs and undo."""

    action_id: str
    title: str
    entity_types: tuple[str, ...]
    impact: Impact
    description: str
    inputs: tuple[ActionInput, ...] = field(default=())
    undo: str | None = None

    @property
    def reversible(self) -> bool:
        """Whether another catalogue action reverses this one."""
        return self.undo is not None


def _hours(default: int) -> ActionInput:
    return ActionInput("duration_hours", "Duration (hours, 0: until undone)", "int", False, default)


_REASON = ActionInput("note", "Note for the team carrying it out")

_ACTIONS: tuple[Action, ...] = (
    Action(
        "block_ip",
        "Block the address",
        ("ip",),
        "medium",
        "Block the address at the perimeter firewall and the online-banking edge.",
        (_hours(24),),
        "unblock_ip",
    ),
    Action(
        "block_domain",
        "Block the domain",
        ("domain",),
        "medium",
        "Sinkhole the name in the bank's resolvers and block it at the web proxy.",
        (_hours(0),),
        "unblock_domain",
    ),
    Action(
        "block_device",
        "Block the device",
        ("device",),
        "medium",
        "Refuse logins and payments from the device fingerprint.",
        (_hours(0),),
        "unblock_device",
    ),
    Action(
        "isolate_host",
        "Isolate the host",
        ("host",),
        "high",
        "Cut the host off the network through the EDR, keeping only the forensic channel.",
        (_REASON,),
        "release_host",
    ),
    Action(
        "collect_forensics",
        "Collect forensic evidence",
        ("host",),
        "low",
        "Take memory and disk triage images of the host through the EDR.",
    ),
    Action(
        "disable_user_account",
        "Disable the staff account",
        ("user",),
        "high",
        "Disable an employee or service account in the directory.",
        (_REASON,),
        "enable_user_account",
    ),
    Action(
        "force_password_reset",
        "Force a password reset",
        ("customer", "user"),
        "medium",
        "Invalidate the password; the owner sets a new one through a verified channel.",
    ),
    Action(
        "revoke_sessions",
        "Revoke sessions",
        ("customer", "user", "device"),
        "low",
        "End every open session and refresh token of the entity.",
    ),
    Action(
        "step_up_authentication",
        "Require step-up authentication",
        ("customer", "user"),
        "low",
        "Ask for a second factor at the next login and for every new payee.",
        (_hours(72),),
        "end_step_up_authentication",
    ),
    Action(
        "freeze_account",
        "Freeze the account",
        ("account", "customer"),
        "high",
        "Stop every debit from the account; credits are still accepted.",
        (_REASON,),
        "unfreeze_account",
    ),
    Action(
        "freeze_card",
        "Freeze the card",
        ("card",),
        "medium",
        "Decline new authorisations on the card until it is unfrozen.",
        (),
        "unfreeze_card",
    ),
    Action(
        "hold_outgoing_payments",
        "Hold outgoing payments",
        ("account", "customer"),
        "high",
        "Queue the account's outgoing transfers for manual release.",
        (_hours(24),),
        "release_outgoing_payments",
    ),
    Action(
        "hold_payment",
        "Hold a payment",
        ("account", "transaction"),
        "medium",
        "Stop one payment before settlement and queue it for review.",
        (ActionInput("payment_ref", "Payment reference", required=True),),
        "release_payment",
    ),
    Action(
        "recall_payment",
        "Recall a payment",
        ("account", "transaction"),
        "high",
        "Ask the beneficiary bank to return a settled payment (a recall cannot be undone).",
        (
            ActionInput("payment_ref", "Payment reference", required=True),
            ActionInput(
                "reason_code",
                "Recall reason",
                "choice",
                False,
                "FRAD",
                ("FRAD", "DUPL", "TECH", "CUST"),
            ),
        ),
    ),
    Action(
        "notify_customer",
        "Notify the customer",
        ("customer", "account", "card"),
        "low",
        "Send the customer a fraud warning through the app and by SMS.",
        (
            ActionInput(
                "template",
                "Message",
                "choice",
                False,
                "suspicious_activity",
                ("suspicious_activity", "card_frozen", "account_frozen", "payment_held"),
            ),
        ),
    ),
    Action(
        "contact_customer",
        "Contact the customer",
        ("customer", "account", "card"),
        "low",
        "Call the customer on the number on file to confirm the activity.",
    ),
    Action(
        "open_case",
        "Open a ticket",
        ("incident",),
        "low",
        "Open a ticket for the fraud or SOC team with the incident's evidence.",
        (
            ActionInput(
                "queue", "Queue", "choice", False, "soc", ("soc", "fraud", "aml", "it-security")
            ),
        ),
    ),
    Action(
        "escalate",
        "Escalate to the on-call lead",
        ("incident",),
        "low",
        "Page the on-call incident lead with the triage.",
    ),
    Action(
        "file_suspicious_activity_report",
        "Prepare a suspicious activity report",
        ("customer", "account"),
        "medium",
        "Draft a report to the financial intelligence unit for the compliance officer.",
    ),
)


def _undo(action_id: str, title: str, of: str, impact: Impact, description: str) -> Action:
    original = next(a for a in _ACTIONS if a.action_id == of)
    return Action(action_id, title, original.entity_types, impact, description)


#: Actions that reverse another; they are proposed through `ResponseDesk.propose_undo`.
UNDO_ACTIONS: dict[str, Action] = {
    a.action_id: a
    for a in (
        _undo("unblock_ip", "Unblock the address", "block_ip", "low", "Lift the address block."),
        _undo("unblock_domain", "Unblock the domain", "block_domain", "low", "Lift the block."),
        _undo("unblock_device", "Unblock the device", "block_device", "low", "Lift the block."),
        _undo("release_host", "Release the host", "isolate_host", "medium", "Reconnect it."),
        _undo(
            "enable_user_account",
            "Enable the staff account",
            "disable_user_account",
            "medium",
            "Re-enable the account in the directory.",
        ),
        _undo(
            "end_step_up_authentication",
            "End step-up authentication",
            "step_up_authentication",
            "low",
            "Return to the usual authentication.",
        ),
        _undo(
            "unfreeze_account",
            "Unfreeze the account",
            "freeze_account",
            "high",
            "Allow debits again.",
        ),
        _undo("unfreeze_card", "Unfreeze the card", "freeze_card", "medium", "Allow the card."),
        _undo(
            "release_outgoing_payments",
            "Release outgoing payments",
            "hold_outgoing_payments",
            "high",
            "Release the queued transfers.",
        ),
        _undo(
            "release_payment",
            "Release the payment",
            "hold_payment",
            "medium",
            "Let the held payment settle.",
        ),
    )
}

#: Every proposable action by id.
CATALOGUE: dict[str, Action] = {a.action_id: a for a in _ACTIONS}


def lookup(action_id: str) -> Action:
    """A catalogue or undo action by id, or `CatalogueError`."""
    action = CATALOGUE.get(action_id) or UNDO_ACTIONS.get(action_id)
    if action is None:
        raise CatalogueError(f"{action_id!r} is not in the response catalogue")
    return action


def actions_for(entity_type: str) -> list[Action]:
    """The catalogue's actions that apply to an entity type."""
    return [a for a in _ACTIONS if entity_type in a.entity_types]


def approvals_needed(impact: Impact) -> int:
    """How many distinct approvers, none of them the proposer, an action of this impact needs."""
    return 2 if impact == "high" else 1


def split_target(target: str) -> tuple[str, str]:
    """("type", "id") from "type:id"; the bare word "incident" is ("incident", "")."""
    if target == "incident":
        return "incident", ""
    kind, sep, ident = target.partition(":")
    if not sep or not kind or not ident:
        raise CatalogueError(f'target {target!r} is not "type:id"')
    return kind, ident


def resolve_inputs(action: Action, target: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """Check the target's type and the inputs; return the inputs with defaults filled."""
    kind, _ = split_target(target)
    if kind not in action.entity_types:
        raise CatalogueError(
            f"{action.action_id} applies to {', '.join(action.entity_types)}, not {kind}"
        )
    known = {i.name: i for i in action.inputs}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise CatalogueError(f"{action.action_id} takes no input {', '.join(unknown)}")
    resolved: dict[str, Any] = {}
    for spec in action.inputs:
        value = given.get(spec.name)
        if value is None or value == "":
            if spec.required:
                raise CatalogueError(f"{action.action_id} needs {spec.name} ({spec.label})")
            if spec.default is not None:
                resolved[spec.name] = spec.default
            continue
        resolved[spec.name] = spec.parse(value)
    return resolved
