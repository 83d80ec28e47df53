"""NetFlow v5, v9 and IPFIX export packets → canonical flows.

From a capture of export traffic or from a UDP collector. v9 and IPFIX templates are
cached per (exporter, observation domain, template id) across packets; data records that
arrive before their template are buffered (up to a limit) and parsed when it comes, and
otherwise counted as "no template" — never guessed. Export records are one-way (or RFC 5103
biflows); each is oriented so that the client is the source — by the exporter's
biflowDirection when it says, else by system ports, the internal ranges and port guesses
(``orientation``) — and the engine sums the two directions of a connection.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dpkt
import pyarrow as pa

from qingling.detect.readers.common import ReadStats
from qingling.detect.readers.orientation import InternalNets, decide, settle
from qingling.detect.readers.pcap import PROTO, _ip_of, open_packets
from qingling.detect.schema import flows_table

PENDING_LIMIT = 10_000  # data records kept while waiting for their template

# IANA IPFIX information elements (the v9 field types share these numbers).
OCTETS, PACKETS, PROTOCOL, TCP_FLAGS, SRC_PORT, SRC_V4, DST_PORT, DST_V4 = 1, 2, 4, 6, 7, 8, 11, 12
LAST_SWITCHED, FIRST_SWITCHED, SRC_V6, DST_V6 = 21, 22, 27, 28
START_S, END_S, START_MS, END_MS = 150, 151, 152, 153
START_US, END_US, START_NS, END_NS = 154, 155, 156, 157
SYSUPTIME_MS = 160
TOTAL_OCTETS, TOTAL_PACKETS = 85, 86
BIFLOW_DIRECTION = 239  # 1 initiator, 2 reverseInitiator (RFC 5103)
REVERSE_PEN = 29305  # RFC 5103: the same elements counted in the reverse direction
REVERSE = 1 << 16  # key offset of a reverse element in a decoded record


@dataclass
class Template:
    fields: list[tuple[int, int, int]]  # (element id, length, enterprise number)

    @property
    def fixed_length(self) -> int | None:
        if any(length == 0xFFFF for _, length, _ in self.fields):
            return None
        return sum(length for _, length, _ in self.fields)


@dataclass
class Decoder:
    stats: ReadStats
    internal: InternalNets = field(default_factory=InternalNets.from_env)
    templates: dict[tuple[Any, ...], Template] = field(default_factory=dict)
    pending: dict[tuple[Any, ...], list[tuple[bytes, dict[str, float]]]] = field(
        default_factory=dict)
    pending_count: int = 0
    rows: list[dict[str, object]] = field(default_factory=list)
    guessed: list[bool] = field(default_factory=list)  # per row: only ports said the side
    no_template: int = 0

    def feed(self, exporter: str, data: bytes) -> None:
        self.stats.records += 1
        if len(data) < 4:
            self.stats.bad += 1
            return
        version = struct.unpack_from("!H", data)[0]
        try:
            if version == 5:
                self._v5(data)
            elif version == 9:
                self._v9(exporter, data)
            elif version == 10:
                self._ipfix(exporter, data)
            else:
                self.stats.skipped += 1  # sFlow and others are not NetFlow
        except (struct.error, IndexError, ValueError):
            self.stats.bad += 1

    # v5: fixed 48-byte records after a 24-byte header.
    def _v5(self, data: bytes) -> None:
        count, uptime, secs, nsecs = struct.unpack_from("!HIII", data, 2)
        for i in range(count):
            off = 24 + 48 * i
            r = struct.unpack_from("!4s4s4sHHIIIIHHxBBBHHBBxx", data, off)
            base = secs + nsecs / 1e9 - uptime / 1000.0
            self._emit({
                "src": socket.inet_ntoa(r[0]), "dst": socket.inet_ntoa(r[1]),
                "sport": r[9], "dport": r[10], "proto": r[12], "flags": r[11],
                "packets": r[5], "octets": r[6],
                "start": base + r[7] / 1000.0, "end": base + r[8] / 1000.0,
            })

    def _v9(self, exporter: str, data: bytes) -> None:
        _, _count, uptime, secs, _seq, source = struct.unpack_from("!HHIIII", data)
        ctx = {"uptime_ms": float(uptime), "export_s": float(secs)}
        self._sets(data, 20, len(data), (exporter, 9, source), template_set=0, ctx=ctx)

    def _ipfix(self, exporter: str, data: bytes) -> None:
        _, length, export_s, _seq, domain = struct.unpack_from("!HHIII", data)
        ctx = {"export_s": float(export_s)}
        self._sets(data, 16, min(length, len(data)), (exporter, 10, domain), template_set=2,
                   ctx=ctx)

    def _sets(self, data: bytes, off: int, end: int, scope: tuple[Any, ...], *,
              template_set: int, ctx: dict[str, float]) -> None:
        """Walk the (flow)sets of one v9 or IPFIX packet: templates, then data by template."""
        while off + 4 <= end:
            set_id, length = struct.unpack_from("!HH", data, off)
            if length < 4:
                raise ValueError("set shorter than its header")
            body = data[off + 4 : off + length]
            if set_id == template_set:
                self._templates(body, scope, enterprise=template_set == 2)
            elif set_id >= 256:
                self._data((*scope, set_id), body, ctx)
            off += length

    def _templates(self, body: bytes, scope: tuple[Any, ...], *, enterprise: bool) -> None:
        off = 0
        while off + 4 <= len(body):
            tid, n = struct.unpack_from("!HH", body, off)
            off += 4
            if tid < 256:
                break  # padding
            fields = []
            for _ in range(n):
                ftype, flen = struct.unpack_from("!HH", body, off)
                off += 4
                pen = 0
                if enterprise and ftype & 0x8000:
                    pen = struct.unpack_from("!I", body, off)[0]
                    off += 4
                    ftype &= 0x7FFF
                fields.append((ftype, flen, pen))
            key = (*scope, tid)
            self.templates[key] = Template(fields)
            for rec_body, ctx in self.pending.pop(key, []):
                self.pending_count -= 1
                self._data(key, rec_body, ctx)

    def _data(self, key: tuple[Any, ...], body: bytes, ctx: dict[str, float]) -> None:
        tpl = self.templates.get(key)
        if tpl is None:
            if self.pending_count < PENDING_LIMIT:
                self.pending.setdefault(key, []).append((body, ctx))
                self.pending_count += 1
            else:
                self.no_template += 1
            return
        off = 0
        fixed = tpl.fixed_length
        while off < len(body):
            if fixed is not None and off + fixed > len(body):
                break  # padding
            values: dict[int, bytes] = {}
            for ftype, flen, pen in tpl.fields:
                if flen == 0xFFFF:
                    flen = body[off]
                    off += 1
                    if flen == 255:
                        flen = struct.unpack_from("!H", body, off)[0]
                        off += 2
                if off + flen > len(body):
                    raise ValueError("record runs past its set")
                if pen == 0:
                    values[ftype] = body[off : off + flen]
                elif pen == REVERSE_PEN:
                    values[REVERSE + ftype] = body[off : off + flen]
                off += flen
            self._record(values, ctx)
            if fixed == 0:
                break

    def _record(self, v: dict[int, bytes], ctx: dict[str, float]) -> None:
        def num(k: int) -> int | None:
            return int.from_bytes(v[k], "big") if k in v else None

        if SRC_V4 in v:
            src, dst = socket.inet_ntoa(v[SRC_V4]), socket.inet_ntoa(v.get(DST_V4, b"\0" * 4))
        elif SRC_V6 in v:
            src = str(ipaddress.IPv6Address(v[SRC_V6]))
            dst = str(ipaddress.IPv6Address(v.get(DST_V6, b"\0" * 16)))
        else:
            self.stats.skipped += 1
            return
        start = end = None
        for s_key, e_key, scale in ((START_MS, END_MS, 1e3), (START_S, END_S, 1.0),
                                    (START_US, END_US, 1e6), (START_NS, END_NS, 1e9)):
            if s_key in v:
                start = num(s_key) / scale  # type: ignore[operator]
                end = (num(e_key) or 0) / scale if e_key in v else start
                break
        if start is None and FIRST_SWITCHED in v:
            uptime = ctx.get("uptime_ms")
            if uptime is None and SYSUPTIME_MS in v:
                uptime = float(num(SYSUPTIME_MS) or 0)
            if uptime is not None:
                base = ctx["export_s"] - uptime / 1000.0
                start = base + (num(FIRST_SWITCHED) or 0) / 1000.0
                end = base + (num(LAST_SWITCHED) or 0) / 1000.0
        if start is None:
            start = end = ctx["export_s"]
        direction = num(BIFLOW_DIRECTION)
        self._emit({
            "src": src, "dst": dst, "sport": num(SRC_PORT) or 0, "dport": num(DST_PORT) or 0,
            "proto": num(PROTOCOL) or 0, "flags": num(TCP_FLAGS),
            "packets": num(PACKETS) if PACKETS in v else num(TOTAL_PACKETS),
            "octets": num(OCTETS) if OCTETS in v else num(TOTAL_OCTETS),
            "start": start, "end": end,
            "rpackets": num(REVERSE + PACKETS) if REVERSE + PACKETS in v
            else num(REVERSE + TOTAL_PACKETS),
            "roctets": num(REVERSE + OCTETS) if REVERSE + OCTETS in v
            else num(REVERSE + TOTAL_OCTETS),
            "initiator": {1: True, 2: False}.get(direction or 0),
        })

    def _emit(self, r: dict[str, Any]) -> None:
        row, guessed = orient(r, "netflow", self.internal)
        self.rows.append(row)
        self.guessed.append(guessed)


def orient(r: dict[str, Any], source: str,
           internal: InternalNets) -> tuple[dict[str, object], bool]:
    """An export record as a canonical row seen from the client, and whether only a port
    guess placed it (``orientation.settle`` may turn it round once the input is read).
    ``r["initiator"]`` is the exporter's word (True: the source opened the connection),
    None or absent when it has none; ``rpackets``/``roctets`` are a biflow's reverse counts."""
    src_client, guessed = decide((r["src"], r["sport"]), (r["dst"], r["dport"]), internal,
                                 r.get("initiator"))
    reverse = not src_client
    client, cport, server, sport = ((r["dst"], r["dport"], r["src"], r["sport"]) if reverse
                                    else (r["src"], r["sport"], r["dst"], r["dport"]))
    there, back = r["packets"], r.get("rpackets")
    there_b, back_b = r["octets"], r.get("roctets")
    # A one-way record knows nothing of the other direction: 0, summed with its pair's.
    back = 0 if back is None else back
    back_b = 0 if back_b is None else back_b
    proto_num = r["proto"]
    row: dict[str, object] = {
        "ts_start": datetime.fromtimestamp(r["start"], UTC),
        "ts_end": datetime.fromtimestamp(max(r["end"], r["start"]), UTC),
        "src_ip": client, "src_port": cport, "dst_ip": server, "dst_port": sport,
        "proto": PROTO.get(proto_num, str(proto_num)) if isinstance(proto_num, int)
        else str(proto_num),
        "packets_fwd": back if reverse else there,
        "packets_rev": there if reverse else back,
        "bytes_fwd": back_b if reverse else there_b,
        "bytes_rev": there_b if reverse else back_b,
        "tcp_flags": r.get("flags"),
        "source": source,
    }
    return row, guessed


