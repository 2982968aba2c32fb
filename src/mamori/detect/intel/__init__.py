"""Threat-intel matching: STIX 2.1 and MISP indicators against every stream kind.

>>> from mamori.detect.intel import IntelMatcher, load_intel  # doctest: +SKIP
>>> matcher = IntelMatcher(load_intel([Path("feeds/")]))  # doctest: +SKIP
"""

from mamori.detect.intel.loading import intel_files, load_intel
from mamori.detect.intel.matcher import IntelMatcher
from mamori.detect.intel.model import INDICATOR, IntelSet, Skipped, observable
from mamori.detect.intel.stix import IntelFormatError, UnsupportedPattern, pattern_clauses

__all__ = [
    "INDICATOR",
    "IntelFormatError",
    "IntelMatcher",
    "IntelSet",
    "Skipped",
    "UnsupportedPattern",
    "intel_files",
    "load_intel",
    "observable",
    "pattern_clauses",
]
