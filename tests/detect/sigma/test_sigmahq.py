"""SigmaHQ's own rules and regression data (skipped without the shared data folder)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from mamori.detect.sigma import load_rules
from mamori.evaluate.sigma import regression

FOLDERS = ("rules", "rules-emerging-threats", "rules-threat-hunting")


@pytest.fixture(scope="module")
def sigma_root(data_root: Path) -> Path:
    root = data_root / "sigma"
    if not (root / "rules").is_dir():
        pytest.skip(f"SigmaHQ rules not found under {root}")
    return root


@pytest.fixture(scope="module")
def sigmahq(sigma_root: Path):
    return load_rules(*(sigma_root / f for f in FOLDERS))


def test_compile_rate_on_sigmahq_rules(sigmahq):
    rules, report = sigmahq
    assert report.total > 3000
    assert report.rate >= 0.99, report.summary()
    # the only failures are the rules that need a site-specific placeholder list
    assert {f.reason for f in report.failed} <= {
        "unknown placeholder %known_cdcs% (no mapping given)"
    }, report.summary()
    assert len(rules) == report.compiled


def test_regression_data_passes(sigma_root: Path, sigmahq):
    rules, _ = sigmahq
    result = regression(sigma_root / "regression_data", [], rules=rules)
    assert result["total"] == 202
    assert result["passed"] == 202, result["failures"][:5]


def test_prefilter_agrees_with_plain_expressions(sigma_root: Path, sigmahq):
    """The shared multi-pattern prefilter only skips work: on every regression EVTX file,
    every rule matches the same rows with it as with the plain compiled expressions, and
    the alerts are the same."""
    from polars.testing import assert_frame_equal

    from mamori.detect.sigma import SigmaDetector
    from mamori.evaluate.sigma import read_evtx

    rules, _ = sigmahq
    files = sorted((sigma_root / "regression_data").rglob("*.evtx"))
    assert len(files) >= 200
    frame = pl.concat([read_evtx(f) for f in files], how="diagonal_relaxed")
    frame = frame.with_columns(event_id=pl.lit("r") + pl.int_range(pl.len()).cast(pl.String))
    fast, plain = SigmaDetector(rules), SigmaDetector(rules, prefilter=False)
    assert any(plan.needles for plan in fast._plans.values())
    assert not any(plan.needles for plan in plain._plans.values())
    got, want = fast.matches(frame), plain.matches(frame)
    assert len(want) >= 190
    assert got.keys() == want.keys()
    for rule_id, mask in want.items():
        assert got[rule_id].to_list() == mask.to_list(), rule_id
    assert_frame_equal(fast.process(frame), plain.process(frame))
