"""The data behind the dashboard charts, from the same frozen figures as the bulletin."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from qingling.supervision.figures import trend

DATA_DIR = Path(__file__).parent / "data"


def tiles(codes: list[str]) -> dict[str, tuple[int, int]]:
    """Schematic tile positions: the city's own layout if shipped, else a grid by code."""
    path = DATA_DIR / f"tiles_{settings.QINGLING_CITY_CODE}.csv"
    known: dict[str, tuple[int, int]] = {}
    if path.exists():
        with open(path, encoding="utf-8") as fh:
            known = {r["code"]: (int(r["x"]), int(r["y"])) for r in csv.DictReader(fh)}
    cols = 3
    out = {}
    for i, code in enumerate(sorted(codes)):
        out[code] = known.get(code, (i % cols, i // cols))
    return out


def chart_data(figures: dict[str, Any], allowed: set[str] | None) -> dict[str, Any]:
    rows = [r for r in figures["counties"] if r["name"]]
    pos = tiles([r["code"] for r in rows])
    history = trend()
    return {
        "week": figures["week"],
        "counties": [{"code": r["code"], "name": r["name"],
                      "rate": None if r["on_time_rate"] is None else round(100 * r["on_time_rate"], 1),
                      "received": r["key_received"], "overdue": r["key_overdue"],
                      "stock": r["stock_open"], "stock_delta": r["stock_delta"],
                      "x": pos[r["code"]][0], "y": pos[r["code"]][1]} for r in rows],
        "trend": {
            "weeks": [h["week"] for h in history],
            "series": [{"code": r["code"], "name": r["name"],
                        "data": [h["counties"].get(r["code"], {}).get("stock_open")
                                 for h in history]}
                       for r in rows if allowed is None or r["code"] in allowed],
        },
        "geojson": bool(settings.QINGLING_MAP_GEOJSON),
        "labels": {"rate": _("Cleared on time (%)"), "stock": _("Open stock items"),
                   "overdue": _("Overdue"), "stock_change": _("Stock change")},
    }
