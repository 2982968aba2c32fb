"""Checkpoints: the position reached in an input and every detector's state.

A checkpoint is a folder holding `checkpoint.json` (the position and JSON-able state) and
one Arrow IPC file per state frame. It is written to a temporary folder and renamed into
place, so a crash leaves either the old checkpoint or the new one, never half of one.
Nothing is pickled: a checkpoint can be inspected and cannot execute code on load.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import polars as pl

_FRAME = "$frame"


def _dump(value: Any, folder: Path, path: str) -> Any:
    if isinstance(value, pl.DataFrame):
        name = f"{len(list(folder.glob('*.arrow'))):04d}.arrow"
        value.write_ipc(folder / name)
        return {_FRAME: name, "path": path}
    if isinstance(value, dict):
        return {k: _dump(v, folder, f"{path}/{k}") for k, v in value.items()}
    return value


def _load(value: Any, folder: Path) -> Any:
    if isinstance(value, dict):
        if _FRAME in value:
            return pl.read_ipc(folder / value[_FRAME])
        return {k: _load(v, folder) for k, v in value.items()}
    return value


class Checkpoint:
    """Save and load (position, state) in one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def save(
        self, position: int, state: dict[str, Any], meta: dict[str, Any] | None = None
    ) -> None:
        """Atomically replace the checkpoint with this position and state."""
        tmp = self.folder.with_name(self.folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        doc = {"position": position, "meta": meta or {}, "state": _dump(state, tmp, "")}
        (tmp / "checkpoint.json").write_text(json.dumps(doc, default=str))
        old = self.folder.with_name(self.folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if self.folder.exists():
            os.replace(self.folder, old)
        os.replace(tmp, self.folder)
        shutil.rmtree(old, ignore_errors=True)

    def load(self) -> tuple[int, dict[str, Any], dict[str, Any]] | None:
        """(position, state, meta), or None when there is no checkpoint yet."""
        file = self.folder / "checkpoint.json"
        if not file.exists():  # a crash between the two renames of save() leaves .old
            file = self.folder.with_name(self.folder.name + ".old") / "checkpoint.json"
        if not file.exists():
            return None
        doc = json.loads(file.read_text())
        return int(doc["position"]), _load(doc["state"], file.parent), doc.get("meta", {})

    def clear(self) -> None:
        """Forget the checkpoint (a finished run)."""
        shutil.rmtree(self.folder, ignore_errors=True)
