"""Detection tests: no Django. Engine-parametrised tests run on every engine named in
QINGLING_TEST_ENGINES (default: duckdb and spark; spark is skipped without Java)."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qingling.detect.engines import Engine, connect

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "net"
MINING = sorted(p for p in (SHARED / "mining").glob("*.pcap*") if p.suffix != ".out")
BENIGN = sorted((SHARED / "benign").glob("*.pcap"))
needs_shared = pytest.mark.skipif(not SHARED.exists(),
                                  reason="../shared/data is not beside this checkout")


T0 = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


def record(start_s: float, end_s: float, **kw: object) -> dict[str, object]:
    """One canonical flow record: by default a miner's 10 minutes to a pool on 3333."""
    base: dict[str, object] = {
        "ts_start": T0 + timedelta(seconds=start_s), "ts_end": T0 + timedelta(seconds=end_s),
        "src_ip": "10.1.1.1", "src_port": 50000, "dst_ip": "198.51.100.9", "dst_port": 3333,
        "proto": "tcp", "packets_fwd": 60, "packets_rev": 60, "bytes_fwd": 6000,
        "bytes_rev": 9000, "psh_ack_packets": 100, "source": "test",
    }
    base.update(kw)
    return base


def _engines() -> list[str]:
    return [e for e in os.environ.get("QINGLING_TEST_ENGINES", "duckdb,spark").split(",") if e]


@pytest.fixture(params=_engines())
def engine(request: pytest.FixtureRequest) -> Engine:
    if request.param == "spark" and shutil.which("java") is None:
        pytest.skip("Spark needs Java (scripts/system-deps.sh installs it)")
    return connect(request.param)


def rewrite_capture(source: Path, out: Path, *, ports: dict[int, int] | None = None,
                    drop_syn: bool = False, window: tuple[float, float] | None = None) -> Path:
    """A copy of a real capture as a carrier might hand it over: TCP ports renumbered
    (``ports``: old → new, either side), the openings removed (``drop_syn``: the capture
    starts mid-session), or only the packets within ``window`` (seconds from the first
    packet). Written as classic pcap with the capture's link type."""
    import dpkt

    from qingling.detect.readers.pcap import _ip_of, open_packets

    ports = ports or {}
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
                if tcp.sport in ports or tcp.dport in ports:
                    tcp.sport = ports.get(tcp.sport, tcp.sport)
                    tcp.dport = ports.get(tcp.dport, tcp.dport)
                    tcp.sum = 0  # recomputed when packed
                    buf = bytes(ip) if linktype in (101, 12, 14, 228, 229) else _relink(
                        buf, linktype, ip)
            writer.writepkt(buf, ts)
    return out


def _relink(buf: bytes, linktype: int, ip: object) -> bytes:
    import dpkt

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
    import dpkt

    from qingling.detect.readers.pcap import _ip_of, open_packets

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
    assert best[0] >= 3, "the session has a window of several submits and nothing else"
    return best[1], best[1] + seconds
