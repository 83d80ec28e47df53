"""Flow shape alone: known-benign long-lived protocols and endpoints the city excluded are
no leads, while miners on any port, standard or not, stay leads."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from qingling.cli import main as qingling
from qingling.detect.engines import Engine, connect
from qingling.detect.network.config import NetworkConfig, read_excluded
from qingling.detect.network.engine import detect_network
from qingling.detect.readers.common import ReadStats
from qingling.detect.readers.nfdump import read_nfdump
from qingling.detect.readers.orientation import InternalNets
from qingling.detect.readers.pcap import read_pcap
from qingling.detect.schema import conform, flows_table
from qingling.detect.synth import synth_flows, write_nfdump
from tests.detect.conftest import MINING, needs_shared, record

BENIGN_PORTS = {1883, 8883, 6633, 6653, 5060, 5061}


def day_result() -> tuple[list[dict[str, object]], set[tuple[object, ...]]]:
    flows, truth = synth_flows(60_000, 24, seed=3)  # a day with 5 pools on high ports
    rows = detect_network(flows, connect("duckdb")).pairs.to_pylist()
    miners = {(t["src_ip"], t["dst_ip"], t["dst_port"]) for t in truth.to_pylist()}
    return rows, miners


def key(r: dict[str, object]) -> tuple[object, ...]:
    return (r["src_ip"], r["dst_ip"], r["dst_port"])


def test_benign_long_lived_protocols_are_no_leads_and_miners_on_any_port_are() -> None:
    rows, miners = day_result()
    benign = [r for r in rows if key(r) not in miners]
    # The generator's MQTT, SDN-controller, SIP and P2P keepalive pairs look like miners by
    # persistence and rate: without the rule they would be leads.
    cfg = NetworkConfig()
    lead_alone = cfg.suspicious_at / cfg.w_behaviour  # behaviour that alone makes a lead
    lookalikes = [r for r in benign if r["label"] and float(str(r["behaviour"])) >= lead_alone]
    assert {r["label"] for r in lookalikes} >= {"keepalive", "benign:MQTT",
                                                 "benign:SDN controller (OpenFlow/OVSDB)",
                                                 "benign:SIP (VoIP)"}
    assert all(r["verdict"] == "clean" for r in lookalikes)
    assert not [r for r in benign if r["dst_port"] in BENIGN_PORTS and r["verdict"] != "clean"]
    leads = [r for r in benign if r["verdict"] != "clean"]
    assert not [r for r in leads if r["verdict"] == "mining"]
    assert len(leads) / len(benign) <= 0.005
    found = {key(r): r["verdict"] for r in rows}
    assert all(found[m] in ("mining", "suspicious") for m in miners)
    high = [m for m in miners if int(str(m[2])) >= 32768]  # pools in the client port range
    assert len(high) == 5 and all(found[m] in ("mining", "suspicious") for m in high)


def test_a_pool_on_a_benign_port_with_a_miners_packets_is_still_a_lead(engine: Engine) -> None:
    # An hour to a "broker" on 8883 whose packets are a pool's size (150 and 400 B).
    flows = flows_table([record(i * 600, i * 600 + 590, dst_port=8883, bytes_fwd=9000,
                                bytes_rev=24000) for i in range(6)])
    r = detect_network(flows, engine).pairs.to_pylist()[0]
    assert (r["verdict"], r["label"]) == ("suspicious", "")


def test_keepalive_sized_traffic_both_ways_is_no_lead_on_any_port(engine: Engine) -> None:
    ping = {"dst_port": 40404, "packets_fwd": 60, "packets_rev": 60, "bytes_fwd": 3600,
            "bytes_rev": 3900}
    flows = flows_table([record(i * 600, i * 600 + 590, **ping) for i in range(6)]
                        + [record(i * 600, i * 600 + 590, src_ip="10.1.1.2", **ping,
                                  methods_fwd="mining.subscribe") for i in range(2)])
    rows = {r["src_ip"]: r for r in detect_network(flows, engine).pairs.to_pylist()}
    assert (rows["10.1.1.1"]["verdict"], rows["10.1.1.1"]["label"]) == ("clean", "keepalive")
    assert rows["10.1.1.1"]["behaviour"] > 0.9  # measured, shown, not counted
    assert rows["10.1.1.2"]["verdict"] == "mining"  # payload still convicts


def test_an_endpoint_the_city_excluded_is_no_behaviour_lead(engine: Engine) -> None:
    flows = flows_table([record(i * 600, i * 600 + 590) for i in range(6)]
                        + [record(0, 600, src_ip="10.1.1.2", dst_ip="198.51.100.10",
                                  tls_sni="xmr.pool.minergate.com")]
                        + [record(i * 600, i * 600 + 590, src_ip="10.1.1.3", dst_port=3334)
                           for i in range(6)])
    cfg = NetworkConfig(excluded=(("198.51.100.9", 3333), ("198.51.100.10", 3333)))
    before = {r["src_ip"]: r for r in detect_network(flows, engine).pairs.to_pylist()}
    after = {r["src_ip"]: r for r in detect_network(flows, engine, cfg=cfg).pairs.to_pylist()}
    assert before["10.1.1.1"]["verdict"] == "suspicious"
    assert (after["10.1.1.1"]["verdict"], after["10.1.1.1"]["label"]) == ("clean", "excluded")
    # A pool's name still counts at an excluded endpoint; another port is another endpoint.
    assert before["10.1.1.2"]["verdict"] == "mining"
    assert after["10.1.1.2"]["verdict"] == "suspicious" and after["10.1.1.2"]["names"] > 0
    assert after["10.1.1.3"]["verdict"] == "suspicious"
    assert "excluded by the city" in after["10.1.1.2"]["evidence"]


@pytest.mark.parametrize(("excluded", "message"), [
    ((("pool.example", 3333),), "excluded endpoint 1"),
    ((("198.51.100.9", 70000),), "not \\(address, port"),
    ((("198.51.100.9",),), "excluded endpoint 1"),
])
def test_bad_excluded_endpoints_are_refused(excluded: tuple[tuple[str, int], ...],
                                            message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NetworkConfig(excluded=excluded)


def test_the_cli_reads_excluded_endpoints_and_names_a_bad_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flows = tmp_path / "day.parquet"
    pq.write_table(flows_table([record(i * 600, i * 600 + 590) for i in range(6)]), flows)
    good = tmp_path / "excluded.csv"
    good.write_text("ip,port\n198.51.100.9,3333\n")
    assert read_excluded(good) == (("198.51.100.9", 3333),)
    out = tmp_path / "v.csv"
    assert qingling(["detect", "network", str(flows), "--excluded", str(good), "--out",
                     str(out)]) == 0
    assert "0 suspicious" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("ip,port\n198.51.100.9,3333\n198.51.100.9,https\n")
    assert qingling(["detect", "network", str(flows), "--excluded", str(bad), "--out",
                     str(out)]) == 2
    assert "line 3" in capsys.readouterr().err


@needs_shared
def test_no_real_pool_session_is_taken_for_a_benign_shape() -> None:
    for capture in MINING:
        full = read_pcap(capture)
        flow_only = conform(full.select([c for c in full.column_names if c not in (
            "methods_fwd", "methods_rev", "rpc_reply_rev", "pool_job_rev", "login_agent",
            "share_fwd", "share_ack_rev", "dns_name", "tls_sni", "http_host")]))
        pairs = detect_network(flow_only, connect("duckdb")).pairs
        long = pairs.filter(pc.greater_equal(pairs["active_s"], 60.0)).to_pylist()
        assert [r for r in long if r["label"]] == [], capture.name


@pytest.mark.parametrize("inside", ["private", "192.0.2.0/24"],
                         ids=["city-ranges-known", "no-city-ranges"])
def test_miners_on_high_pool_ports_survive_one_way_netflow_records(
        tmp_path: Path, inside: str) -> None:
    # Without the city's ranges, the pool is the end every reconnect meets.
    flows, truth = synth_flows(20_000, 24, seed=3)
    export = tmp_path / "day.csv"
    write_nfdump(flows, export)
    read = read_nfdump(export, ReadStats("nf"), internal=InternalNets.parse(inside))
    rows = {key(r): r for r in detect_network(read, connect("duckdb")).pairs.to_pylist()}
    high = [t for t in truth.to_pylist() if t["dst_port"] >= 32768]
    assert len(high) == 5
    for t in truth.to_pylist():
        r = rows[(t["src_ip"], t["dst_ip"], t["dst_port"])]
        assert r["verdict"] in ("mining", "suspicious"), t
        # Both directions summed on the miner's pair: nothing left on a reversed one.
        assert r["packets"] == sum(
            f["packets_fwd"] + f["packets_rev"] for f in flows.filter(
                pc.and_(pc.equal(flows["src_ip"], t["src_ip"]),
                        pc.equal(flows["dst_port"], t["dst_port"]))).to_pylist())
    assert not [k for k in rows if k[0] in {t["dst_ip"] for t in truth.to_pylist()}]
