"""`qingling detect network …` and `qingling synth …`: the engine's command line.

Runs without Django: a carrier's analyst can use it on a machine that has only the engine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


def write_table(table: pa.Table, out: Path) -> None:
    """Atomic: a crash leaves the old file or none, never half a file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    os.close(fd)
    try:
        if out.suffix.lower() == ".parquet":
            pq.write_table(table, tmp)
        elif out.suffix.lower() == ".csv":
            pacsv.write_csv(table, tmp)
        else:
            raise SystemExit(f"--out {out}: use a .csv or .parquet file name")
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)


def detect_network_main(argv: list[str]) -> int:
    from tqdm import tqdm

    from qingling.detect.engines import ENGINES, connect
    from qingling.detect.network.config import NetworkConfig, read_excluded
    from qingling.detect.network.engine import INPUT_COLUMNS, detect_network
    from qingling.detect.network.names import PoolList
    from qingling.detect.readers import FORMATS, read_many
    from qingling.detect.readers.common import ReaderError, ReadStats

    ap = argparse.ArgumentParser(prog="qingling detect network",
                                 description="Find mining in network data.")
    ap.add_argument("inputs", nargs="+", type=Path)
    ap.add_argument("--input-format", default="auto", choices=FORMATS)
    ap.add_argument("--pool-list", type=Path, help="CSV: name,kind,source,weight,as_of")
    ap.add_argument("--excluded", type=Path,
                    help="CSV: ip,port of remote endpoints the city excluded after triage")
    ap.add_argument("--engine", default="duckdb", choices=ENGINES)
    ap.add_argument("--out", type=Path, required=True, help="FILE.csv or FILE.parquet")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    all_stats: list[ReadStats] = []
    try:
        with tqdm(total=len(args.inputs), desc="reading", unit="file", file=sys.stderr,
                  disable=len(args.inputs) < 2) as bar:

            def done(s: ReadStats) -> None:
                all_stats.append(s)
                bar.update(1)

            flows = read_many(args.inputs, args.input_format, on_file=done, columns=INPUT_COLUMNS)
        pools = PoolList.load(args.pool_list) if args.pool_list else PoolList.load()
        cfg = NetworkConfig(excluded=read_excluded(args.excluded) if args.excluded else ())
    except (ReaderError, ValueError) as exc:
        print(f"qingling detect network: {exc}", file=sys.stderr)
        return 2
    if flows.num_rows == 0:
        for s in all_stats:
            print(s.summary(), file=sys.stderr)
        print("qingling detect network: no flows in the input", file=sys.stderr)
        return 1
    result = detect_network(flows, connect(args.engine), pools=pools, cfg=cfg,
                            say=lambda m: print(f"  … {m}", file=sys.stderr))
    keep = ["src_ip", "dst_ip", "dst_port", "proto", "first_seen", "last_seen", "verdict",
            "score", "layers", "evidence", "label", "flows", "sessions", "active_s", "packets",
            "bytes"]
    write_table(result.pairs.select(keep), args.out)
    for s in all_stats:
        print(s.summary(), file=sys.stderr)
    c = result.counts()
    print(f"{flows.num_rows} flow records → {result.pairs.num_rows} host/endpoint pairs: "
          f"{c['mining']} mining, {c['suspicious']} suspicious, {c['clean']} clean "
          f"({time.perf_counter() - started:.1f} s, {args.engine}) → {args.out}", file=sys.stderr)
    return 0


def synth_flows_main(argv: list[str]) -> int:
    from qingling.detect.synth import synth_flows

    ap = argparse.ArgumentParser(prog="qingling synth flows",
                                 description="Write a synthetic day of city flows with miners.")
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--miners", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True, help="FILE.parquet (or .csv)")
    args = ap.parse_args(argv)
    if args.rows < 1 or args.miners < 0:
        print("qingling synth flows: --rows must be positive and --miners not negative",
              file=sys.stderr)
        return 2
    started = time.perf_counter()
    flows, truth = synth_flows(args.rows, args.miners, args.seed)
    write_table(flows, args.out)
    truth_path = args.out.with_name(args.out.stem + ".truth.csv")
    write_table(truth, truth_path)
    print(f"{flows.num_rows} flows with {truth.num_rows} miners → {args.out} "
          f"(truth: {truth_path}; {time.perf_counter() - started:.1f} s)", file=sys.stderr)
    return 0


