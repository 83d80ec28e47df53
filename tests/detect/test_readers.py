"""Every reader on real or realistic samples: the canonical rows it makes, and bad records
counted rather than fatal."""

from __future__ import annotations

import socket
import struct
import threading
from pathlib import Path

import pytest

from qingling.detect.engines import connect
from qingling.detect.network.engine import detect_network
from qingling.detect.readers import read_many, sniff_format
from qingling.detect.readers.common import ReaderError, ReadStats
from qingling.detect.readers.eve import read_eve
from qingling.detect.readers.netflow import Decoder, collect_udp, read_export_pcap
from qingling.detect.readers.nfdump import read_nfdump
from qingling.detect.readers.zeek import read_zeek
from tests.detect.conftest import SHARED, needs_shared

DATA = Path(__file__).parent / "data"


def by_pair(rows: list[dict[str, object]]) -> dict[tuple[object, ...], dict[str, object]]:
    return {(r["src_ip"], r["dst_ip"], r["dst_port"]): r for r in rows}


@needs_shared
def test_a_real_zeek_tsv_conn_log() -> None:
    stats = ReadStats("conn")
    t = read_zeek([SHARED / "zeek" / "rita_open_conn.log"], stats)
    assert t.num_rows == 59 and stats.bad == 0
    r = t.to_pylist()[0]
    assert (r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"], r["proto"]) == (
        "10.55.182.100", 14291, "10.233.233.5", 80, "tcp")
    assert r["packets_fwd"] == 2 and r["bytes_fwd"] == 104 and r["source"] == "zeek"


def test_zeek_json_joins_ssl_by_uid_and_counts_a_broken_line() -> None:
    stats = ReadStats("zeek")
    rows = by_pair(read_zeek([DATA / "conn.log", DATA / "ssl.log"], stats).to_pylist())
    assert rows[("10.20.1.7", "185.71.66.20", 14433)]["tls_sni"] == "xmr-eu1.nanopool.org"
    assert stats.bad == 1


def test_nfdump_csv_is_oriented_and_the_summary_skipped() -> None:
    stats = ReadStats("nfdump")
    rows = read_nfdump(DATA / "nfdump_sample.csv", stats).to_pylist()
    assert len(rows) == 4 and stats.bad == 1 and "not a time" in stats.notes[0]
    reply = rows[1]  # the pool's answer, turned round to the miner's point of view
    assert (reply["src_ip"], reply["dst_ip"], reply["dst_port"]) == (
        "10.20.1.5", "185.71.66.20", 14444)
    assert reply["packets_rev"] == 58 and reply["packets_fwd"] == 0
    assert rows[0]["tcp_flags"] == 0x18


def test_eve_json_flows_carry_sni_dns_and_alerts() -> None:
    stats = ReadStats("eve")
    table = read_eve(DATA / "eve_sample.json", stats)
    assert table.num_rows == 3  # the alerted flow once, not once more for its alert
    rows = by_pair(table.to_pylist())
    assert stats.bad == 1
    assert rows[("10.20.1.7", "185.71.66.20", 14433)]["tls_sni"] == "xmr-eu1.nanopool.org"
    alerted = rows[("10.20.1.8", "203.0.113.50", 3333)]
    assert alerted["alert"] == "ET COINMINER Crypto Coin Miner Login"
    assert alerted["packets_fwd"] == 120 and alerted["bytes_rev"] == 30000


def test_eve_and_zeek_inputs_reach_verdicts() -> None:
    result = detect_network(read_many([DATA / "eve_sample.json"]), connect("duckdb"))
    v = {(r["src_ip"], r["dst_port"]): r["verdict"] for r in result.pairs.to_pylist()}
    assert v[("10.20.1.8", 3333)] == "mining"  # the coin-miner alert is evidence
    assert v[("10.20.1.7", 14433)] == "mining"  # a known pool's name over TLS, for an hour
    assert v[("10.20.1.9", 443)] == "clean"


