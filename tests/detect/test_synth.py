from __future__ import annotations

from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from qingling.cli import main as qingling
from qingling.detect.engines import connect
from qingling.detect.network.engine import detect_network
from qingling.detect.synth import synth_flows


def test_the_same_seed_writes_the_same_day() -> None:
    a, ta = synth_flows(5000, 4, seed=7)
    b, tb = synth_flows(5000, 4, seed=7)
    assert a.equals(b) and ta.equals(tb)
    assert a.num_rows == 5000 and ta.num_rows == 4


def test_miners_look_like_their_coin_and_are_found() -> None:
    flows, truth = synth_flows(20_000, 8, seed=3)
    rows = detect_network(flows, connect("duckdb")).pairs.to_pylist()
    found = {(r["src_ip"], r["dst_ip"], r["dst_port"]): r for r in rows}
    for t in truth.to_pylist():
        r = found[(t["src_ip"], t["dst_ip"], t["dst_port"])]
        assert r["verdict"] in ("mining", "suspicious"), (t, r["evidence"])
        assert r["active_s"] >= 4 * 3600 * 0.99  # every miner runs at least four hours
    false_leads = sum(1 for k, r in found.items() if r["verdict"] != "clean"
                      and k not in {(t["src_ip"], t["dst_ip"], t["dst_port"])
                                    for t in truth.to_pylist()})
    assert false_leads / len(found) < 0.02


def test_the_cli_writes_flows_and_a_truth_file(tmp_path: Path) -> None:
    out = tmp_path / "day.parquet"
    assert qingling(["synth", "flows", "--rows", "3000", "--miners", "2", "--out",
                     str(out)]) == 0
    assert pq.read_table(out).num_rows == 3000
    assert pacsv.read_csv(tmp_path / "day.truth.csv").num_rows == 2