def detect_power_main(argv: list[str]) -> int:
    from qingling.detect.engines import ENGINES, connect
    from qingling.detect.power.engine import Register, detect_power
    from qingling.detect.power.readers import FORMATS, PowerStats, read_meters
    from qingling.detect.readers.common import ReaderError

    ap = argparse.ArgumentParser(prog="qingling detect power",
                                 description="Rank meters by the likelihood of hidden mining.")
    ap.add_argument("inputs", nargs="+", type=Path)
    ap.add_argument("--format", default="auto", choices=FORMATS)
    ap.add_argument("--wide-unit", default="kwh", choices=("kwh", "kw"),
                    help="unit of p1..p96 in the wide96 format")
    ap.add_argument("--register", type=Path,
                    help="CSV: meter_id, category, contract_kva, transformer_area, address, …")
    ap.add_argument("--engine", default="duckdb", choices=ENGINES)
    ap.add_argument("--out", type=Path, required=True, help="FILE.csv or FILE.parquet")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    try:
        tables, stats = [], []
        for path in args.inputs:
            s = PowerStats(str(path))
            tables.append(read_meters(path, args.format, wide_unit=args.wide_unit, stats=s))
            stats.append(s)
        register = pacsv.read_csv(args.register) if args.register else None
        if register is not None:
            Register.check(register)  # before the screening, not after it
    except (ReaderError, pa.ArrowInvalid, OSError) as exc:
        print(f"qingling detect power: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # a register that names a meter twice, a bad contract value
        print(f"qingling detect power: {args.register}: {exc}", file=sys.stderr)
        return 2
    readings = pa.concat_tables(tables)
    result = detect_power(readings, connect(args.engine), register=register,
                          say=lambda m: print(f"  … {m}", file=sys.stderr))
    ranked = result.ranked
    if register is not None and ranked.num_rows:
        keep = [c for c in register.column_names if c != "meter_id"]
        ranked = ranked.join(register.select(["meter_id", *keep]).cast(
            pa.schema([pa.field("meter_id", pa.string())]
                      + [register.schema.field(c) for c in keep])), "meter_id",
            join_type="left outer").sort_by([("rank", "ascending")])
    write_table(ranked, args.out)
    for s in stats:
        print(s.summary(), file=sys.stderr)
    suspects = sum(1 for v in ranked.column("verdict").to_pylist() if v == "suspect") \
        if ranked.num_rows else 0
    print(f"{readings.num_rows} readings → {ranked.num_rows} meters ranked, {suspects} suspects "
          f"({time.perf_counter() - started:.1f} s, {args.engine}) → {args.out}", file=sys.stderr)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) >= 1 and argv[0] == "network":
        return detect_network_main(argv[1:])
    if len(argv) >= 1 and argv[0] == "power":
        return detect_power_main(argv[1:])
    print("usage: qingling detect network|power INPUT... --out FILE", file=sys.stderr)
    return 2


def synth_meters_main(argv: list[str]) -> int:
    import pyarrow.parquet as pq

    from qingling.detect.power.inject import synth_city

    ap = argparse.ArgumentParser(prog="qingling synth meters",
                                 description="Write a city sample of meters with miners.")
    ap.add_argument("--meters", type=int, required=True)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--miners", type=int, default=10)
    ap.add_argument("--negatives", type=int, help="hard negatives (default: as many as miners)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--commercial", type=float, default=0.08,
                    help="share of ordinary shops among the other meters (default 0.08)")
    ap.add_argument("--agricultural", type=float, default=0.02,
                    help="share of ordinary farms among the other meters (default 0.02)")
    ap.add_argument("--real", type=Path, help="long-form household curves to build on "
                    "(default: ../shared/data/power/sgsc_households_30min_dev.parquet if present)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    real_path = args.real or (Path(__file__).resolve().parents[4] / "shared" / "data" / "power"
                              / "sgsc_households_30min_dev.parquet")
    real = pq.read_table(real_path) if real_path.exists() else None
    try:
        if not (0 <= args.commercial and 0 <= args.agricultural
                and args.commercial + args.agricultural <= 1):
            raise ValueError("--commercial and --agricultural are shares: each ≥ 0, "
                             "together ≤ 1")
        city = synth_city(args.meters, args.days, args.miners, seed=args.seed, real=real,
                          negatives=args.negatives, commercial=args.commercial,
                          agricultural=args.agricultural)
    except ValueError as exc:
        print(f"qingling synth meters: {exc}", file=sys.stderr)
        return 2
    write_table(city.readings, args.out)
    truth_path = args.out.with_name(args.out.stem + ".truth.csv")
    register_path = args.out.with_name(args.out.stem + ".register.csv")
    write_table(city.truth, truth_path)
    write_table(city.register, register_path)
    print(f"{args.meters} meters × {args.days} days ({'real' if real is not None else 'synthetic'}"
          f" household shapes), {args.miners} miners → {args.out} (truth: {truth_path}; "
          f"register: {register_path})", file=sys.stderr)
    return 0


