"""The model card: what a model is, what it was trained on, and how well it did.

Saved as JSON beside the model (``card.json``), so a person can read it and a model can be
loaded without pickle: it carries the feature layout, the classes, the calibration and the
class-level explanations, with the training data's description, the metrics measured and
the date.

>>> card = ModelCard(name="intrusion", classes=["normal", "dos"], data={"rows": 10})
>>> ModelCard.from_json(card.to_json()).classes
['normal', 'dos']
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class ModelCard:
    """A model's description, metrics and the settings it needs to predict."""

    name: str
    classes: list[str]
    version: str = "1"
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    model_type: str = "lightgbm multiclass gradient-boosted trees"
    intended_use: str = (
        "Rank flows by the known intrusion class they most resemble; pair with the novelty "
        "score for attacks no training label names. Not a verdict on its own."
    )
    data: dict[str, Any] = field(default_factory=dict)
    features: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    class_explanations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    limitations: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=str)

    @classmethod
    def from_json(cls, text: str) -> ModelCard:
        return cls(**json.loads(text))
