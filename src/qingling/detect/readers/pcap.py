"""pcap and pcapng → canonical flows, payload-aware.

TCP streams are reassembled per direction (by sequence number, so a JSON-RPC line split
across segments is read whole, and a capture that starts mid-session still parses). The
client of a connection is the side that sent the SYN or, mid-session, the side the
protocol names (it sends the requests and shares; the pool pushes jobs and answers), and
only then the addresses and ports (``orientation``). DNS answers name the addresses later
connected to; TLS ClientHello gives the SNI; HTTP requests give the Host.
"""

from __future__ import annotations

import itertools
import socket
import statistics
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import dpkt
import pyarrow as pa

from qingling.detect.network.payload import StreamEvidence, client_stream
from qingling.detect.readers.common import ReaderError, ReadStats
from qingling.detect.readers.orientation import InternalNets, first_is_client
from qingling.detect.schema import flows_table

STREAM_CAP = 512 * 1024  # bytes kept per direction: methods appear early and repeat
HTTP_METHODS = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"OPTIONS ", b"DELETE ", b"CONNECT ")
PROTO = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}
TH_FIN, TH_SYN, TH_RST, TH_PUSH, TH_ACK = 0x01, 0x02, 0x04, 0x08, 0x10


@dataclass
class _Dir:
    packets: int = 0
    octets: int = 0
    base_seq: int | None = None
    segments: dict[int, bytes] = field(default_factory=dict)
    kept: int = 0
    payload_times: list[float] = field(default_factory=list)

    def add_segment(self, seq: int, data: bytes) -> None:
        if self.base_seq is None:
            self.base_seq = seq
        rel = (seq - self.base_seq) % (1 << 32)
        if rel > (1 << 31):  # before the first segment we saw (reordered): a negative offset
            rel -= 1 << 32
        if self.kept < STREAM_CAP and rel not in self.segments:
            self.segments[rel] = data
            self.kept += len(data)

    def stream(self) -> bytes:
        out = bytearray()
        if not self.segments:
            return b""
        origin = min(self.segments)
        covered = origin  # stream offset reached so far
        for rel in sorted(self.segments):
            data = self.segments[rel]
            end = rel + len(data)
            if end <= covered:
                continue
            if rel > covered:
                out += b"\n"  # a gap: keep messages apart, never glue halves together
                out += data
            else:
                out += data[covered - rel :]
            covered = end
        return bytes(out)


@dataclass
class _Conn:
    a: tuple[str, int]
    b: tuple[str, int]
    proto: str
    first: float
    last: float
    dirs: dict[int, _Dir] = field(default_factory=lambda: {0: _Dir(), 1: _Dir()})
    syn_from: int | None = None
    flags: int = 0
    psh_ack: int = 0


def _ip_of(buf: bytes, linktype: int) -> Any:
    try:
        if linktype == 1:
            eth = dpkt.ethernet.Ethernet(buf)
            return eth.data
        if linktype == 113:
            return dpkt.sll.SLL(buf).data
        if linktype == 276:
            return dpkt.sll2.SLL2(buf).data
        if linktype in (101, 12, 14, 228, 229):
            return dpkt.ip.IP(buf) if buf[0] >> 4 == 4 else dpkt.ip6.IP6(buf)
        if linktype == 0:
            return dpkt.loopback.Loopback(buf).data
    except (dpkt.dpkt.UnpackError, IndexError, struct.error):
        return None
    return None


def _addr(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6 if len(raw) == 16 else socket.AF_INET, raw)


def open_packets(path: Path) -> tuple[Iterator[tuple[float, bytes]], int, BinaryIO]:
    fh = path.open("rb")
    magic = fh.read(4)
    fh.seek(0)
    reader: Any
    try:
        if magic == b"\x0a\x0d\x0d\x0a":
            reader = dpkt.pcapng.Reader(fh)
        else:
            reader = dpkt.pcap.Reader(fh)
    except (ValueError, dpkt.dpkt.UnpackError, dpkt.dpkt.NeedData):
        fh.close()
        raise ReaderError(f"{path}: not a pcap or pcapng capture") from None
    return iter(reader), reader.datalink(), fh


