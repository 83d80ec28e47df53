from __future__ import annotations

from dataclasses import dataclass, field


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