def read_export_pcap(path: Path, stats: ReadStats | None = None,
                     internal: InternalNets | None = None) -> tuple[pa.Table, Decoder]:
    stats = stats or ReadStats(str(path))
    dec = Decoder(stats, internal or InternalNets.from_env())
    packets, linktype, fh = open_packets(path)
    with fh:
        for _ts, buf in packets:
            ip = _ip_of(buf, linktype)
            udp = getattr(ip, "data", None)
            if not isinstance(udp, dpkt.udp.UDP):
                continue
            dec.feed(socket.inet_ntop(socket.AF_INET6 if len(ip.src) == 16 else socket.AF_INET,
                                      ip.src), bytes(udp.data))
    _finish(dec)
    return flows_table(dec.rows), dec


def _finish(dec: Decoder) -> None:
    settle(dec.rows, dec.guessed)
    if dec.pending_count:
        dec.no_template += sum(len(v) for v in dec.pending.values())
        dec.pending.clear()
        dec.pending_count = 0
    if dec.no_template:
        dec.stats.notes.append(
            f"{dec.no_template} data set(s) had no template in the input: not parsed "
            "(an exporter sends its templates periodically; capture longer)"
        )


def collect_udp(bind: str, port: int, *, seconds: float | None = None,
                packets: int | None = None, stats: ReadStats | None = None,
                internal: InternalNets | None = None) -> pa.Table:
    """Listen for export packets on ``bind:port`` until ``seconds`` pass or ``packets``
    arrive; templates persist for the whole collection."""
    stats = stats or ReadStats(f"udp://{bind}:{port}")
    dec = Decoder(stats, internal or InternalNets.from_env())
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.bind((bind, port))
        sock.settimeout(0.2)
        deadline = None if seconds is None else time.monotonic() + seconds
        received = 0
        while (deadline is None or time.monotonic() < deadline) and (
                packets is None or received < packets):
            try:
                data, addr = sock.recvfrom(65535)
            except TimeoutError:
                continue
            received += 1
            dec.feed(addr[0], data)
    _finish(dec)
    return flows_table(dec.rows)


def feed_all(dec: Decoder, items: Iterable[tuple[str, bytes]]) -> Iterator[None]:
    for exporter, data in items:
        dec.feed(exporter, data)
        yield None
