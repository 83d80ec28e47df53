"""Server time of the case list page with 200,000 cases, on SQLite and on PostgreSQL.

    python bench/case_list.py [--cases 200000] [--requests 60]

Measures the whole Django request (middleware, scope, filters, count, page of 50, template)
through the test client, for a city coordinator and a county officer, over the filters
officers use. Prints p50 and p95 per database; aim: p95 under 200 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import databases, fresh_database, run_worker, throwaway_postgres

QUERIES = [
    "",
    "?state=open",
    "?state=open&sort=due",
    "?list_type=key&state=open",
    "?overdue=1",
    "?grade=L1&sort=-updated",
    "?subject_type=residential",
    "?page=37",
    "?q=60.12.3",
    "?department=psb",
]


def worker(n_cases: int, n_requests: int) -> dict[str, object]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from qingling.cases.models import Case, Grade, State
    from qingling.cases.reference import rules_load
    from qingling.common.db import refresh_planner_statistics
    from qingling.geo.models import Division
    from qingling.geo.services import divisions_load
    from qingling.org.models import Department, SubjectType
    from qingling.org.services import departments_load, user_provision

    call_command("migrate", verbosity=0)
    divisions_load()
    departments_load()
    rules_load()
    rng = random.Random(5)
    counties = list(Division.objects.filter(level="county"))
    depts = list(Department.objects.all())
    now = timezone.now()
    states = [s for s in State.values]
    t0 = time.perf_counter()
    batch = []
    for i in range(n_cases):
        key = rng.random() < 0.1
        batch.append(Case(
            subject_key=f"ip:60.{i // 65536}.{(i // 256) % 256}.{i % 256}",
            subject_name=f"主体{i}", county=rng.choice(counties),
            subject_type=rng.choice(SubjectType.values), grade=rng.choice(Grade.values),
            lead_department=rng.choice(depts), state=rng.choice(states),
            on_key_list=key, on_stock_list=not key, first_week="2026-W40", last_week="2026-W48",
            due_at=now + timedelta(hours=rng.randint(-200, 100)) if key else None,
            ip_summary=f"60.{i // 65536}.{(i // 256) % 256}.{i % 256}",
            created_at=now, updated_at=now - timedelta(minutes=rng.randint(0, 50000)),
        ))
        if len(batch) == 5000:
            Case.objects.bulk_create(batch)
            batch = []
    Case.objects.bulk_create(batch)
    refresh_planner_statistics("cases_case")  # as every list import does
    load_s = time.perf_counter() - t0
    city = user_provision(username="city", password="x" * 12, role="city")
    county = user_provision(username="county", password="x" * 12, role="county",
                            county_code=counties[0].code)
    timings: dict[str, list[float]] = {"city": [], "county": []}
    for who, user in (("city", city), ("county", county)):
        c = Client()
        c.force_login(user)
        c.get("/cases/")  # warm caches and templates
        for i in range(n_requests):
            q = QUERIES[i % len(QUERIES)]
            t = time.perf_counter()
            r = c.get("/cases/" + q)
            timings[who].append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, (q, r.status_code)
    out: dict[str, object] = {"load_s": round(load_s, 1)}
    per_query: dict[str, float] = {}
    for i, v in enumerate(timings["city"]):
        q = QUERIES[i % len(QUERIES)] or "(none)"
        per_query[q] = max(per_query.get(q, 0.0), round(v, 1))
    for who, unsorted in timings.items():
        ms = sorted(unsorted)
        out[who] = {"p50": round(statistics.median(ms), 1),
                    "p95": round(ms[int(len(ms) * 0.95) - 1], 1), "max": round(ms[-1], 1)}
    out["slowest_city_by_query"] = per_query
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=200_000)
    ap.add_argument("--requests", type=int, default=60)
    ap.add_argument("--worker", action="store_true")
    args = ap.parse_args()
    if args.worker:
        import json
        import os

        fresh_database(os.environ["DATABASE_URL"])
        print(json.dumps(worker(args.cases, args.requests)))
        return
    print(f"case list benchmark: {args.cases:,} cases, {args.requests} requests per role")
    with tempfile.TemporaryDirectory() as home, throwaway_postgres() as pg:
        dbs = databases(home, pg)
        for name, url in dbs:
            r = run_worker(__file__, url, home, ["--cases", str(args.cases),
                                                  "--requests", str(args.requests)])
            for who in ("city", "county"):
                x = r[who]
                assert isinstance(x, dict)
                print(f"  {name:<10} {who:<7} p50 {x['p50']:>6.1f} ms  p95 {x['p95']:>6.1f} ms  "
                      f"max {x['max']:>6.1f} ms")
            print(f"  {name:<10} slowest per query (city): {r['slowest_city_by_query']}")


if __name__ == "__main__":
    main()
