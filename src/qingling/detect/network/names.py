"""The names layer: DNS names, TLS SNI and HTTP Host against a curated pool list, weak
keyword patterns, and pool IP lists whose weight decays with age."""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

DEFAULT_LIST = Path(__file__).resolve().parents[1] / "data" / "pool_list.csv"
# Whole DNS labels that suggest a pool; weak on their own.
KEYWORDS = re.compile(
    r"(^|[.\-])(pool|pools|mine|mining|miner|stratum|xmr|btc|eth|etc|rvn|zec|ltc|nicehash)"
    r"([.\-]|\d|$)"
)


@dataclass(frozen=True)
class NameHit:
    score: float
    evidence: str


class PoolList:
    def __init__(self, names: dict[str, tuple[float, str, date]],
                 ips: dict[str, tuple[float, str, date]], half_life_years: float,
                 today: date) -> None:
        self.names = names
        self.ips = ips
        self.half_life = half_life_years
        self.today = today

    @classmethod
    def load(cls, path: Path | None = None, *, half_life_years: float = 2.0,
             today: date | None = None) -> PoolList:
        names: dict[str, tuple[float, str, date]] = {}
        ips: dict[str, tuple[float, str, date]] = {}
        with (path or DEFAULT_LIST).open(encoding="utf-8") as fh:
            for n, row in enumerate(csv.DictReader(fh), start=2):
                try:
                    entry = (float(row["weight"]), row["source"], date.fromisoformat(row["as_of"]))
                    target = ips if row["kind"] == "ip" else names
                    target[row["name"].strip().lower()] = entry
                except (KeyError, ValueError) as exc:
                    raise ValueError(f"{path or DEFAULT_LIST}: row {n}: {exc}") from None
        return cls(names, ips, half_life_years, today or date.today())

    def _decayed(self, weight: float, as_of: date) -> float:
        years = max(0.0, (self.today - as_of).days / 365.25)
        return weight * math.pow(0.5, years / self.half_life)

    def match_name(self, name: str | None) -> NameHit | None:
        if not name:
            return None
        name = name.lower().rstrip(".")
        labels = name.split(".")
        best: NameHit | None = None
        for i in range(len(labels) - 1):
            entry = self.names.get(".".join(labels[i:]))
            if entry is not None:
                w = round(0.95 * self._decayed(entry[0], entry[2]), 4)
                if best is None or w > best.score:
                    best = NameHit(w, f"{name} is a known pool ({entry[1]}, {entry[2]:%Y-%m})")
        if best is not None:
            return best
        if KEYWORDS.search(name):
            return NameHit(0.3, f"{name} looks like a pool name")
        return None

    def match_ip(self, ip: str | None) -> NameHit | None:
        entry = self.ips.get(ip or "")
        if entry is None:
            return None
        w = self._decayed(entry[0], entry[2])
        return NameHit(round(0.6 * w, 4), f"{ip} was a pool address in {entry[2].year} ({entry[1]})")
