"""Load administrative divisions from CSV files (reference data as data, not code)."""

from __future__ import annotations

import csv
from pathlib import Path

from django.db import transaction

from qingling.geo.models import Division, ResponsibilityArea

DATA_DIR = Path(__file__).resolve().parent / "data"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _upsert(code: str, name: str, level: str, parent: Division | None, source: str) -> Division:
    obj, _ = Division.objects.update_or_create(
        code=code, defaults={"name": name, "level": level, "parent": parent, "source": source}
    )
    return obj


@transaction.atomic
def divisions_load(directory: Path = DATA_DIR) -> dict[str, int]:
    """Idempotent: running it twice leaves the same rows."""
    counts = {"cities": 0, "counties": 0, "townships": 0, "zones": 0}
    cities: dict[str, Division] = {}
    for row in _rows(directory / "city.csv"):
        province = _upsert(row["province_code"], row["province_name"], "province", None, "city.csv")
        cities[row["code"][:4]] = _upsert(row["code"], row["name"], "city", province, "city.csv")
        counts["cities"] += 1
    counties: dict[str, Division] = {}
    county_file = next(directory.glob("*counties*.csv"))
    for row in _rows(county_file):
        parent = cities.get(row["cityCode"][:4])
        if parent is None:
            raise ValueError(f"{county_file.name}: county {row['code']} has no city in city.csv")
        counties[row["code"]] = _upsert(row["code"], row["name"], "county", parent, county_file.name)
        counts["counties"] += 1
    town_file = next(directory.glob("*townships*.csv"))
    for row in _rows(town_file):
        parent = counties.get(row["areaCode"])
        if parent is None:
            raise ValueError(f"{town_file.name}: township {row['code']} has no county")
        _upsert(row["code"], row["name"], "township", parent, town_file.name)
        counts["townships"] += 1
    alias_file = directory / "township_aliases.csv"
    if alias_file.exists():
        aliases: dict[str, list[str]] = {}
        for row in _rows(alias_file):
            aliases.setdefault(row["code"], []).append(row["alias"])
        for code, names in aliases.items():
            Division.objects.filter(code=code).update(aliases=sorted(names))
    zone_file = directory / "zones.csv"
    if zone_file.exists():
        for row in _rows(zone_file):
            county = counties.get(row["county_code"])
            if county is None:
                raise ValueError(f"zones.csv: zone {row['name']} names unknown county")
            ResponsibilityArea.objects.update_or_create(
                name=row["name"],
                defaults={
                    "county": county,
                    "aliases": [a for a in row["aliases"].split("|") if a],
                },
            )
            counts["zones"] += 1
    return counts
