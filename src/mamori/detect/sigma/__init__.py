"""Sigma rules on Windows events: load SigmaHQ YAML with pySigma, compile each rule's
detection to Polars expressions, and run them over `winlog` batches.

* `loading` — files and folders to compiled rules, with a `CompileReport` of failures;
* `logsource` — which channels and event ids each Sigma log source covers;
* `strings` — Sigma wildcard strings as Polars string tests;
* `compiler` — detections, modifiers and conditions as Polars expressions;
* `metadata` — severity, score, stage and ATT&CK ids from a rule's level and tags;
* `detector` — `SigmaDetector`, the detector protocol over all of it.

Typical use::

    detector = SigmaDetector.from_paths("sigma/rules/windows")
    print(detector.report.summary())
    alerts = detector.process(winlog_batch)
"""

from mamori.detect.sigma.compiler import CompiledRule, SigmaCompileError, compile_rule, prepare
from mamori.detect.sigma.detector import SigmaDetector
from mamori.detect.sigma.loading import CompileReport, Failure, load_rules
from mamori.detect.sigma.logsource import Route, route_for

__all__ = [
    "CompileReport",
    "CompiledRule",
    "Failure",
    "Route",
    "SigmaCompileError",
    "SigmaDetector",
    "compile_rule",
    "load_rules",
    "prepare",
    "route_for",
]
