"""A window holding only share submissions and their accepts (no login, no job push) is
mining: the share's method and parameter shape name the dialect on their own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qingling.detect.engines import connect
from qingling.detect.network.config import NetworkConfig
from qingling.detect.network.engine import detect_network
from qingling.detect.network.payload import StreamEvidence, payload_score, share_dialect
from qingling.detect.readers.orientation import InternalNets
from qingling.detect.readers.pcap import read_pcap
from qingling.detect.recut import rewrite_capture, submit_only_window
from tests.detect.conftest import SHARED, needs_shared

XMR_CAPTURE = SHARED / "mining" / "ndpi_mining.pcapng"  # its XMR session: pool on 9050
NONCE, RESULT = "98024001", "c9be9381a68d533c059d614d961e0534d7d8785dd5c339c2f959" + "0" * 12


@needs_shared
def test_a_55_second_window_of_submits_and_accepts_is_mining(tmp_path: Path) -> None:
    window = submit_only_window(XMR_CAPTURE, 9050, 55.0)
    cut = rewrite_capture(XMR_CAPTURE, tmp_path / "window.pcap", window=window)
    flows = read_pcap(cut, internal=InternalNets.parse("private"))
    session = [r for r in flows.to_pylist() if r["dst_port"] == 9050]
    assert len(session) == 1
    s = session[0]
    # What the window holds: submits one way, accepts the other, nothing else of mining.
    assert s["methods_fwd"] == "submit" and not s["methods_rev"] and not s["pool_job_rev"]
    assert not s["login_agent"] and s["share_fwd"] == "monero" and s["share_ack_rev"]
    pairs = detect_network(flows, connect("duckdb")).pairs.to_pylist()
    r = next(p for p in pairs if p["dst_port"] == 9050)
    assert r["verdict"] == "mining", r["evidence"]
    assert "Monero share submissions" in r["evidence"] and "accepted" in r["evidence"]


@needs_shared
def test_the_submit_window_with_the_pool_on_a_high_port_keeps_its_miner(
        tmp_path: Path) -> None:
    window = submit_only_window(XMR_CAPTURE, 9050, 55.0)
    cut = rewrite_capture(XMR_CAPTURE, tmp_path / "window.pcap", window=window,
                          ports={9050: 45700, 55190: 44000})
    # No internal ranges to lean on: the protocol alone orients the pair.
    flows = read_pcap(cut, internal=InternalNets.parse("192.0.2.0/24"))
    r = next(p for p in detect_network(flows, connect("duckdb")).pairs.to_pylist()
             if "178.32.196.217" in (p["src_ip"], p["dst_ip"]))
    assert (r["src_ip"], r["dst_ip"], r["dst_port"], r["verdict"]) == (
        "192.168.2.92", "178.32.196.217", 45700, "mining")


@pytest.mark.parametrize(("message", "dialect"), [
    ({"method": "submit", "params": {"id": "4790", "job_id": "7221", "nonce": NONCE,
                                     "result": RESULT}}, "monero"),
    ({"method": "mining.submit", "params": ["kvetak.worker1", "39f2", "16ee7c58",
                                            "43040000", "fd400500"]}, "stratum"),
    ({"method": "mining.submit", "params": ["w", "1a", "00000001", "5e9a1b2c", "b2957c02",
                                            "20000000"]}, "stratum"),
    ({"method": "eth_submitWork", "params": ["0x" + "a" * 16, "0x" + "b" * 64,
                                             "0x" + "c" * 64]}, "ethereum"),
])
def test_each_dialects_share_shape_is_recognised(message: dict[str, object],
                                                 dialect: str) -> None:
    assert share_dialect(message) == dialect


@pytest.mark.parametrize("message", [
    {"method": "submit", "params": {"job_id": "7221", "nonce": "9802400", "result": RESULT}},
    {"method": "submit", "params": {"job_id": "", "nonce": NONCE, "result": RESULT}},
    {"method": "submit", "params": {"form": "feedback", "text": "hello"}},
    {"method": "mining.submit", "params": ["w", "1a", "not hex", "5e9a1b2c", "b2957c02"]},
    {"method": "eth_submitWork", "params": ["0x1", "0x2", "0x3"]},
    {"method": "eth_sendRawTransaction", "params": ["0x" + "a" * 64]},
])
def test_lookalike_submits_are_not_shares(message: dict[str, object]) -> None:
    assert share_dialect(message) == ""


def test_a_share_is_mining_alone_and_its_accept_makes_it_certain() -> None:
    cfg = NetworkConfig()
    alone, _ = payload_score("submit", None, False, False, None, share_fwd="monero")
    accepted, text = payload_score("submit", None, True, False, None, share_fwd="monero",
                                   share_ack_rev=True)
    assert cfg.mining_at <= alone < accepted == 1.0 and "accepted" in text
    # A shapeless "submit" answered by JSON-RPC stays weak, as before.
    assert payload_score("submit", None, True, False, None)[0] < cfg.suspicious_at


def test_a_share_split_from_its_line_or_cut_by_the_window_is_not_guessed() -> None:
    params = {"id": "4", "job_id": "7", "nonce": NONCE, "result": RESULT}
    line = json.dumps({"id": 1, "method": "submit", "params": params}).encode() + b"\n"
    ev = StreamEvidence()
    ev.add(line[:60] + b"\n")  # the window began or ended inside the message
    assert ev.share == ""
    ev.add(line)
    assert ev.share == "monero"
