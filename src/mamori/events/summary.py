"""What a read did: records read, accepted and quarantined, by reason and per file.

Every record read is either accepted or quarantined, so ``read == accepted + quarantined``
holds for each file and for the whole read.

>>> s = ReadSummary()
>>> s.file("a.jsonl").add(read=3, accepted=2, quarantined={"broken_json": 1})
>>> s.read, s.accepted, s.quarantined, dict(s.by_reason)
(3, 2, 1, {'broken_json': 1})
>>> print(s)
read 3, accepted 2, quarantined 1 (broken_json 1) from 1 file
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass
class FileSummary:
    """The counts of one file."""

    read: int = 0
    accepted: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)

    @property
    def quarantined(self) -> int:
        return sum(self.by_reason.values())

    def add(self, read: int = 0, accepted: int = 0, quarantined: Mapping[str, int] = {}) -> None:  # noqa: B006 - read only
        self.read += read
        self.accepted += accepted
        self.by_reason.update(quarantined)


@dataclass
class ReadSummary:
    """The counts of a read over files; `files` maps each file to its own counts,
    `skipped` lists files in a folder whose format is not readable, and `failed` maps files
    that broke off (a truncated gzip, a corrupt Parquet footer) to the error."""

    files: dict[str, FileSummary] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def file(self, name: str) -> FileSummary:
        """The counts of one file, created on first use."""
        return self.files.setdefault(name, FileSummary())

    @property
    def read(self) -> int:
        return sum(f.read for f in self.files.values())

    @property
    def accepted(self) -> int:
        return sum(f.accepted for f in self.files.values())

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files.values())

    @property
    def by_reason(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for f in self.files.values():
            total.update(f.by_reason)
        return total

    def __str__(self) -> str:
        reasons = ", ".join(f"{r} {n}" for r, n in sorted(self.by_reason.items()))
        text = f"read {self.read}, accepted {self.accepted}, quarantined {self.quarantined}"
        text += f" ({reasons})" if reasons else ""
        n = len(self.files)
        text += f" from {n} file{'s' if n != 1 else ''}"
        if self.skipped:
            text += f"; skipped {len(self.skipped)} of unknown format"
        if self.failed:
            text += f"; {len(self.failed)} failed"
        return text
