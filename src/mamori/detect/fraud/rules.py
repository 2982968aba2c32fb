"""The analysts' rule layer: conditions over features and fields, score weights, thresholds.

Rules live in a TOML file that fraud analysts edit (`rules.toml` beside this module is the
default; its header explains the format). A rule is a list of conditions that must all
hold; when it fires it adds its `score` to the model's and may set the least decision it
allows. Conditions are data, not code: only the listed operators exist, so an edited file
can never run anything. Rules are evaluated over whole columns at once, so one payment and
a million cost the same code.

>>> rules = RuleSet.from_toml('''
... [thresholds]
... review = 0.5
... decline = 0.9
... [[rule]]
... id = "big-online"
... title = "Large online payment"
... when = [["amount", ">", 1000], ["channel", "in", ["online", "card_not_present"]]]
... score = 0.3
... ''')
>>> import numpy as np
>>> hits = rules.evaluate({"amount": np.array([50.0, 5000.0]),
...     "channel": np.array(["online", "online"], dtype=object)}, 2)
>>> hits.tolist()
[[False], [True]]
"""

from __future__ import annotations

import operator
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_RULES = Path(__file__).with_name("rules.toml")
DECISIONS = ("approve", "review", "decline")

_NUMERIC: dict[str, Callable[[Any, Any], Any]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


class RuleError(ValueError):
    """A rules file that does not follow the format (with the rule and what is wrong)."""


@dataclass(frozen=True)
class Condition:
    name: str
    op: str
    value: Any

    def holds(self, column: np.ndarray) -> np.ndarray:
        """Where the condition holds over one column (a missing value never holds)."""
        if self.op in _NUMERIC:
            with np.errstate(invalid="ignore"):
                return np.asarray(_NUMERIC[self.op](column.astype(np.float64), self.value))
        present = np.array([v is not None and v == v for v in column], dtype=bool) if (
            column.dtype == object
        ) else ~np.isnan(column)
        if self.op in ("in", "not_in"):
            inside = np.isin(column, list(self.value))
            return present & (inside if self.op == "in" else ~inside)
        equal = column == self.value
        return present & (equal if self.op == "==" else ~equal)


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    when: tuple[Condition, ...]
    score: float
    action: str  # the least decision when it fires: approve (none), review or decline


@dataclass(frozen=True)
class RuleSet:
    review: float
    decline: float
    rules: tuple[Rule, ...]

    @classmethod
    def from_toml(cls, text: str) -> RuleSet:
        data = tomllib.loads(text)
        limits = data.get("thresholds", {})
        review, decline = float(limits.get("review", 0.5)), float(limits.get("decline", 0.9))
        if not 0 <= review <= decline <= 1:
            raise RuleError(f"thresholds must satisfy 0 <= review <= decline <= 1: {limits}")
        return cls(review, decline, tuple(_rule(r) for r in data.get("rule", [])))

    @classmethod
    def load(cls, path: Path | str = DEFAULT_RULES) -> RuleSet:
        return cls.from_toml(Path(path).read_text())

    @property
    def names(self) -> set[str]:
        """Every feature or field a condition reads."""
        return {c.name for r in self.rules for c in r.when}

    def evaluate(self, columns: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        """An (n, rules) boolean matrix: which rule fires on which row."""
        hits = np.ones((n, len(self.rules)), dtype=bool)
        for j, rule in enumerate(self.rules):
            for cond in rule.when:
                column = columns.get(cond.name)
                hits[:, j] &= (
                    cond.holds(column) if column is not None else np.zeros(n, dtype=bool)
                )
        return hits

    def weights(self) -> np.ndarray:
        return np.array([r.score for r in self.rules], dtype=np.float64)

    def least_decisions(self) -> np.ndarray:
        return np.array([DECISIONS.index(r.action) for r in self.rules], dtype=np.int8)


def _rule(raw: dict[str, Any]) -> Rule:
    rid = raw.get("id", "?")
    try:
        when = tuple(Condition(str(n), str(op), v) for n, op, v in raw["when"])
        action = str(raw.get("action", "approve"))
        rule = Rule(str(raw["id"]), str(raw.get("title", raw["id"])), when,
                    float(raw.get("score", 0.0)), action)
    except (KeyError, TypeError, ValueError) as err:
        raise RuleError(f"rule {rid}: {err!r} (needs id, when = [[name, op, value], …])") from err
    if action not in DECISIONS:
        raise RuleError(f"rule {rid}: action {action!r} is not one of {DECISIONS}")
    for cond in when:
        if cond.op in _NUMERIC and not isinstance(cond.value, int | float):
            raise RuleError(f"rule {rid}: {cond.name} {cond.op} needs a number")
        if cond.op in ("in", "not_in") and not isinstance(cond.value, list):
            raise RuleError(f"rule {rid}: {cond.name} {cond.op} needs a list")
        if cond.op not in (*_NUMERIC, "==", "!=", "in", "not_in"):
            raise RuleError(f"rule {rid}: unknown operator {cond.op!r}")
    if not when:
        raise RuleError(f"rule {rid}: no conditions")
    return rule
