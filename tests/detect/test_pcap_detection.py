"""Real captures: every pool connection in the mining captures is `mining`; nothing in the
benign captures (including the non-mining JSON-RPC one) is."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from qingling.detect.engines import connect
from qingling.detect.network.engine import detect_network, enrich
from qingling.detect.network.names import PoolList
from qingling.detect.readers.pcap import read_pcap
from qingling.detect.schema import conform
from tests.detect.conftest import BENIGN, MINING, needs_shared

pytestmark = needs_shared
PAYLOAD_COLUMNS = ["dns_name", "tls_sni", "http_host", "methods_fwd", "methods_rev",
                   "rpc_reply_rev", "pool_job_rev", "login_agent", "share_fwd",
                   "share_ack_rev", "push_iat_median", "push_iat_cv"]


def pool_pairs(flows: pa.Table) -> set[tuple[str, str, int]]:
    """Independent of the fusion: pairs where pool communication was seen on the wire."""
    e = enrich(flows, PoolList.load()).to_pylist()
    return {(r["src_ip"], r["dst_ip"], r["dst_port"]) for r in e if r["payload_score"] >= 0.9}


@pytest.mark.parametrize("capture", MINING, ids=lambda p: p.name)
def test_every_pool_connection_is_mining(capture: Path) -> None:
    flows = read_pcap(capture)
    result = detect_network(flows, connect("duckdb")).pairs.to_pylist()
    verdict = {(r["src_ip"], r["dst_ip"], r["dst_port"]): r for r in result}
    expected = pool_pairs(flows)
    assert expected, "each mining capture has at least one pool connection"
    for pair in expected:
        assert verdict[pair]["verdict"] == "mining", (pair, verdict[pair]["evidence"])
        assert verdict[pair]["evidence"]


@pytest.mark.parametrize("capture", BENIGN, ids=lambda p: p.name)
def test_benign_captures_have_no_mining(capture: Path) -> None:
    result = detect_network(read_pcap(capture), connect("duckdb"))
    assert result.counts()["mining"] == 0


def test_flow_only_long_sessions_stay_mining_or_suspicious(
    capsys: pytest.CaptureFixture[str],
) -> None:
    eng = connect("duckdb")
    total = caught = long_total = long_caught = 0
    long_missed = []
    for capture in MINING:
        full = read_pcap(capture)
        pairs = pool_pairs(full)
        flow_only = conform(full.drop_columns(PAYLOAD_COLUMNS))
        rows = detect_network(flow_only, eng).pairs.to_pylist()
        for r in rows:
            if (r["src_ip"], r["dst_ip"], r["dst_port"]) not in pairs:
                continue
            total += 1
            hit = r["verdict"] in ("mining", "suspicious")
            caught += hit
            if r["active_s"] >= 60:
                long_total += 1
                long_caught += hit
            if r["active_s"] >= 900 and not hit:
                long_missed.append((capture.name, r["dst_port"], r["score"]))
    with capsys.disabled():
        print(f"\nflow-only recall: all pool connections {caught}/{total} = {caught / total:.0%}; "
              f"sessions of 1 min or more {long_caught}/{long_total} = "
              f"{long_caught / long_total:.0%}")
    assert long_missed == []
