"""What an alert says about a Sigma rule: severity, score, kill-chain stage, ATT&CK ids.

>>> from sigma.rule import SigmaRuleTag
>>> tags = [SigmaRuleTag("attack", "credential-access"), SigmaRuleTag("attack", "t1003.001")]
>>> stage(tags), techniques(tags)
('credential_access', ['T1003.001'])
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sigma.rule import SigmaLevel, SigmaRuleTag

from mamori.events.stages import STAGES

#: Sigma level → alert score.
SCORES: dict[str, float] = {
    "informational": 0.1,
    "low": 0.3,
    "medium": 0.5,
    "high": 0.75,
    "critical": 0.95,
}
_TECHNIQUE = re.compile(r"^t\d{4}(\.\d{3})?$")
_TACTICS = frozenset(STAGES[:14])  # the ATT&CK tactics (the rest are fraud stages)


def severity(level: SigmaLevel | None) -> str:
    """The alert severity of a rule level (rules without a level are medium)."""
    return str(level.name).lower() if level is not None else "medium"


def score(level: SigmaLevel | None) -> float:
    """The alert score of a rule level."""
    return SCORES[severity(level)]


def stage(tags: Iterable[SigmaRuleTag]) -> str | None:
    """The stage of the first ATT&CK tactic tag (attack.defense-evasion → defense_evasion)."""
    for tag in tags:
        if tag.namespace == "attack":
            name = tag.name.lower().replace("-", "_")
            if name in _TACTICS:
                return name
    return None


def techniques(tags: Iterable[SigmaRuleTag]) -> list[str]:
    """ATT&CK technique ids from tags (attack.t1059.001 → T1059.001), in tag order."""
    out = [
        t.name.upper() for t in tags if t.namespace == "attack" and _TECHNIQUE.match(t.name.lower())
    ]
    return list(dict.fromkeys(out))
