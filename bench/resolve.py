"""Subscriber resolution at city scale.

    python bench/resolve.py [--sessions 20000000] [--observations 1000000]

Generates RADIUS sessions on dynamically reassigned addresses (half behind CGNAT), the CGNAT
translations, static allocations and observations with their answer key
(`qingling.detect.resolve.synth`), then resolves every observation on DuckDB (2 cores):
prints observations/s, peak memory and agreement with the key. Sessionization from raw
RADIUS events is measured too, on a tenth of the sessions. Aim: under 60 s.
"""

from __future__ import annotations

import argparse
import resource
import time


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    import pyarrow.compute as pc

    from qingling.detect.engines import connect
    from qingling.detect.resolve.engine import build_sessions, resolve
    from qingling.detect.resolve.synth import synth_carrier

    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=20_000_000)
    ap.add_argument("--observations", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=7)
    args = ap.parse_args()
    per_ip = args.days * 24 / 5.7  # sessions an address carries in the window
    n_ips = max(100, int(args.sessions / per_ip))
    t = time.perf_counter()
    data = synth_carrier(n_ips=n_ips, days=args.days, observations=args.observations,
                         with_events=False)
    print(f"generated {data.sessions.num_rows:,} RADIUS sessions on {n_ips:,} addresses over "
          f"{args.days} days, {data.cgnat.num_rows:,} CGNAT translations, "
          f"{data.observations.num_rows:,} observations in {time.perf_counter() - t:.0f} s",
          flush=True)
    engine = connect("duckdb")
    t = time.perf_counter()
    out = resolve(data.observations, data.sessions, engine, cgnat=data.cgnat,
                  static=data.static)
    took = time.perf_counter() - t
    n = data.observations.num_rows
    truth = data.truth
    same = pc.sum(pc.and_(pc.equal(out["status"], truth["status"]),
                          pc.fill_null(pc.equal(out["account"], truth["account"]),
                                       pc.is_null(truth["account"])))).as_py()
    counts = {v["values"]: v["counts"] for v in pc.value_counts(out["status"]).to_pylist()}
    print(f"  resolution (DuckDB, 2 cores): {took:.1f} s = {n / took:,.0f} observations/s "
          f"(aim: under 60 s)")
    print(f"  agreement with the answer key: {same:,}/{n:,}; {counts}")
    print(f"  peak memory (RSS): {rss_mb():,.0f} MB", flush=True)
    small = synth_carrier(n_ips=max(100, n_ips // 10), days=args.days, observations=10)
    t = time.perf_counter()
    sessions = build_sessions(small.events, engine)
    took = time.perf_counter() - t
    print(f"  sessionization: {small.events.num_rows:,} RADIUS events → {sessions.num_rows:,} "
          f"sessions in {took:.1f} s = {small.events.num_rows / took:,.0f} events/s")


if __name__ == "__main__":
    main()
