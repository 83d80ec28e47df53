"""One fixture, every engine, the same answer; and the relational logic checked against a
hand-computed oracle."""

from __future__ import annotations

import pyarrow as pa

from qingling.detect.engines import Engine, connect
from qingling.detect.network.engine import detect_network
from qingling.detect.readers.pcap import read_pcap
from qingling.detect.schema import flows_table
from tests.detect.conftest import BENIGN, MINING, needs_shared, record


def fixture_flows() -> pa.Table:
    return flows_table([
        # One miner's session cut by an exporter every 10 min, then a reconnect 1 h later.
        record(0, 600), record(610, 1200), record(1210, 1800),
        record(5400, 6000, src_port=50001),
        # A Stratum message seen by DPI on another host.
        record(0, 30, src_ip="10.1.1.2", methods_fwd="mining.subscribe|mining.authorize",
               packets_fwd=5, packets_rev=5),
        # A short web visit.
        record(100, 101, src_ip="10.1.1.3", dst_port=443, dst_ip="192.0.2.1", packets_fwd=8,
               packets_rev=9, bytes_fwd=900, bytes_rev=12000, psh_ack_packets=4),
        # A Bitcoin node.
        record(0, 7200, src_ip="10.1.1.4", dst_port=8333),
    ])


def test_the_relational_logic_matches_a_hand_computed_oracle(engine: Engine) -> None:
    rows = {r["src_ip"]: r for r in detect_network(fixture_flows(), engine).pairs.to_pylist()}
    miner = rows["10.1.1.1"]
    # Records 10 s apart are one session; the reconnect after an hour is a second.
    assert (miner["flows"], miner["sessions"]) == (4, 2)
    assert miner["active_s"] == 600 + 590 + 590 + 600
    assert miner["packets"] == 4 * 120
    assert miner["verdict"] == "suspicious"  # flow shape alone makes a lead, not a verdict
    assert rows["10.1.1.2"]["verdict"] == "mining"
    assert rows["10.1.1.3"]["verdict"] == "clean"
    assert rows["10.1.1.4"]["label"] == "node" and rows["10.1.1.4"]["verdict"] == "clean"


@needs_shared
def test_duckdb_and_spark_give_identical_verdicts(engine: Engine) -> None:
    flows = pa.concat_tables([read_pcap(p) for p in MINING[:4] + BENIGN[:2]])
    cols = ["src_ip", "dst_ip", "dst_port", "proto", "first_seen", "last_seen", "verdict",
            "score", "layers", "evidence", "label"]
    def rows(result: pa.Table) -> list[dict[str, object]]:
        keys = [(c, "ascending") for c in ("src_ip", "dst_ip", "dst_port", "proto")]
        return result.select(cols).sort_by(keys).to_pylist()

    reference = rows(detect_network(flows, connect("duckdb")).pairs)
    other = rows(detect_network(flows, engine).pairs)
    assert other == reference
    assert any(r["verdict"] == "mining" for r in reference)
