"""Loading Sigma rules from YAML files and folders, with a report of what did not compile.

Every file is parsed with pySigma (`SigmaCollection.from_yaml`, errors collected rather than
raised) and each rule compiled (`compile_rule`). Nothing is dropped silently: a rule that
cannot be parsed or compiled is listed in the `CompileReport` with its path and the reason,
and a rule whose log source has no Windows event log is counted as unrouted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

from mamori.detect.sigma.compiler import CompiledRule, SigmaCompileError, compile_rule
from mamori.detect.sigma.logsource import route_for


@dataclass(frozen=True)
class Failure:
    """A rule (or file) that could not be used, and why."""

    path: str
    reason: str
    rule_id: str | None = None
    title: str | None = None


@dataclass
class CompileReport:
    """How a load went: rules compiled, rules failed (with reasons), rules without a route."""

    compiled: int = 0
    failed: list[Failure] = field(default_factory=list)
    unrouted: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Rules seen (compiled or failed)."""
        return self.compiled + len(self.failed)

    @property
    def rate(self) -> float:
        """Share of rules that compiled."""
        return self.compiled / self.total if self.total else 1.0

    def reasons(self) -> Counter[str]:
        """Failures grouped by the first words of their reason."""
        return Counter(_reason_group(f.reason) for f in self.failed)

    def summary(self) -> str:
        """One line per failure group, after the totals."""
        lines = [
            f"compiled {self.compiled}/{self.total} ({self.rate:.1%}); "
            f"{len(self.unrouted)} compiled rules have no Windows log source"
        ]
        lines += [f"  {n:4d}  {reason}" for reason, n in self.reasons().most_common()]
        return "\n".join(lines)


def _reason_group(reason: str) -> str:
    return reason.split(":")[0][:80]


def rule_files(paths: Iterable[Path | str]) -> list[Path]:
    """YAML files under the given files and folders, sorted."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml")))
        else:
            files.append(path)
    return files


def load_rules(
    *paths: Path | str,
    placeholders: Mapping[str, Sequence[str]] | None = None,
    routed_only: bool = False,
) -> tuple[list[CompiledRule], CompileReport]:
    """Compile the Sigma rules in files and folders; returns the rules and the report.

    With `routed_only`, rules whose log source has no Windows route are left out of the
    returned list (they are still counted as compiled, and listed in `report.unrouted`).
    """
    report = CompileReport()
    compiled: list[CompiledRule] = []
    for file in rule_files(paths):
        try:
            collection = SigmaCollection.from_yaml(file.read_text(), collect_errors=True)
        except Exception as err:  # unreadable YAML: the whole file fails
            report.failed.append(Failure(str(file), f"unparsable file: {err}"))
            continue
        for item in collection.rules:
            rid = str(item.id) if item.id else None
            if not isinstance(item, SigmaRule):
                report.failed.append(
                    Failure(
                        str(file),
                        f"{type(item).__name__} not supported yet (stateless detector)",
                        rid,
                        item.title,
                    )
                )
                continue
            try:
                rule = compile_rule(item, placeholders, path=str(file))
            except SigmaCompileError as err:
                report.failed.append(Failure(str(file), str(err), rid, item.title))
                continue
            report.compiled += 1
            if route_for(item.logsource) is None:
                report.unrouted.append(str(file))
                if routed_only:
                    continue
            compiled.append(rule)
    return compiled, report