@needs_shared
def test_ipfix_templates_are_read_and_cached_across_packets() -> None:
    _table, dec = read_export_pcap(SHARED / "flowexport" / "netflow-fritz.pcap")
    assert dec.stats.bad == 0
    ((key, tpl),) = dec.templates.items()
    assert key[1] == 10 and key[3] == 461
    ids = [f[0] for f in tpl.fields]
    assert {1, 2, 4, 7, 8, 11, 12} <= set(ids)
    assert any(f[1] == 0xFFFF and f[2] == 26866 for f in tpl.fields)  # variable, enterprise
    # A later packet with a data record for that template is decoded with it.
    record = (
        struct.pack("!I", 1234) + struct.pack("!I", 0) + b"\x00" + b"\x00"
        + struct.pack("!HHH", 50123, 3333, 0x18) + b"\x06\x00" + struct.pack("!HH", 0, 0)
        + struct.pack("!I", 20) + struct.pack("!H", 0) + struct.pack("!II", 0, 0)
        + socket.inet_aton("192.168.178.20") + socket.inet_aton("198.51.100.7")
        + struct.pack("!I", 0) + struct.pack("!H", 0) + b"\x06" + b"\x00" + b"\x00"
    )
    data_set = struct.pack("!HH", 461, 4 + len(record)) + record
    packet = struct.pack("!HHIII", 10, 16 + len(data_set), 1763596800, 2, key[2]) + data_set
    dec.feed(key[0], packet)
    (row,) = dec.rows
    assert (row["src_ip"], row["dst_ip"], row["dst_port"], row["proto"]) == (
        "192.168.178.20", "198.51.100.7", 3333, "tcp")
    assert row["packets_fwd"] == 20 and row["bytes_fwd"] == 1234


@needs_shared
def test_netflow_v9_without_templates_is_reported_not_misparsed() -> None:
    table, dec = read_export_pcap(SHARED / "flowexport" / "netflowv9.pcap")
    assert table.num_rows == 0
    assert dec.no_template == 23
    assert "had no template" in dec.stats.summary()
    assert sniff_format(SHARED / "flowexport" / "netflowv9.pcap") == "ipfix"


def v9_packet(flowsets: bytes, count: int) -> bytes:
    return struct.pack("!HHIIII", 9, count, 100_000, 1763596800, 1, 7) + flowsets


def test_v9_data_before_its_template_is_buffered_then_decoded() -> None:
    fields = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (2, 4), (1, 4), (22, 4), (21, 4)]
    tpl = struct.pack("!HH", 300, len(fields)) + b"".join(struct.pack("!HH", *f) for f in fields)
    template_set = struct.pack("!HH", 0, 4 + len(tpl)) + tpl
    rec = (socket.inet_aton("10.9.9.9") + socket.inet_aton("198.51.100.8")
           + struct.pack("!HHBII", 41000, 4444, 6, 30, 3000) + struct.pack("!II", 40_000, 99_000))
    data_set = struct.pack("!HH", 300, 4 + len(rec)) + rec
    dec = Decoder(ReadStats("v9"))
    dec.feed("192.0.2.1", v9_packet(data_set, 1))
    assert dec.rows == [] and dec.pending_count == 1
    dec.feed("192.0.2.1", v9_packet(template_set, 1))
    (row,) = dec.rows
    assert row["src_ip"] == "10.9.9.9" and row["dst_port"] == 4444 and row["packets_fwd"] == 30
    # start = export time - uptime + first switched
    assert row["ts_start"].timestamp() == pytest.approx(1763596800 - 100 + 40)


def test_the_udp_collector_decodes_what_an_exporter_sends() -> None:
    rec = (socket.inet_aton("10.1.2.3") + socket.inet_aton("198.51.100.9") + b"\0" * 4
           + struct.pack("!HHIIIIHH", 0, 0, 12, 1500, 1000, 61000, 40000, 3333)
           + b"\x00\x18\x06\x00" + b"\0" * 8)
    packet = struct.pack("!HHIIIIBBH", 5, 1, 100_000, 1763596800, 0, 1, 0, 0, 0) + rec
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out: dict[str, object] = {}
    t = threading.Thread(target=lambda: out.update(
        table=collect_udp("127.0.0.1", port, seconds=5, packets=1)))
    t.start()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for _ in range(50):  # until the collector is listening
            sender.sendto(packet, ("127.0.0.1", port))
            t.join(0.1)
            if not t.is_alive():
                break
    t.join()
    rows = out["table"].to_pylist()  # type: ignore[attr-defined]
    assert rows[0]["src_ip"] == "10.1.2.3" and rows[0]["dst_port"] == 3333
    assert rows[0]["packets_fwd"] == 12


def test_an_unknown_file_is_named_in_the_error(tmp_path: Path) -> None:
    f = tmp_path / "mystery.bin"
    f.write_bytes(b"\x01\x02\x03 nothing known")
    with pytest.raises(ReaderError, match=r"mystery\.bin: cannot tell its format"):
        read_many([f])
