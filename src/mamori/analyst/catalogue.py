"""The response catalogue: the only actions the AI analyst may propose.

A plain data catalogue. The analyst proposes an action by its `action_id` on one of the
incident's entities; nothing here runs anything. Playbooks (``mamori.respond``) carry out
an action only after a person approves it.

>>> CATALOGUE["freeze_card"].entity_types
('card',)
>>> "wire_transfer" in CATALOGUE
False
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CATALOGUE", "ResponseAction", "actions_for"]


@dataclass(frozen=True)
class ResponseAction:
    """One proposable response: what it does, on which kinds of entity, and whether it can
    be undone."""

    action_id: str
    title: str
    entity_types: tuple[str, ...]
    reversible: bool
    description: str


_ACTIONS = (
    ResponseAction(
        "freeze_card",
        "Freeze the card",
        ("card",),
        True,
        "Decline new authorisations on the card until it is unfrozen.",
    ),
    ResponseAction(
        "hold_outgoing_payments",
        "Hold outgoing payments",
        ("account", "customer"),
        True,
        "Queue the account's outgoing transfers for manual release.",
    ),
    ResponseAction(
        "step_up_authentication",
        "Require step-up authentication",
        ("customer", "user"),
        True,
        "Ask for a second factor at the next login and for every new payee.",
    ),
    ResponseAction(
        "force_password_reset",
        "Force a password reset",
        ("customer", "user"),
        True,
        "Invalidate the password; the owner sets a new one through a verified channel.",
    ),
    ResponseAction(
        "revoke_sessions",
        "Revoke sessions",
        ("customer", "user", "device"),
        True,
        "End every open session and refresh token of the entity.",
    ),
    ResponseAction(
        "disable_user_account",
        "Disable the staff account",
        ("user",),
        True,
        "Disable an employee or service account in the directory.",
    ),
    ResponseAction(
        "isolate_host",
        "Isolate the host",
        ("host",),
        True,
        "Cut the host off the network except for the EDR and forensic channel.",
    ),
    ResponseAction(
        "block_ip",
        "Block the address",
        ("ip",),
        True,
        "Block the address at the perimeter and the online-banking edge.",
    ),
    ResponseAction(
        "block_domain",
        "Block the domain",
        ("domain",),
        True,
        "Sinkhole the name in the bank's resolvers and block it at the proxy.",
    ),
    ResponseAction(
        "block_device",
        "Block the device",
        ("device",),
        True,
        "Refuse logins from the device fingerprint.",
    ),
    ResponseAction(
        "contact_customer",
        "Contact the customer",
        ("customer", "account", "card"),
        True,
        "Call the customer on the number on file to confirm the activity.",
    ),
    ResponseAction(
        "collect_forensics",
        "Collect forensic evidence",
        ("host",),
        True,
        "Take memory and disk triage images of the host.",
    ),
    ResponseAction(
        "file_suspicious_activity_report",
        "Prepare a suspicious activity report",
        ("customer", "account"),
        False,
        "Draft a report to the financial intelligence unit for the compliance officer.",
    ),
    ResponseAction(
        "escalate",
        "Escalate to the on-call lead",
        ("incident",),
        True,
        "Page the on-call incident lead with the triage.",
    ),
    ResponseAction(
        "open_case",
        "Open an investigation case",
        ("incident",),
        True,
        "Open a case for the fraud or SOC team with the incident's evidence.",
    ),
)

#: Every proposable action by id.
CATALOGUE: dict[str, ResponseAction] = {a.action_id: a for a in _ACTIONS}


def actions_for(entity_type: str) -> list[ResponseAction]:
    """The catalogue's actions that apply to an entity type."""
    return [a for a in _ACTIONS if entity_type in a.entity_types]
