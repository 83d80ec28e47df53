"""Build src/qingling/detect/data/pool_list.csv from the public lists in ../shared/data/net/lists.

    .venv/bin/python scripts/build_pool_list.py [LISTS_DIR]

Exchanges, wallets and other non-pool names (data/not_pools.txt) are removed: they are on
crypto block lists but are no evidence of mining. Each entry keeps its source, the list's
date and a base weight; the engine decays the weight with age.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src/qingling/detect/data/pool_list.csv"
SOURCES = [
    # file, kind, source, weight, as_of
    ("blocklistproject_crypto-nl.txt", "domain", "blocklistproject", 1.0, "2026-07-06"),
    ("nocoin_hosts.txt", "domain", "nocoin", 0.7, "2025-12-01"),
    ("coinblockerlists-2018_list.txt", "domain", "coinblockerlists-2018", 0.6, "2018-06-03"),
    ("coinblockerlists-2018_MiningServerIPList.txt", "ip", "coinblockerlists-2018", 0.5,
     "2018-06-03"),
]


def not_pool(name: str, rules: list[str]) -> bool:
    if any(k in name for k in ("pool", "mine", "mining", "stratum")):
        return False
    for r in rules:
        if r.startswith("~") and r[1:] in name:
            return True
        if not r.startswith("~") and (name == r or name.endswith("." + r)):
            return True
    return False


def main() -> None:
    lists = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared/data/net/lists"
    rules = [ln.strip() for ln in (ROOT / "src/qingling/detect/data/not_pools.txt").read_text()
             .splitlines() if ln.strip() and not ln.startswith("#")]
    seen: set[str] = set()
    rows = []
    dropped = 0
    for file, kind, source, weight, as_of in SOURCES:
        for line in (lists / file).read_text(encoding="utf-8", errors="replace").splitlines():
            line = line.split("#", 1)[0].strip().lower()
            if not line:
                continue
            parts = line.split()
            name = parts[-1] if kind == "domain" else parts[0]
            sinks = ("0.0.0.0", "127.0.0.1", "localhost")  # noqa: S104 - hosts-file sink addresses
            if name in sinks or name in seen:
                continue
            if kind == "domain" and not_pool(name, rules):
                dropped += 1
                continue
            seen.add(name)
            rows.append((name, kind, source, weight, as_of))
    tmp = OUT.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "kind", "source", "weight", "as_of"])
        w.writerows(sorted(rows))
    tmp.replace(OUT)
    print(f"{OUT}: {len(rows)} entries ({dropped} non-pool names left out)")


if __name__ == "__main__":
    main()
