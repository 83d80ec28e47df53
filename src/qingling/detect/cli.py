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
    from qingling.detect.network.engine import detect_network
    from qingling.detect.network.names import PoolList
    from qingling.detect.readers import FORMATS, read_many
    from qingling.detect.readers.common import ReaderError, ReadStats

    ap = argparse.ArgumentParser(prog="qingling detect network",
                                 description="Find mining in network data.")
    ap.add_argument("inputs", nargs="+", type=Path)
    ap.add_argument("--input-format", default="auto", choices=FORMATS)
    ap.add_argument("--pool-list", type=Path, help="CSV: name,kind,source,weight,as_of")
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

            flows = read_many(args.inputs, args.input_format, on_file=done)
        pools = PoolList.load(args.pool_list) if args.pool_list else PoolList.load()
    except (ReaderError, ValueError) as exc:
        print(f"qingling detect network: {exc}", file=sys.stderr)
        return 2
    if flows.num_rows == 0:
        for s in all_stats:
            print(s.summary(), file=sys.stderr)
        print("qingling detect network: no flows in the input", file=sys.stderr)
        return 1
    result = detect_network(flows, connect(args.engine), pools=pools,
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


def main(argv: list[str]) -> int:
    if len(argv) >= 1 and argv[0] == "network":
        return detect_network_main(argv[1:])
    print("usage: qingling detect network INPUT... --out FILE", file=sys.stderr)
    return 2


def synth_main(argv: list[str]) -> int:
    if len(argv) >= 1 and argv[0] == "flows":
        return synth_flows_main(argv[1:])
    print("usage: qingling synth flows --rows N --out FILE.parquet", file=sys.stderr)
    return 2
