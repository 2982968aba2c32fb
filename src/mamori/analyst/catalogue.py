"""The response catalogue as the AI analyst sees it: the actions it may propose.

There is one catalogue, `mamori.respond.catalogue` (the response desk's); this module only
re-exports it, so the analyst's schema, prompt and offline analyst check proposals against
exactly the actions the desk will accept. ``ResponseAction`` is the desk's `Action` (id,
title, entity types, impact, description, inputs, undo; ``reversible`` when it has an
undo). The analyst proposes an action by its id on one of the incident's entities; nothing
here runs anything, and the desk carries it out only after people approve it. The analyst
may import the response layer, never the other way round.

>>> CATALOGUE["freeze_card"].entity_types
('card',)
>>> "wire_transfer" in CATALOGUE, CATALOGUE["recall_payment"].reversible
(False, False)
>>> [a.action_id for a in actions_for("domain")]
['block_domain']
"""

from __future__ import annotations

from mamori.respond.catalogue import CATALOGUE, actions_for
from mamori.respond.catalogue import Action as ResponseAction

__all__ = ["CATALOGUE", "ResponseAction", "actions_for"]
