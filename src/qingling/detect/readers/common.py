from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ReaderError(ValueError):
    """An input that cannot be read at all, named in the message."""


@dataclass
class ReadStats:
    """What a reader saw: records read, skipped (not IP, not flow), bad (malformed)."""

    path: str
    records: int = 0
    skipped: int = 0
    bad: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        extra = f"; {'; '.join(self.notes)}" if self.notes else ""
        return (f"{self.path}: {self.records} records, {self.bad} bad, "
                f"{self.skipped} skipped{extra}")


def json_lines(path: Path, stats: ReadStats) -> Iterator[dict[str, Any]]:
    """One JSON object a line; blank lines skipped, malformed ones counted as bad."""
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip():
                continue
            stats.records += 1
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                stats.bad += 1
