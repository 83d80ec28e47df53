"""Readers turn what carriers have into canonical flows (see ``qingling.detect.schema``)."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from qingling.detect.readers.common import ReaderError, ReadStats

FORMATS = ("auto", "pcap", "zeek", "nfdump", "ipfix", "eve", "flows")
PCAP_MAGICS = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1",
               b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a")
COLLECTOR_PORTS = frozenset({2055, 2056, 2057, 4739, 9995, 9996})


def _export_capture(path: Path) -> bool:
    """A capture of NetFlow/IPFIX export packets rather than of traffic."""
    import dpkt

    from qingling.detect.readers.pcap import _ip_of, open_packets

    packets, linktype, fh = open_packets(path)
    seen = export = 0
    with fh:
        try:
            for _ts, buf in packets:
                ip = _ip_of(buf, linktype)
                seen += 1
                udp = getattr(ip, "data", None)
                if isinstance(udp, dpkt.udp.UDP) and udp.dport in COLLECTOR_PORTS and \
                        len(udp.data) >= 4 and struct.unpack("!H", bytes(udp.data[:2]))[0] in (
                            5, 9, 10):
                    export += 1
                if seen >= 50:
                    break
        except (dpkt.dpkt.NeedData, dpkt.dpkt.UnpackError, ValueError):
            pass
    return seen > 0 and export * 2 > seen


def sniff_format(path: Path) -> str:
    with path.open("rb") as fh:
        head = fh.read(4096)
    if head[:4] in PCAP_MAGICS:
        return "ipfix" if _export_capture(path) else "pcap"
    if head[:4] == b"PAR1":
        return "flows"
    text = head.decode("utf-8", "replace")
    first = text.lstrip().split("\n", 1)[0]
    if first.startswith("#separator"):
        return "zeek"
    if first.startswith("{"):
        return "eve" if '"event_type"' in first else "zeek"
    cols = {c.strip().lower() for c in first.split(",")}
    if {"sa", "da"} <= cols or {"srcaddr", "dstaddr"} <= cols:
        return "nfdump"
    if {"src_ip", "dst_ip", "ts_start"} <= cols:
        return "flows"
    raise ReaderError(f"{path}: cannot tell its format; name it with --input-format")


def read_many(paths: list[Path], fmt: str = "auto",
              on_file: Callable[[ReadStats], None] | None = None,
              columns: tuple[str, ...] | None = None) -> pa.Table:
    """Read every input (Zeek logs of one capture are read together so ssl/http/dns join
    their conn.log) and concatenate the canonical flows. ``columns`` names the canonical
    columns the caller uses: canonical Parquet is then read for those alone."""
    for p in paths:
        if not p.exists():
            raise ReaderError(f"{p}: no such file")
    kinds = {p: (sniff_format(p) if fmt == "auto" else fmt) for p in paths}
    tables = []
    zeek = [p for p in paths if kinds[p] == "zeek"]
    if zeek:
        from qingling.detect.readers.zeek import read_zeek

        stats = ReadStats(", ".join(p.name for p in zeek))
        tables.append(read_zeek(zeek, stats))
        if on_file:
            on_file(stats)
    for p in paths:
        if kinds[p] == "zeek":
            continue
        stats = ReadStats(str(p))
        tables.append(read_one(p, kinds[p], stats, columns))
        if on_file:
            on_file(stats)
    return pa.concat_tables(tables) if tables else pa.table({})


def read_one(path: Path, fmt: str, stats: ReadStats,
             columns: tuple[str, ...] | None = None) -> pa.Table:
    if fmt == "pcap":
        from qingling.detect.readers.pcap import read_pcap

        return read_pcap(path, stats)
    if fmt == "ipfix":
        from qingling.detect.readers.netflow import read_export_pcap

        return read_export_pcap(path, stats)[0]
    if fmt == "eve":
        from qingling.detect.readers.eve import read_eve

        return read_eve(path, stats)
    if fmt == "nfdump":
        from qingling.detect.readers.nfdump import read_nfdump

        return read_nfdump(path, stats)
    if fmt == "flows":
        from qingling.detect.readers.flows import read_flows

        return read_flows(path, stats, columns)
    if fmt == "zeek":
        from qingling.detect.readers.zeek import read_zeek

        return read_zeek([path], stats)
    raise ReaderError(f"{path}: unknown input format {fmt!r} (one of {', '.join(FORMATS)})")
