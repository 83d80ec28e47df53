"""Import and diff a 100,000-row province list, on SQLite and on PostgreSQL, side by side.

    python bench/import_list.py [--rows 100000]

Two imports per database: the first list into an empty database (every row new, every
case created), then next week's list (90% still present, 10% new, the rest absent), which
is the weekly case. Prints rows/s for each; aim: under 60 s each on 2 cores.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import databases, fresh_database, peak_rss_mb, run_worker, throwaway_postgres


def worker(rows: int) -> dict[str, object]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from qingling.cases.reference import rules_load
    from qingling.common.weeks import IsoWeek
    from qingling.geo.services import divisions_load
    from qingling.intake.services import import_list
    from qingling.ops.demo import HEADERS, CityGenerator
    from qingling.org.services import departments_load

    call_command("migrate", verbosity=0)
    divisions_load()
    departments_load()
    rules_load()
    now = timezone.now()
    this = IsoWeek.of(now)
    last = this.shift(-1)
    g = CityGenerator(seed=7)
    subjects = []
    n = 0
    while n < rows:
        s = g.subject()
        subjects.append(s)
        n += len(s.ips)
    keep = int(len(subjects) * 0.9)
    second = subjects[len(subjects) - keep:]
    while sum(len(s.ips) for s in second) < rows:
        second.append(g.subject())

    import csv
    import io

    def data(subs: list, week: IsoWeek) -> bytes:  # type: ignore[type-arg]
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(HEADERS)
        w.writerows(list(g.rows(subs, week, now))[:rows])
        return buf.getvalue().encode("utf-8")

    first_bytes, second_bytes = data(subjects, last), data(second, this)
    results: dict[str, object] = {}
    for label, payload, week in (("first", first_bytes, last), ("weekly", second_bytes, this)):
        stages: list[tuple[str, float]] = []
        t0 = time.perf_counter()
        s = import_list(data=payload, file_name=f"{label}.csv", list_type="stock", week=week,
                        progress=lambda stage, log=stages: log.append((stage, time.perf_counter())))
        dt = time.perf_counter() - t0
        marks = [*stages, ("end", t0 + dt)]
        breakdown = {a[0].split(" ")[0]: round(b[1] - a[1], 1) for a, b in itertools.pairwise(marks)}
        results[label] = {"rows": s.rows, "seconds": round(dt, 2), "rows_per_s": round(s.rows / dt),
                          "new": s.new, "present": s.present, "absent": s.absent,
                          "cases_created": s.cases_created, "stages_s": breakdown}
    results["peak_rss_mb"] = round(peak_rss_mb())
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--worker", action="store_true")
    args = ap.parse_args()
    if args.worker:
        import json
        import os

        fresh_database(os.environ["DATABASE_URL"])
        print(json.dumps(worker(args.rows)))
        return
    print(f"import-list benchmark: {args.rows:,} rows, first import then next week's list", flush=True)
    with tempfile.TemporaryDirectory() as home, throwaway_postgres() as pg:
        dbs = databases(home, pg)
        measured = {}
        for name, url in dbs:
            r = run_worker(__file__, url, home, ["--rows", str(args.rows)])
            measured[name] = r
            for label in ("first", "weekly"):
                x = r[label]
                assert isinstance(x, dict)
                print(f"  {name:<10} {label:<7} {x['rows']:>7,} rows in {x['seconds']:>6.1f} s "
                      f"= {x['rows_per_s']:>6,} rows/s  (new {x['new']:,}, present {x['present']:,}, "
                      f"absent {x['absent']:,}, cases created {x['cases_created']:,})")
                print(f"  {'':<10} {'':<7} seconds per stage: {x['stages_s']}")
            print(f"  {name:<10} peak RSS {r['peak_rss_mb']} MB")
        if len(measured) == 2:
            for label in ("first", "weekly"):
                a, b = measured["SQLite"][label], measured["PostgreSQL"][label]
                assert isinstance(a, dict) and isinstance(b, dict)
                print(f"  ratio PostgreSQL/SQLite time, {label}: {b['seconds'] / a['seconds']:.2f}")


if __name__ == "__main__":
    main()
