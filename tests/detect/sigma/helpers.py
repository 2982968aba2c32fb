"""Small helpers for the Sigma tests: a rule from a detection, and the rows it matches."""

from __future__ import annotations

from typing import Any

import polars as pl
import yaml
from sigma.policy import SigmaPolicy
from sigma.rule import SigmaRule

from mamori.detect.sigma import CompiledRule, SigmaCompileError, compile_rule, prepare


def rule(
    detection: dict[str, Any],
    logsource: dict[str, str] | None = None,
    placeholders: dict[str, list[str]] | None = None,
    policy: SigmaPolicy | None = None,
    **meta: Any,
) -> CompiledRule:
    """A compiled rule with this detection (process_creation unless said otherwise)."""
    doc = {
        "title": meta.pop("title", "test rule"),
        "id": meta.pop("id", "5d1c8b7e-0000-4000-8000-000000000001"),
        "logsource": logsource or {"product": "windows", "category": "process_creation"},
        "detection": detection,
        **meta,
    }
    try:
        parsed = SigmaRule.from_yaml(yaml.safe_dump(doc), policy=policy)
    except Exception as err:  # pySigma refuses it at parse time: report like the loader does
        raise SigmaCompileError(f"{type(err).__name__}: {err}") from err
    return compile_rule(parsed, placeholders)


def hits(detection: dict[str, Any], rows: list[dict[str, Any]], **kw: Any) -> list[int]:
    """Indices of the rows the detection matches."""
    compiled = rule(detection, **kw)
    frame = pl.DataFrame(rows, infer_schema_length=None)
    ready = prepare(frame, compiled.fields, compiled.lowercase, compiled.keywords)
    mask = ready.select(compiled.condition).to_series()
    return [i for i, m in enumerate(mask.to_list()) if m]