def resolve_main(argv: list[str]) -> int:
    from qingling.detect.engines import ENGINES, connect
    from qingling.detect.readers.common import ReaderError, ReadStats
    from qingling.detect.resolve.engine import ResolveConfig, build_sessions, resolve
    from qingling.detect.resolve.readers import read_carrier, read_observations

    ap = argparse.ArgumentParser(prog="qingling resolve", description=(
        "Resolve (IP[, port], time) observations to the subscriber account that held the "
        "address, through CGNAT translations, RADIUS sessions and static allocations."))
    ap.add_argument("--observations", type=Path, required=True,
                    help="CSV/Parquet: ip, [port], time (发现时间), [obs_id]")
    ap.add_argument("--radius", type=Path, nargs="+", required=True,
                    help="RADIUS accounting: CSV with RFC 2866 headers or FreeRADIUS detail")
    ap.add_argument("--cgnat", type=Path, nargs="*", default=[],
                    help="CGNAT logs: private_ip, public_ip, port_lo, port_hi, start, stop")
    ap.add_argument("--static", type=Path, nargs="*", default=[],
                    help="static allocations: network (CIDR), account, kind")
    ap.add_argument("--engine", default="duckdb", choices=ENGINES)
    ap.add_argument("--skew", type=int, default=120, help="clock tolerance in seconds")
    ap.add_argument("--max-session-hours", type=float, default=48)
    ap.add_argument("--out", type=Path, required=True, help="FILE.csv or FILE.parquet")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    stats: list[ReadStats] = []
    try:
        cfg = ResolveConfig(skew_s=args.skew, max_session_s=int(args.max_session_hours * 3600))
        events, cgnat, static = read_carrier(args.radius, args.cgnat, args.static, stats)
        obs_stats = ReadStats(str(args.observations))
        stats.append(obs_stats)
        if not args.observations.exists():
            raise ReaderError(f"{args.observations}: no such file")
        obs = read_observations(args.observations, obs_stats)
        engine = connect(args.engine)
        sessions = build_sessions(events, engine, cfg)
        out = resolve(obs, sessions, engine, cgnat=cgnat, static=static, cfg=cfg)
    except (ReaderError, ValueError) as exc:
        print(f"qingling resolve: {exc}", file=sys.stderr)
        return 2
    write_table(out, args.out)
    for st in stats:
        print(st.summary(), file=sys.stderr)
    counts = {k: 0 for k in ("resolved", "ambiguous", "unresolved")}
    for v in out.column("status").to_pylist():
        counts[v] += 1
    print(f"{obs.num_rows} observations, {sessions.num_rows} sessions: "
          f"{counts['resolved']} resolved, {counts['ambiguous']} ambiguous, "
          f"{counts['unresolved']} unresolved ({time.perf_counter() - started:.1f} s, "
          f"{args.engine}) → {args.out}", file=sys.stderr)
    return 0


def synth_carrier_main(argv: list[str]) -> int:
    from qingling.detect.resolve.synth import synth_carrier, write_carrier

    ap = argparse.ArgumentParser(prog="qingling synth carrier", description=(
        "Write carrier records (RADIUS CSV with RFC 2866 headers, CGNAT log, static "
        "allocations) and observations with their answer key."))
    ap.add_argument("--ips", type=int, default=2000)
    ap.add_argument("--days", type=int, default=2)
    ap.add_argument("--observations", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--for-flows", type=Path,
                    help="a canonical flow file (e.g. from `synth flows`): write RADIUS "
                         "records and a subscriber register for its internal hosts instead")
    ap.add_argument("--out-dir", type=Path, required=True)
    args = ap.parse_args(argv)
    if args.for_flows:
        import pyarrow.csv as pacsv

        from qingling.detect.readers.flows import read_flows
        from qingling.detect.resolve.synth import carrier_for_flows, radius_export

        events, subs = carrier_for_flows(read_flows(args.for_flows), seed=args.seed)
        args.out_dir.mkdir(parents=True, exist_ok=True)
        pacsv.write_csv(radius_export(events), args.out_dir / "radius.csv")
        pacsv.write_csv(subs.rename_columns(["账号", "户名", "证件号码", "联系电话", "装机地址",
                                             "运营商"]), args.out_dir / "subscribers.csv")
        print(f"{subs.num_rows} subscribers for the hosts of {args.for_flows} → "
              f"{args.out_dir / 'radius.csv'}, {args.out_dir / 'subscribers.csv'}",
              file=sys.stderr)
        return 0
    data = synth_carrier(args.ips, args.days, args.observations, seed=args.seed)
    paths = write_carrier(data, args.out_dir)
    print(f"{data.sessions.num_rows} sessions ({data.events.num_rows} RADIUS events) on "
          f"{args.ips} addresses over {args.days} days, {data.observations.num_rows} "
          f"observations → {', '.join(str(p) for p in paths)}", file=sys.stderr)
    return 0


def synth_main(argv: list[str]) -> int:
    if len(argv) >= 1 and argv[0] == "flows":
        return synth_flows_main(argv[1:])
    if len(argv) >= 1 and argv[0] == "meters":
        return synth_meters_main(argv[1:])
    if len(argv) >= 1 and argv[0] == "carrier":
        return synth_carrier_main(argv[1:])
    print("usage: qingling synth flows|meters|carrier …", file=sys.stderr)
    return 2
