"""The model registry: versioned fraud models, promotion, roll-back and shadow mode.

A registry is a folder::

    models/<version>/model.txt      LightGBM's text format
    models/<version>/anomaly.json   HBOS histograms
    models/<version>/card.json      model card: data window, features, metrics, date
    registry.json                   which version is in production, which in shadow,
                                    and the history of promotions

`promote(v)` puts a version in production (the previous one stays in the history, so
`rollback()` can go back to it); `shadow(v)` runs a version beside production: its scores
are logged with every decision and never acted on. Files are plain text and JSON; nothing
is unpickled.

>>> import tempfile
>>> reg = ModelRegistry(tempfile.mkdtemp())
>>> reg.production() is None, reg.versions()
(True, [])
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mamori.detect.fraud.model import FraudModel

_VERSION = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


class RegistryError(ValueError):
    """An unknown version, or nothing to roll back to."""


class ModelRegistry:
    """Versioned model files in one folder, with production and shadow pointers."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        (self.root / "models").mkdir(parents=True, exist_ok=True)

    # --- state ---------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        path = self.root / "registry.json"
        if not path.exists():
            return {"production": None, "shadow": None, "history": []}
        return dict(json.loads(path.read_text()))

    def _save(self, state: dict[str, Any]) -> None:
        tmp = self.root / "registry.json.tmp"
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.root / "registry.json")

    def _folder(self, version: str) -> Path:
        if not _VERSION.match(version):
            raise RegistryError(f"not a model version: {version!r}")
        folder = self.root / "models" / version
        if not (folder / "card.json").exists():
            raise RegistryError(f"no model {version!r} in {self.root}")
        return folder

    # --- use -----------------------------------------------------------------------------

    def add(self, model: FraudModel) -> str:
        """Store a model under its version (from its card); returns the version."""
        version = model.version
        if not _VERSION.match(version):
            raise RegistryError(f"not a model version: {version!r}")
        model.save(self.root / "models" / version)
        return version

    def versions(self) -> list[str]:
        folders = (self.root / "models").iterdir()
        return sorted(p.name for p in folders if (p / "card.json").exists())

    def card(self, version: str) -> dict[str, Any]:
        return dict(json.loads((self._folder(version) / "card.json").read_text()))

    def load(self, version: str) -> FraudModel:
        return FraudModel.load(self._folder(version))

    def production(self) -> str | None:
        return self._state()["production"]

    def shadow_version(self) -> str | None:
        return self._state()["shadow"]

    def promote(self, version: str) -> None:
        """Put `version` in production (a shadow of the same version stops shadowing)."""
        self._folder(version)
        state = self._state()
        state["history"].append({"version": version, "at": datetime.now(UTC).isoformat()})
        state["production"] = version
        if state["shadow"] == version:
            state["shadow"] = None
        self._save(state)

    def rollback(self) -> str:
        """Go back to the version in production before the current one; returns it."""
        state = self._state()
        history = state["history"]
        if len(history) < 2:
            raise RegistryError("no earlier production model to roll back to")
        history.pop()
        state["production"] = history[-1]["version"]
        self._save(state)
        return str(state["production"])

    def shadow(self, version: str | None) -> None:
        """Run `version` in shadow mode beside production (None stops it)."""
        if version is not None:
            self._folder(version)
        state = self._state()
        state["shadow"] = version
        self._save(state)