def sni_of(data: bytes) -> str:
    """The server_name of a TLS ClientHello, or ""."""
    try:
        if len(data) < 43 or data[0] != 0x16 or data[5] != 0x01:
            return ""
        p = 5 + 4 + 2 + 32  # record header, handshake header, version, random
        p += 1 + data[p]  # session id
        p += 2 + struct.unpack_from("!H", data, p)[0]  # cipher suites
        p += 1 + data[p]  # compression methods
        end = p + 2 + struct.unpack_from("!H", data, p)[0]
        p += 2
        while p + 4 <= min(end, len(data)):
            etype, elen = struct.unpack_from("!HH", data, p)
            p += 4
            if etype == 0 and elen >= 5:
                nlen = struct.unpack_from("!H", data, p + 3)[0]
                return data[p + 5 : p + 5 + nlen].decode("ascii", "replace").lower()
            p += elen
    except (IndexError, struct.error):
        return ""
    return ""


def http_host_of(data: bytes) -> str:
    if data[:8].split(b" ")[0] not in (b"GET", b"POST", b"PUT", b"HEAD", b"OPTIONS"):
        return ""
    for line in data[:4096].split(b"\r\n")[1:]:
        if line.lower().startswith(b"host:"):
            return line[5:].strip().decode("ascii", "replace").lower().split(":")[0]
        if not line:
            break
    return ""


def read_pcap(path: Path, stats: ReadStats | None = None,
              progress: Callable[[int], None] | None = None,
              internal: InternalNets | None = None) -> pa.Table:
    stats = stats or ReadStats(str(path))
    internal = internal or InternalNets.from_env()
    conns: dict[tuple[Any, ...], _Conn] = {}
    dns_names: dict[str, str] = {}
    packets, linktype, fh = open_packets(path)
    with fh:
        try:
            for ts, buf in packets:
                stats.records += 1
                if progress and stats.records % 50_000 == 0:
                    progress(stats.records)
                ip = _ip_of(buf, linktype)
                if not isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)):
                    stats.skipped += 1
                    continue
                l4 = ip.data
                proto_num = ip.p if isinstance(ip, dpkt.ip.IP) else ip.nxt
                proto = PROTO.get(proto_num, str(proto_num))
                try:
                    src, dst = _addr(ip.src), _addr(ip.dst)
                except (ValueError, OSError):
                    stats.bad += 1
                    continue
                sport = getattr(l4, "sport", 0) if not isinstance(l4, bytes) else 0
                dport = getattr(l4, "dport", 0) if not isinstance(l4, bytes) else 0
                ends = sorted([(src, sport), (dst, dport)])
                key = (ends[0], ends[1], proto)
                conn = conns.get(key)
                if conn is None:
                    conn = conns[key] = _Conn(ends[0], ends[1], proto, ts, ts)
                conn.last = max(conn.last, ts)
                conn.first = min(conn.first, ts)
                d = 0 if (src, sport) == conn.a else 1
                direction = conn.dirs[d]
                direction.packets += 1
                direction.octets += len(ip)
                if isinstance(l4, dpkt.tcp.TCP):
                    conn.flags |= l4.flags
                    if l4.flags & TH_SYN and not l4.flags & TH_ACK:
                        conn.syn_from = d
                    if l4.flags & TH_PUSH and l4.flags & TH_ACK:
                        conn.psh_ack += 1
                    if l4.data:
                        direction.add_segment(l4.seq, bytes(l4.data))
                        if len(direction.payload_times) < 20_000:
                            direction.payload_times.append(ts)
                elif isinstance(l4, dpkt.udp.UDP) and 53 in (sport, dport) and l4.data:
                    _note_dns(bytes(l4.data), dns_names, stats)
        except (dpkt.dpkt.NeedData, dpkt.dpkt.UnpackError, ValueError) as exc:
            # A truncated last record: keep what was read, and say so.
            stats.bad += 1
            stats.notes.append(f"stopped early: {exc.__class__.__name__}")
    rows = [_row(c, dns_names, internal) for c in conns.values()]
    return flows_table(rows)


