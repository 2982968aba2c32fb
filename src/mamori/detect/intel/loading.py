"""Loading threat intelligence from files and folders: STIX bundles and MISP exports.

Each JSON file is recognised by its content (a STIX bundle has `"type": "bundle"`, a MISP
export an `Event`), so feeds of both kinds can share a folder. A file that is neither, or
not JSON, stops the load with an error naming it: a bank should not run on half its intel
without knowing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

from mamori.detect.intel.misp import from_misp
from mamori.detect.intel.model import IntelSet
from mamori.detect.intel.stix import IntelFormatError, from_bundle, is_bundle, read_json


def intel_files(paths: Iterable[Path]) -> list[Path]:
    """The JSON files named, or found under the folders named, in a stable order."""
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*.json") if p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise IntelFormatError(f"{path}: no such file or folder")
    return files


def load_intel(paths: Iterable[Path], max_age: timedelta | None = None) -> IntelSet:
    """Every indicator in the STIX bundles and MISP exports at `paths` (files or folders).

    `max_age` limits MISP attributes to that long after their last sighting or change.
    """
    intel = IntelSet()
    for file in intel_files(paths):
        doc = read_json(file)
        intel.extend(from_bundle(doc, file) if is_bundle(doc) else from_misp(doc, file, max_age))
    return intel
