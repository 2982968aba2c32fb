"""Evaluating the Sigma detector: SigmaHQ's regression data and the compile rate.

SigmaHQ ships `regression_data/`: one folder per tested rule with an `info.yml` (the rule id,
the EVTX file, and how many events of it must match), the EVTX file and a JSON dump of its
events. `regression` runs each named rule over its EVTX file with the
`SigmaDetector` and checks how many of its events the rule matches:
`match_count` (default 1) is the number of events that must at least match: the JSON
next to each file is a dump of all its events, not only the matching ones, and some files
hold more matching events than `match_count` says (e.g. three AnyDesk `user.conf` writes
for a count of one), so the count is a floor, not an exact figure.

The EVTX files are read with the events package's reader, as `mamori run` reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from mamori.detect.sigma import CompiledRule, CompileReport, SigmaDetector, load_rules
from mamori.events.readers import read_path
from mamori.events.schema import empty

Reader = Callable[[Path], pl.DataFrame]


def read_evtx(path: Path) -> pl.DataFrame:
    """An EVTX file as one `winlog` batch, through the events package's reader."""
    batches = list(read_path(path, kind="winlog", tenant="regression"))
    return pl.concat(batches, how="diagonal_relaxed") if batches else empty("winlog")


def _tests(root: Path) -> Iterable[tuple[Path, dict[str, Any]]]:
    for info in sorted(root.rglob("info.yml")):
        doc = yaml.safe_load(info.read_text()) or {}
        yield info, doc


def regression(
    root: Path | str,
    rules_dirs: Iterable[Path | str],
    read: Reader = read_evtx,
    rules: Iterable[CompiledRule] | None = None,
) -> dict[str, Any]:
    """Run SigmaHQ's regression tests under `root` with the rules found in `rules_dirs`
    (or the already compiled `rules`).

    Returns ``{"passed", "total", "failures": [{"rule_id", "file", "reason"}]}``; tests
    of other log types than EVTX are not counted.
    """
    root = Path(root)
    if rules is None:
        rules, _ = load_rules(*rules_dirs)
    by_id = {r.id: r for r in rules}
    passed, total, failures = 0, 0, []
    for info, doc in _tests(root):
        rule_ids = [m.get("id") for m in doc.get("rule_metadata") or []]
        for test in doc.get("regression_tests_info") or []:
            if test.get("type") != "evtx":
                continue
            total += 1
            file = root.parent / test["path"]
            if not file.exists():
                file = info.parent / Path(test["path"]).name
            reason = _check(rule_ids[0] if rule_ids else None, by_id, file, test, read)
            if reason is None:
                passed += 1
            else:
                failures.append(
                    {
                        "rule_id": rule_ids[0] if rule_ids else None,
                        "file": str(file),
                        "reason": reason,
                    }
                )
    return {"passed": passed, "total": total, "failures": failures}


def _check(
    rule_id: str | None,
    by_id: dict[str, CompiledRule],
    file: Path,
    test: dict[str, Any],
    read: Reader,
) -> str | None:
    """None when the test passes, else why not."""
    rule = by_id.get(rule_id or "")
    if rule is None:
        return f"rule {rule_id} not found or not compiled"
    detector = SigmaDetector([rule])
    if not detector.routes:
        return f"rule log source {rule.rule.logsource} has no Windows route"
    batch = read(file)
    mask = detector.matches(batch).get(rule.id)
    matched = set() if mask is None else set(batch.filter(mask)["EventRecordID"].to_list())
    want = int(test.get("match_count") or 1)
    if len(matched) < want:
        return f"matched {len(matched)} events, expected at least {want}"
    return None


def compile_report(dirs: Iterable[Path | str]) -> CompileReport:
    """The compile report of all Sigma rules under the given folders."""
    return load_rules(*dirs)[1]
