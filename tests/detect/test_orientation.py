"""Which side is the client: from the opening, then the protocol, then addresses, then
ports — on real captures handed over mid-session with the pool on a high port."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

import pyarrow.compute as pc
import pytest

from qingling.cli import main as qingling
from qingling.detect.engines import connect
from qingling.detect.network.engine import detect_network
from qingling.detect.readers.common import ReaderError, ReadStats
from qingling.detect.readers.netflow import Decoder
from qingling.detect.readers.nfdump import read_nfdump
from qingling.detect.readers.orientation import InternalNets, first_is_client, settle
from qingling.detect.readers.pcap import read_pcap
from qingling.detect.readers.zeek import read_zeek
from qingling.detect.recut import rewrite_capture
from tests.detect.conftest import SHARED, needs_shared

PRIVATE = InternalNets.parse("private")
# Single real pool sessions, and a pool port in Linux's client range for each.
SESSIONS = [("nesfit_xmr.suprnova.cc.pcapng", 5222, 45560),
            ("nesfit_zec-eu.suprnova.cc.pcapng", 2142, 33333),
            ("nesfit_eth-eu1.nanopool.org.pcapng", 9999, 45700)]


def pool_row(path: Path) -> dict[str, object]:
    rows = [r for r in read_pcap(path, internal=PRIVATE).to_pylist() if r["methods_fwd"]]
    assert len(rows) == 1
    return rows[0]


@needs_shared
@pytest.mark.parametrize(("name", "pool_port", "high_port"), SESSIONS,
                         ids=[s[0] for s in SESSIONS])
def test_a_mid_session_capture_keeps_the_miner_as_client_whatever_its_port(
        tmp_path: Path, name: str, pool_port: int, high_port: int) -> None:
    original = pool_row(SHARED / "mining" / name)
    miner_port = int(original["src_port"])  # type: ignore[call-overload]
    seen = []
    for miner_new in (high_port - 1000, high_port + 1000):
        capture = rewrite_capture(SHARED / "mining" / name, tmp_path / f"{miner_new}.pcap",
                                  ports={pool_port: high_port, miner_port: miner_new},
                                  drop_syn=True)
        flows = read_pcap(capture, internal=PRIVATE)
        assert "S" not in f"{flows['tcp_flags'].to_pylist()}"  # no opening left to go by
        pairs = detect_network(flows, connect("duckdb")).pairs.to_pylist()
        pool = [r for r in pairs if r["dst_port"] == high_port]
        assert len(pool) == 1, pairs
        r = pool[0]
        assert (r["src_ip"], r["dst_ip"]) == (original["src_ip"], original["dst_ip"])
        seen.append((r["src_ip"], r["dst_ip"], r["dst_port"], r["verdict"]))
    assert seen[0] == seen[1] and seen[0][3] == "mining"


def test_the_opening_then_system_ports_then_city_addresses_then_port_guesses() -> None:
    city, pool = ("10.20.1.5", 50000), ("185.71.66.20", 45700)
    assert first_is_client(pool, city, PRIVATE, opening=True)  # the SYN or the protocol
    assert first_is_client(city, pool, PRIVATE) and not first_is_client(pool, city, PRIVATE)
    # A city web server answering an outside visitor is not the visitor's client.
    assert not first_is_client(("10.20.1.80", 443), ("203.0.113.7", 51000), PRIVATE)
    outside = InternalNets.parse("192.0.2.0/24")
    assert first_is_client(("203.0.113.7", 50000), ("198.51.100.1", 45700), outside)
    assert first_is_client(("203.0.113.7", 40000), ("198.51.100.1", 3333), outside)


def test_internal_ranges_come_from_the_environment_and_bad_ones_are_named(
        tmp_path: Path) -> None:
    carrier = tmp_path / "carrier.txt"
    carrier.write_text("# Jiaxing broadband pools\n115.192.0.0/11\n\n2408:8256::/32\n")
    nets = InternalNets.from_env({"QINGLING_INTERNAL_NETS": f"private,{carrier}"})
    assert "100.64.3.4" in nets and "115.200.1.1" in nets and "2408:8256::1" in nets
    assert "8.8.8.8" not in nets and "not-an-ip" not in nets
    assert "10.1.1.1" in InternalNets.from_env({})  # default: the private ranges
    with pytest.raises(ValueError, match=r"'10\.0\.0\.0/33' is not an address range"):
        InternalNets.from_env({"QINGLING_INTERNAL_NETS": "private,10.0.0.0/33"})
    with pytest.raises(ValueError, match="'intranet' is neither"):
        InternalNets.parse("intranet")
    bad = tmp_path / "bad.txt"
    bad.write_text("10.0.0.0/8\nhello\n")
    with pytest.raises(ValueError, match="line 2: 'hello'"):
        InternalNets.parse(str(bad))


@needs_shared
@pytest.mark.parametrize("miner_port", [40000, 50000])
def test_netflow_records_of_a_high_port_pool_are_turned_to_the_city_host(
        tmp_path: Path, miner_port: int) -> None:
    # The real XMR session as an exporter reports it: one record each way, pool on 45560.
    s = pool_row(SHARED / "mining" / SESSIONS[0][0])
    miner, pool = str(s["src_ip"]), str(s["dst_ip"])
    csv = tmp_path / "nf.csv"
    csv.write_text(
        "ts,te,sa,da,sp,dp,pr,flg,ipkt,ibyt\n"
        f"2026-11-20 00:00:00,2026-11-20 00:20:00,{pool},{miner},45560,{miner_port},TCP,"
        f".AP...,{s['packets_rev']},{s['bytes_rev']}\n"
        f"2026-11-20 00:00:00,2026-11-20 00:20:00,{miner},{pool},{miner_port},45560,TCP,"
        f".AP...,{s['packets_fwd']},{s['bytes_fwd']}\n")
    # The university network the capture was taken in is this deployment's inside.
    site = InternalNets.parse(f"private,{miner.rsplit('.', 2)[0]}.0.0/16")
    rows = read_nfdump(csv, ReadStats("nf"), internal=site).to_pylist()
    assert {(r["src_ip"], r["dst_ip"], r["dst_port"]) for r in rows} == {(miner, pool, 45560)}
    assert sum(int(r["packets_rev"]) for r in rows) == s["packets_rev"]


def test_zeek_keeps_its_originator_only_when_it_saw_the_handshake(tmp_path: Path) -> None:
    log = tmp_path / "conn.log"
    line = ('{{"ts":1763596800.0,"uid":"C{n}","id.orig_h":"185.71.66.20","id.orig_p":45700,'
            '"id.resp_h":"10.20.1.5","id.resp_p":{port},"proto":"tcp","duration":600.0,'
            '"history":"{history}","orig_pkts":40,"orig_ip_bytes":9000,"resp_pkts":30,'
            '"resp_ip_bytes":4000}}\n')
    log.write_text(line.format(n=1, port=50000, history="DdA")
                   + line.format(n=2, port=40000, history="ShADad"))
    rows = read_zeek([log], internal=PRIVATE).to_pylist()
    mid, opened = rows
    assert (mid["src_ip"], mid["dst_ip"], mid["dst_port"]) == ("10.20.1.5", "185.71.66.20", 45700)
    assert (mid["packets_fwd"], mid["bytes_rev"]) == (30, 9000)
    assert (opened["src_ip"], opened["dst_port"]) == ("185.71.66.20", 40000)


def test_a_file_that_is_not_a_capture_is_named_in_the_error(tmp_path: Path) -> None:
    (tmp_path / "x.pcap").write_bytes(b"not a capture at all")
    with pytest.raises(ReaderError, match="not a pcap"):
        read_pcap(tmp_path / "x.pcap", internal=PRIVATE)


def ipfix_biflow(direction: int | None) -> bytes:
    """One IPFIX message: a template and an RFC 5103 biflow record from the pool's side
    (185.71.66.20:45700 → 203.0.113.5:40000), with biflowDirection when given."""
    fields = [(8, 4, 0), (12, 4, 0), (7, 2, 0), (11, 2, 0), (4, 1, 0), (2, 4, 0), (1, 4, 0),
              (2, 4, 29305), (1, 4, 29305)]
    if direction is not None:
        fields.append((239, 1, 0))
    spec = b"".join(struct.pack("!HH", f | 0x8000, n) + struct.pack("!I", pen) if pen
                    else struct.pack("!HH", f, n) for f, n, pen in fields)
    tpl = struct.pack("!HH", 256, len(fields)) + spec
    rec = (socket.inet_aton("185.71.66.20") + socket.inet_aton("203.0.113.5")
           + struct.pack("!HHB", 45700, 40000, 6) + struct.pack("!IIII", 30, 9000, 40, 5000))
    if direction is not None:
        rec += struct.pack("!B", direction)
    sets = (struct.pack("!HH", 2, 4 + len(tpl)) + tpl
            + struct.pack("!HH", 256, 4 + len(rec)) + rec)
    return struct.pack("!HHIII", 10, 16 + len(sets), 1763596800, 1, 0) + sets


def test_an_exporters_biflow_direction_comes_before_the_ports() -> None:
    nowhere = InternalNets.parse("192.0.2.0/24")  # neither end inside: only words and ports
    said = Decoder(ReadStats("ipfix"), nowhere)
    said.feed("192.0.2.1", ipfix_biflow(2))  # 2: the destination opened the connection
    (row,) = said.rows
    assert (row["src_ip"], row["dst_ip"], row["dst_port"]) == ("203.0.113.5", "185.71.66.20",
                                                              45700)
    # The reverse counts are the miner's own packets, the forward ones the pool's.
    assert (row["packets_fwd"], row["bytes_fwd"], row["packets_rev"], row["bytes_rev"]) == (
        40, 5000, 30, 9000)
    silent = Decoder(ReadStats("ipfix"), nowhere)
    silent.feed("192.0.2.1", ipfix_biflow(None))
    assert silent.rows[0]["src_ip"] == "185.71.66.20"  # ports alone guess the higher one


@needs_shared
def test_the_cli_refuses_bad_internal_ranges_by_name(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("QINGLING_INTERNAL_NETS", "private,10.0.0.0/33")
    capture = SHARED / "mining" / SESSIONS[0][0]
    assert qingling(["detect", "network", str(capture), "--out",
                     str(tmp_path / "v.csv")]) == 2
    assert "QINGLING_INTERNAL_NETS: '10.0.0.0/33' is not an address range" in (
        capsys.readouterr().err)


def test_a_port_guess_is_turned_round_when_the_other_end_meets_more_peers() -> None:
    def row(src: str, sport: int, dst: str, dport: int) -> dict[str, object]:
        return {"src_ip": src, "src_port": sport, "dst_ip": dst, "dst_port": dport,
                "proto": "tcp", "packets_fwd": 10, "packets_rev": 20, "bytes_fwd": 1000,
                "bytes_rev": 4000}

    # Three reconnects from a miner, each guessed the wrong way round by their ports, and
    # one row an opening placed: only guesses are turned.
    rows = [row("198.51.100.1", 45700, "203.0.113.5", p) for p in (40001, 40002, 40003)]
    rows.append(row("198.51.100.1", 45700, "203.0.113.6", 40001))
    turned = settle(rows, [True, True, True, False])
    assert turned == 3
    assert {(r["src_ip"], r["dst_port"]) for r in rows[:3]} == {("203.0.113.5", 45700)}
    assert (rows[0]["packets_fwd"], rows[0]["bytes_rev"]) == (20, 1000)
    assert rows[3]["src_ip"] == "198.51.100.1"


@needs_shared
def test_an_unreadable_mid_session_capture_keeps_the_city_host_as_client(
        tmp_path: Path) -> None:
    # The real XMR session as TLS would leave it, picked up mid-session, pool on 45700 and
    # the miner's port below it: no opening, no protocol, ports point the wrong way.
    capture = rewrite_capture(SHARED / "mining" / "ndpi_mining.pcapng", tmp_path / "x.pcap",
                              ports={9050: 45700, 55190: 44000}, drop_syn=True,
                              unreadable=True)
    flows = read_pcap(capture, internal=PRIVATE)
    assert not [r for r in flows.to_pylist() if r["methods_fwd"] or r["methods_rev"]]
    r = next(r for r in detect_network(flows, connect("duckdb")).pairs.to_pylist()
             if "178.32.196.217" in (r["src_ip"], r["dst_ip"]))
    assert (r["src_ip"], r["dst_port"]) == ("192.168.2.92", 45700)
    assert r["verdict"] == "suspicious" and r["behaviour"] > 0.9  # the pool's pushes
    (session,) = [f for f in flows.to_pylist() if f["dst_port"] == 45700]
    # Pushes timed on the pool's side (jobs every 30-90 s, accepts), not the miner's.
    assert session["push_iat_median"] == pytest.approx(
        read_pcap(SHARED / "mining" / "ndpi_mining.pcapng", internal=PRIVATE).filter(
            pc.equal(pc.field("dst_port"), 9050)).to_pylist()[0]["push_iat_median"])
