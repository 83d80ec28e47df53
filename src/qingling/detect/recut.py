"""Real captures re-cut the way carriers hand traffic over: started mid-session, with the
pool renumbered onto a port in the client range, or only a short window of it. Tests and
the network bench build the failure classes of real data from the project's captures with
these, instead of writing packets by hand."""

from __future__ import annotations

import random
from pathlib import Path

import dpkt

from qingling.detect.readers.pcap import _ip_of, open_packets


def rewrite_capture(source: Path, out: Path, *, ports: dict[int, int] | None = None,
                    drop_syn: bool = False, window: tuple[float, float] | None = None,
                    unreadable: bool = False) -> Path:
    """A copy of a real capture as a carrier might hand it over: TCP ports renumbered
    (``ports``: old → new, either side), the openings removed (``drop_syn``: the capture
    starts mid-session), only the packets within ``window`` (seconds from the first
    packet), or every TCP payload replaced by as many bytes of noise (``unreadable``: as
    TLS or a proxy leaves it; sizes and timing are kept). Written as classic pcap with the
    capture's link type."""
    ports = ports or {}
    noise = random.Random(0)
    packets, linktype, fh = open_packets(source)
    with fh, out.open("wb") as sink:
        writer = dpkt.pcap.Writer(sink, linktype=linktype)
        first = None
        for ts, buf in packets:
            first = ts if first is None else first
            if window and not window[0] <= ts - first < window[1]:
                continue
            ip = _ip_of(buf, linktype)
            tcp = getattr(ip, "data", None)
            if isinstance(tcp, dpkt.tcp.TCP):
                if drop_syn and tcp.flags & dpkt.tcp.TH_SYN:
                    continue
                if tcp.sport in ports or tcp.dport in ports or (unreadable and tcp.data):
                    tcp.sport = ports.get(tcp.sport, tcp.sport)
                    tcp.dport = ports.get(tcp.dport, tcp.dport)
                    if unreadable and tcp.data:
                        tcp.data = bytes(noise.getrandbits(8) for _ in range(len(tcp.data)))
                    tcp.sum = 0  # recomputed when packed
                    buf = bytes(ip) if linktype in (101, 12, 14, 228, 229) else _relink(
                        buf, linktype, ip)
            writer.writepkt(buf, ts)
    return out


def _relink(buf: bytes, linktype: int, ip: object) -> bytes:
    if linktype == 1:
        eth = dpkt.ethernet.Ethernet(buf)
        eth.data = ip
        return bytes(eth)
    if linktype == 113:
        sll = dpkt.sll.SLL(buf)
        sll.data = ip
        return bytes(sll)
    raise ValueError(f"link type {linktype}: not rewritable here")


def submit_only_window(capture: Path, pool_port: int, seconds: float) -> tuple[float, float]:
    """The ``seconds``-long window of a Monero session with the most share submissions and
    no login and no job push (a carrier's short window): (start, end) from the first packet."""
    packets, linktype, fh = open_packets(capture)
    submits: list[float] = []
    others: list[float] = []
    first = None
    with fh:
        for ts, buf in packets:
            first = ts if first is None else first
            tcp = getattr(_ip_of(buf, linktype), "data", None)
            if not isinstance(tcp, dpkt.tcp.TCP) or pool_port not in (tcp.sport, tcp.dport):
                continue
            data = bytes(tcp.data)
            if b'"method":"submit"' in data:
                submits.append(ts - first)
            elif b'"login"' in data or b'"method":"job"' in data or b'"job":{' in data:
                others.append(ts - first)
    best = (0, 0.0)
    for s in submits:
        start = s - 0.5
        if any(start <= o < start + seconds for o in others):
            continue
        n = sum(start <= x < start + seconds for x in submits)
        best = max(best, (n, start))
    if best[0] == 0:
        raise ValueError(f"{capture}: no {seconds:.0f}-second window of submits alone "
                         f"to the pool on port {pool_port}")
    return best[1], best[1] + seconds