def _note_dns(data: bytes, names: dict[str, str], stats: ReadStats) -> None:
    try:
        msg = dpkt.dns.DNS(data)
    except (dpkt.dpkt.UnpackError, IndexError, struct.error):
        stats.bad += 1
        return
    if msg.qr != dpkt.dns.DNS_R or not msg.qd:
        return
    qname = msg.qd[0].name.lower().rstrip(".")
    for an in msg.an:
        if an.type in (dpkt.dns.DNS_A, dpkt.dns.DNS_AAAA):
            names[_addr(an.rdata)] = qname


def _opener(data: bytes) -> int:
    """+1 for a stream that opens as a client's (TLS ClientHello, HTTP request), -1 for a
    server's (HTTP response), 0 otherwise."""
    if (data[:1] == b"\x16" and data[5:6] == b"\x01") or data.startswith(HTTP_METHODS):
        return 1
    return -1 if data.startswith(b"HTTP/1.") else 0


def _client_side(c: _Conn, streams: tuple[bytes, bytes],
                 evidence: tuple[StreamEvidence, StreamEvidence] | None,
                 internal: InternalNets) -> int:
    """0 if endpoint a is the client, 1 if b is (the order of ``orientation``)."""
    said: int | None = c.syn_from
    if said is None and evidence is not None:
        said = client_stream(*evidence)
    if said is None:
        d = _opener(streams[0]) - _opener(streams[1])
        said = None if d == 0 else (0 if d > 0 else 1)
    return 0 if first_is_client(c.a, c.b, internal, None if said is None else said == 0) else 1


def _gaps(times: list[float]) -> tuple[float | None, float | None]:
    # Packets of one message arrive together; count a new message after 50 ms of silence.
    msgs: list[float] = []
    for t in times:
        if not msgs or t - msgs[-1] > 0.05:
            msgs.append(t)
    gaps = [b - a for a, b in itertools.pairwise(msgs)]
    if len(gaps) < 3:
        return None, None
    mean = statistics.fmean(gaps)
    cv = statistics.pstdev(gaps) / mean if mean > 0 else None
    return statistics.median(gaps), cv


def _row(c: _Conn, dns_names: dict[str, str], internal: InternalNets) -> dict[str, object]:
    streams = (c.dirs[0].stream(), c.dirs[1].stream()) if c.proto == "tcp" else (b"", b"")
    evidence = None
    if c.proto == "tcp":
        evidence = (StreamEvidence(), StreamEvidence())
        evidence[0].add(streams[0])
        evidence[1].add(streams[1])
    cs = _client_side(c, streams, evidence, internal)
    client, server = (c.a, c.b) if cs == 0 else (c.b, c.a)
    fwd, rev = c.dirs[cs], c.dirs[1 - cs]
    row: dict[str, object] = {
        "ts_start": datetime.fromtimestamp(c.first, UTC),
        "ts_end": datetime.fromtimestamp(c.last, UTC),
        "src_ip": client[0], "src_port": client[1],
        "dst_ip": server[0], "dst_port": server[1],
        "proto": c.proto,
        "packets_fwd": fwd.packets, "packets_rev": rev.packets,
        "bytes_fwd": fwd.octets, "bytes_rev": rev.octets,
        "dns_name": dns_names.get(server[0]),
        "source": "pcap",
    }
    if evidence is not None:
        row["psh_ack_packets"] = c.psh_ack
        row["tcp_flags"] = c.flags
        up = streams[cs]
        ev_up, ev_down = evidence[cs], evidence[1 - cs]
        row["methods_fwd"] = "|".join(ev_up.methods) or None
        row["methods_rev"] = "|".join(ev_down.methods) or None
        row["rpc_reply_rev"] = ev_down.reply
        row["pool_job_rev"] = ev_down.pool_job
        agent = ev_up.agent if ev_up.agent and ev_up.login_params else ""
        row["login_agent"] = agent or None
        row["share_fwd"] = ev_up.share or None
        row["share_ack_rev"] = ev_down.share_ack
        row["tls_sni"] = sni_of(up) or None
        row["http_host"] = http_host_of(up) or None
        row["push_iat_median"], row["push_iat_cv"] = _gaps(rev.payload_times)
    return row
