"""Network detection at city scale and on real captures, measured side by side.

    python bench/detect_network.py [--rows 10000000] [--miners 50]

1. A synthetic day (`qingling synth flows`) of --rows flows with embedded miners: flows/s on
   this machine, the ratio of detection time to a bare DuckDB scan and group-by of the same
   Parquet file (aim ≤ 3×; bare and detection alternate over --rounds rounds, each in a fresh
   process, and the ratio is the medians'), peak memory, and recall on the embedded miners.
2. The real mining and benign captures in ../shared/data/net: packets/s of our pcap reader
   and recall on pool connections, beside nfstream (nDPI) measured in the same run; recall
   from flow features alone on the long pool sessions (payload and names removed) beside
   nDPI's on the same sessions; the false-lead rate on the benign captures' pairs.
3. The same captures re-cut as carriers hand them over (``qingling.detect.recut``):
   mid-session with the pool renumbered into the client port range (the miner's port below
   and above it), and the 55-second windows of submits alone: ours (verdict and
   orientation) beside nDPI's.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "net"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(kind: str, day: Path) -> dict[str, object]:
    """One measurement in this (fresh) process: 'bare' or 'detect'."""
    import json

    if kind == "bare":
        import duckdb

        t = time.perf_counter()
        con = duckdb.connect()
        # The grouped result is materialised as Arrow, as detection's is.
        con.execute("SELECT src_ip, dst_ip, dst_port, proto, count(*), "
                    "sum(bytes_fwd + bytes_rev), min(ts_start), max(ts_end) "
                    "FROM read_parquet($1) GROUP BY ALL", [str(day)]).fetch_arrow_table()
        out: dict[str, object] = {"seconds": time.perf_counter() - t, "rss_mb": rss_mb()}
    else:
        import pyarrow.csv as pacsv

        from qingling.detect.engines import connect
        from qingling.detect.network.engine import INPUT_COLUMNS, detect_network
        from qingling.detect.readers.flows import read_flows

        t = time.perf_counter()
        # Read as `qingling detect network` reads: the columns detection uses.
        flows = read_flows(day, columns=INPUT_COLUMNS)
        result = detect_network(flows, connect("duckdb"))
        seconds = time.perf_counter() - t
        truth = pacsv.read_csv(day.with_name("day.truth.csv"))
        keys = {(r["src_ip"], r["dst_ip"], r["dst_port"]) for r in truth.to_pylist()}
        flagged = result.pairs.filter(pc_not_clean(result.pairs))
        found = {(r["src_ip"], r["dst_ip"], r["dst_port"]): r["verdict"]
                 for r in flagged.select(["src_ip", "dst_ip", "dst_port", "verdict"]).to_pylist()}
        out = {"seconds": seconds, "rss_mb": rss_mb(), "pairs": result.pairs.num_rows,
               "counts": result.counts(), "miners": len(keys),
               "caught": sum(found.get(k) in ("mining", "suspicious") for k in keys),
               "convicted": sum(found.get(k) == "mining" for k in keys),
               "false_leads": sum(1 for k in found if k not in keys),
               "false_mining": sum(1 for k, v in found.items() if k not in keys and v == "mining")}
    print(json.dumps(out))
    return out


def pc_not_clean(table: object) -> object:
    import pyarrow.compute as pc

    return pc.not_equal(table["verdict"], "clean")  # type: ignore[index]


def city_day(rows: int, miners: int, workdir: Path, rounds: int) -> None:
    import json

    day = workdir / "day.parquet"
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "qingling", "synth", "flows", "--rows", str(rows),
                    "--miners", str(miners), "--out", str(day)], check=True, cwd=ROOT)
    print(f"  synthetic day: {rows:,} flows, {miners} miners, written in "
          f"{time.perf_counter() - t:.0f} s ({day.stat().st_size / 1e6:.0f} MB Parquet)")

    def worker(kind: str) -> dict[str, object]:
        # Each measurement in a fresh process: neither inherits the other's heap.
        done = subprocess.run([sys.executable, __file__, "--worker", kind, str(day)],
                              check=True, capture_output=True, text=True, cwd=ROOT)
        return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]

    bare_s: list[float] = []
    det_s: list[float] = []
    for r in range(rounds):
        bare = worker("bare")
        det = worker("detect")
        bare_s.append(float(bare["seconds"]))  # type: ignore[arg-type]
        det_s.append(float(det["seconds"]))  # type: ignore[arg-type]
        print(f"  round {r + 1}: detection {det_s[-1]:.1f} s, bare {bare_s[-1]:.1f} s, "
              f"ratio {det_s[-1] / bare_s[-1]:.2f}×", flush=True)
    b, d = statistics.median(bare_s), statistics.median(det_s)
    ratios = [x / y for x, y in zip(det_s, bare_s, strict=True)]
    counts: dict[str, int] = det["counts"]  # type: ignore[assignment]
    benign = int(det["pairs"]) - int(det["miners"])  # type: ignore[call-overload]
    print(f"  detection (DuckDB, 2 cores; read + detect), median of {rounds}: {d:.1f} s = "
          f"{rows / d:,.0f} flows/s; bare DuckDB scan + group-by: {b:.1f} s; ratio {d / b:.2f}× "
          f"(rounds {min(ratios):.2f}–{max(ratios):.2f}×)")
    print(f"  peak memory (RSS): detection {det['rss_mb']:,.0f} MB, bare {bare['rss_mb']:,.0f} MB")
    print(f"  pairs: {det['pairs']:,} ({counts['mining']} mining, {counts['suspicious']:,} "
          f"suspicious)")
    print(f"  recall on embedded miners: {det['caught']}/{det['miners']} (mining or suspicious; "
          f"{det['convicted']} convicted as mining from flows alone)")
    print(f"  false leads: {det['false_leads']:,} of {benign:,} benign pairs "
          f"= {int(det['false_leads']) / max(1, benign):.3%} (aim ≤ 0.5%; "  # type: ignore[call-overload]
          f"{det['false_mining']} of them mining, aim 0)")


PAYLOAD_COLUMNS = ("dns_name", "tls_sni", "http_host", "methods_fwd", "methods_rev",
                   "rpc_reply_rev", "pool_job_rev", "login_agent", "share_fwd", "share_ack_rev",
                   "push_iat_median", "push_iat_cv", "alert")
LONG_S = 60.0  # a pool session of a minute or more: what flow features can judge


def ndpi_mining(path: Path) -> set[tuple[str, str, int]] | None:
    """Both orientations of every flow nDPI labels Mining, or None without nfstream."""
    try:
        from nfstream import NFStreamer
    except ImportError:
        return None
    hits = set()
    for f in NFStreamer(source=str(path), n_dissections=20, statistical_analysis=False):
        if f.application_category_name == "Mining" or f.application_name == "Mining":
            hits.add((f.src_ip, f.dst_ip, f.dst_port))
            hits.add((f.dst_ip, f.src_ip, f.src_port))
    return hits


def flow_only(table: object) -> object:
    from qingling.detect.schema import conform

    t = table
    return conform(t.drop_columns([c for c in PAYLOAD_COLUMNS  # type: ignore[attr-defined]
                                   if c in t.column_names]))  # type: ignore[attr-defined]


def captures() -> None:
    from qingling.detect.engines import connect
    from qingling.detect.network.engine import detect_network, enrich
    from qingling.detect.network.names import PoolList
    from qingling.detect.readers.common import ReadStats
    from qingling.detect.readers.pcap import read_pcap

    mining = sorted(p for p in (SHARED / "mining").glob("*.pcap*") if p.suffix != ".out")
    benign = sorted((SHARED / "benign").glob("*.pcap"))
    if not mining:
        print("  (../shared/data/net not found: captures skipped)")
        return
    eng = connect("duckdb")
    packets = 0
    read_s = 0.0
    tables = {}
    for p in mining + benign:
        stats = ReadStats(str(p))
        t = time.perf_counter()
        tables[p] = read_pcap(p, stats)
        read_s += time.perf_counter() - t
        packets += stats.records
    t = time.perf_counter()
    import pyarrow as pa

    # One detection over every capture, as a carrier would run a day's files.
    verdicts = {(r["src_ip"], r["dst_ip"], r["dst_port"]): r["verdict"]
                for r in detect_network(pa.concat_tables(tables.values()), eng).pairs.to_pylist()}
    ours_s = read_s + time.perf_counter() - t
    ours = {p: verdicts for p in mining + benign}
    truth: dict[Path, set[tuple[str, str, int]]] = {}
    for p in mining + benign:
        e = enrich(tables[p], PoolList.load()).to_pylist()
        truth[p] = {(r["src_ip"], r["dst_ip"], r["dst_port"]) for r in e
                    if r["payload_score"] >= 0.9} if p in mining else set()
    benign_pairs = {(r["src_ip"], r["dst_ip"], r["dst_port"]) for p in benign
                    for r in tables[p].to_pylist()}
    try:
        from nfstream import NFStreamer
    except ImportError:
        NFStreamer = None
    nf: dict[Path, set[tuple[str, str, int]]] = {}
    nf_s = None
    if NFStreamer is not None:
        t = time.perf_counter()
        for p in mining + benign:
            nf[p] = ndpi_mining(p) or set()
        nf_s = time.perf_counter() - t
    pool_total = sum(len(truth[p]) for p in mining)
    ours_hit = sum(ours[p].get(k) == "mining" for p in mining for k in truth[p])
    ours_caps = sum(all(ours[p].get(k) == "mining" for k in truth[p]) for p in mining)
    ours_fp = sum(verdicts.get(k) == "mining" for k in benign_pairs)
    print(f"  Qingling: {packets:,} packets; reader {packets / read_s:,.0f} packets/s, "
          f"read + detect {packets / ours_s:,.0f} packets/s; pool connections "
          f"{ours_hit}/{pool_total}; captures fully caught {ours_caps}/{len(mining)}; "
          f"mining verdicts on benign captures: {ours_fp}")
    if nf_s is not None:
        nf_hit = sum(k in nf[p] for p in mining for k in truth[p])
        nf_caps = sum(bool(nf[p] & truth[p]) for p in mining)
        nf_fp = sum(len(nf[p]) // 2 for p in benign)
        print(f"  nfstream (nDPI): {packets / nf_s:,.0f} packets/s; pool connections "
              f"{nf_hit}/{pool_total}; captures with any hit {nf_caps}/{len(mining)}; "
              f"mining flows on benign captures: {nf_fp}")
        print(f"  speed ratio Qingling/nfstream: {nf_s / ours_s:.2f}× "
              f"(>1 means Qingling is faster)")
    else:
        print("  (nfstream not installed: pip install nfstream to compare)")
    # Flow features alone, on the long pool sessions: a carrier's NetFlow has no payload.
    flow_rows = {p: detect_network(flow_only(tables[p]), eng).pairs.to_pylist() for p in mining}
    for least, below in ((LONG_S, 900.0), (900.0, float("inf")), (LONG_S, float("inf"))):
        total = hit = nf_long = 0
        for p in mining:
            for r in flow_rows[p]:
                k = (r["src_ip"], r["dst_ip"], r["dst_port"])
                if k in truth[p] and least <= r["active_s"] < below:
                    total += 1
                    hit += r["verdict"] in ("mining", "suspicious")
                    nf_long += k in nf.get(p, set())
        nf_text = (f"; nDPI (with payload) on the same sessions {nf_long}/{total}"
                   if nf_s is not None else "")
        span = (f"{least:.0f} s or more" if below == float("inf")
                else f"{least:.0f} s to {below:.0f} s")
        print(f"  flow-only recall on pool sessions of {span}: "
              f"{hit}/{total} (mining or suspicious){nf_text}")
    benign_rows = [r for r in detect_network(pa.concat_tables([tables[p] for p in benign]),
                                             eng).pairs.to_pylist()]
    sus = sum(r["verdict"] == "suspicious" for r in benign_rows)
    mine = sum(r["verdict"] == "mining" for r in benign_rows)
    nf_text = (f"; nDPI: {sum(len(nf[p]) // 2 for p in benign)} mining flows"
               if nf_s is not None else "")
    print(f"  benign captures: {len(benign_rows)} pairs, {sus} suspicious "
          f"({sus / max(1, len(benign_rows)):.2%}, aim ≤ 0.5%), {mine} mining (aim 0){nf_text}")


def recut(workdir: Path) -> None:
    """The failure classes of real carrier data, cut from the real captures."""
    from qingling.detect.engines import connect
    from qingling.detect.network.engine import detect_network
    from qingling.detect.readers.pcap import read_pcap
    from qingling.detect.recut import rewrite_capture, submit_only_window

    sessions = sorted(p for p in (SHARED / "mining").glob("nesfit_*.pcapng")
                      if "cgminer" not in p.name and "pp.ua" not in p.name)
    if not sessions:
        print("  (../shared/data/net not found: re-cuts skipped)")
        return
    eng = connect("duckdb")
    high = 45700
    cases: list[tuple[str, Path, tuple[str, str]]] = []
    for p in sessions:
        pool = next(r for r in read_pcap(p).to_pylist() if r["methods_fwd"])
        for miner_port in (high - 1000, high + 1000):
            out = workdir / f"{p.stem}.{miner_port}.pcap"
            rewrite_capture(p, out, drop_syn=True,
                            ports={int(pool["dst_port"]): high, int(pool["src_port"]): miner_port})
            cases.append(("mid-session, pool on 45700", out, (pool["src_ip"], pool["dst_ip"])))
    xmr = SHARED / "mining" / "ndpi_mining.pcapng"
    if xmr.exists():
        out = workdir / "xmr-submit-window.pcap"
        rewrite_capture(xmr, out, window=submit_only_window(xmr, 9050, 55.0))
        cases.append(("55 s of submits alone", out, ("192.168.2.92", "178.32.196.217")))
    # The long real sessions (18-19 minutes) with their payload unreadable (TLS, a proxy),
    # picked up mid-session with the pool renumbered onto the client range's pool ports
    # (45700, 45560 MinerGate, 33333) and each miner's port below the pool's: flow shape
    # alone, on non-standard ports.
    flow_cases: list[tuple[str, Path, tuple[str, str]]] = []
    if xmr.exists():
        long = [r for r in read_pcap(xmr).to_pylist() if (r["methods_fwd"] or r["pool_job_rev"])
                and (r["ts_end"] - r["ts_start"]).total_seconds() >= 900]
        for high_port in (45700, 45560, 33333):
            ports = {int(r["dst_port"]): high_port for r in long}
            ports.update({int(r["src_port"]): high_port - 1000 - i for i, r in enumerate(long)})
            out = workdir / f"xmr-long.{high_port}.pcap"
            rewrite_capture(xmr, out, ports=ports, drop_syn=True, unreadable=True)
            flow_cases += [(f"long sessions, payload unreadable, pool on {high_port}", out,
                            (r["src_ip"], r["dst_ip"])) for r in long]
    by_class: dict[str, list[int]] = {}
    for name, path, (miner, pool_ip) in cases + flow_cases:
        rows = detect_network(read_pcap(path), eng).pairs.to_pylist()
        wanted = ("mining",) if (name, path, (miner, pool_ip)) in cases else (
            "mining", "suspicious")
        ours = any((r["src_ip"], r["dst_ip"]) == (miner, pool_ip) and r["verdict"] in wanted
                   for r in rows)
        hits = ndpi_mining(path)
        theirs = -1 if hits is None else int(any(pool_ip in (k[0], k[1]) for k in hits))
        counts = by_class.setdefault(name, [0, 0, 0])
        counts[0] += 1
        counts[1] += ours
        counts[2] += theirs
    for name, (n, ours_n, theirs_n) in by_class.items():
        nd = f"nDPI {theirs_n}/{n}" if theirs_n >= 0 else "nDPI not installed"
        what = ("a lead (suspicious or mining)" if name.startswith("long sessions")
                else "mining")
        print(f"  {name}: Qingling {what} with the miner as client {ours_n}/{n}; {nd}")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        measure(sys.argv[2], Path(sys.argv[3]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--miners", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3,
                    help="bare and detection measured alternately this many times, each in a "
                         "fresh process; the ratio is the medians' (timings here vary ±20%%)")
    ap.add_argument("--skip-captures", action="store_true")
    args = ap.parse_args()
    if not args.skip_captures:
        print("Real captures:", flush=True)
        captures()
        print("Real captures re-cut as carriers hand them over:", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            recut(Path(tmp))
    print(f"City day ({args.rows:,} flows):", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        city_day(args.rows, args.miners, Path(tmp), args.rounds)


if __name__ == "__main__":
    main()
