"""A synthetic day of city flows (canonical schema) with embedded miners.

Miners follow the behaviour measured on real ~24 h sessions (DETECTION.md A): per coin,
packets per minute, bytes per packet, connections per day; some run all day and some part
of it, some over TLS on 443 and a few of those with a pool SNI visible to DPI, some to
pools listening in the client port range (45560, 45700, 33333). Their sessions are cut by
the exporter's active timeout, as NetFlow does. Background traffic includes hard
negatives that are long-lived with small packets too: persistent chat connections, IoT
heartbeats (MQTT), peer-to-peer voice and chat keepalives on high ports, SDN controller
echo keepalives (OpenFlow) and SIP registrations over TCP. Seeded: the same arguments
write the same day.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from qingling.detect.schema import FLOW_SCHEMA, conform

DAY_S = 86_400
ACTIVE_TIMEOUT_S = 300


@dataclass(frozen=True)
class Coin:
    name: str
    ppm: float  # packets per minute, both directions
    bpp: float  # bytes per packet
    conns_per_day: int
    ports: tuple[int, ...]
    pools: tuple[str, ...]


COINS = (
    Coin("XMR", 10, 110, 25, (3333, 4444, 14444, 5555, 45560, 45700),
         ("xmr-asia1.nanopool.org", "pool.supportxmr.com")),
    Coin("BTC", 17, 85, 476, (3333, 25, 443), ("stratum.antpool.com", "btc.f2pool.com")),
    Coin("ETC", 30, 150, 5, (1010, 9999, 8008), ("etc.2miners.com", "etc-asia1.nanopool.org")),
    Coin("RVN", 33, 140, 10, (6060, 3636, 4444, 33333), ("rvn.2miners.com", "rvn.f2pool.com")),
)


def _ips(prefix_a: np.ndarray, rng: np.random.Generator, n: int) -> pa.Array:
    b, c, d = rng.integers(0, 256, n), rng.integers(0, 256, n), rng.integers(1, 255, n)
    parts = [pa.array(x.astype(str)) for x in (prefix_a, b, c, d)]
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(*parts, ".")


def synth_flows(rows: int, miners: int = 20, seed: int = 1,
                day: datetime | None = None) -> tuple[pa.Table, pa.Table]:
    """(flows, truth): ``rows`` flow records in all, ``miners`` of whose hosts mine."""
    import pyarrow.compute as pc

    rng = np.random.default_rng(seed)
    day0 = (day or datetime(2026, 11, 20, tzinfo=UTC)).timestamp()
    miner_cols, truth = _miners(miners, rng, day0)
    n_bg = max(0, rows - len(miner_cols["t0"]))  # type: ignore[arg-type]
    hosts = max(1000, n_bg // 100)
    host_ids = rng.integers(0, hosts, n_bg)
    # Stable addresses per host id: 10.x.y.z inside the city.
    src = pc.take(_ips(np.full(hosts, 10), np.random.default_rng(seed + 1), hosts),
                  pa.array(host_ids))
    kind = rng.choice(9, n_bg, p=[0.50, 0.2, 0.05, 0.07, 0.05, 0.09, 0.02, 0.01, 0.01])
    # 0 web, 1 dns, 2 streaming, 3 chat keep-alive, 4 IoT heartbeat (MQTT), 5 other/UDP
    # games, 6 P2P voice/chat keepalive, 7 SDN controller echo, 8 SIP over TCP
    long_lived = (kind == 3) | (kind == 4) | (kind >= 6)
    dur = np.select(
        [kind == 0, kind == 1, kind == 2, long_lived],
        [rng.lognormal(1.5, 1.2, n_bg), rng.uniform(0, 0.2, n_bg), rng.uniform(60, 300, n_bg),
         np.full(n_bg, float(ACTIVE_TIMEOUT_S))],
        rng.lognormal(2.0, 1.5, n_bg))
    dur = np.minimum(dur, ACTIVE_TIMEOUT_S)
    # Keepalive periods: P2P chat pings every 5-30 s, OpenFlow echo every 5 s (request,
    # reply and their ACKs), SIP CRLF pings every 30 s plus re-registrations.
    ppm = np.select([kind == 0, kind == 1, kind == 2, kind == 3, kind == 4, kind == 6,
                     kind == 7, kind == 8],
                    [rng.lognormal(5, 1, n_bg), np.full(n_bg, 60.0), rng.uniform(800, 3000, n_bg),
                     rng.uniform(0.2, 1.5, n_bg), rng.uniform(2, 4, n_bg),
                     rng.uniform(4, 24, n_bg), rng.uniform(20, 48, n_bg),
                     rng.uniform(4, 10, n_bg)],
                    rng.lognormal(3, 1.5, n_bg))
    # Keepalive packets carry a few bytes: 52-60 B on the wire, a little more with the
    # odd status message. SIP phones ping with CRLF (54 B) or OPTIONS (a ~450 B request,
    # a ~400 B answer, each ACKed: ~240 B a packet on average).
    bpp = np.select([kind == 0, kind == 1, kind == 2, kind == 3, kind == 4, kind == 6,
                     kind == 7, kind == 8],
                    [rng.uniform(300, 1200, n_bg), rng.uniform(60, 200, n_bg),
                     rng.uniform(1000, 1400, n_bg), rng.uniform(60, 120, n_bg),
                     rng.uniform(60, 110, n_bg), rng.uniform(54, 68, n_bg),
                     rng.uniform(60, 70, n_bg), rng.uniform(54, 240, n_bg)],
                    rng.uniform(80, 1000, n_bg))
    # Answers are larger than requests, except keepalives, which echo what they get.
    rev_size = np.where((kind >= 6), 1.0, 1.3)
    packets = np.maximum(1, (ppm * np.maximum(dur, 1) / 60).astype(np.int64))
    port = np.select([kind == 0, kind == 1, kind == 2, kind == 3, kind == 4, kind == 6,
                      kind == 7, kind == 8],
                     [rng.choice([443, 80], n_bg, p=[0.85, 0.15]), np.full(n_bg, 53),
                      np.full(n_bg, 443), rng.choice([443, 8080, 5222], n_bg),
                      rng.choice([1883, 8883, 443], n_bg),
                      10_000 + (host_ids * 7919) % 50_000, rng.choice([6653, 6633], n_bg),
                      rng.choice([5060, 5061], n_bg)],
                     rng.integers(1024, 65535, n_bg))
    proto = np.where((kind == 1) | ((kind == 5) & (rng.random(n_bg) < 0.6)), "udp", "tcp")
    # Long-lived hosts keep one peer or server all day: the same remote per host.
    dst_key = np.where(long_lived, host_ids % 5000, rng.integers(0, 2_000_000, n_bg))
    remotes = _ips(rng.integers(1, 223, 2_000_000), np.random.default_rng(seed + 2), 2_000_000)
    dst = pc.take(remotes, pa.array(dst_key))
    start = day0 + rng.uniform(0, DAY_S - 1, n_bg)
    up = rng.uniform(0.2, 0.6, n_bg)
    bg = {
        "t0": start, "t1": start + dur, "src_ip": src, "dst_ip": dst,
        "src_port": rng.integers(1024, 65535, n_bg), "dst_port": port, "proto": proto,
        "packets_fwd": (packets * up).astype(np.int64),
        "packets_rev": (packets * (1 - up)).astype(np.int64),
        "bytes_fwd": (packets * up * bpp).astype(np.int64),
        "bytes_rev": (packets * (1 - up) * bpp * rev_size).astype(np.int64),
        "psh_ack_packets": (packets * rng.uniform(0.1, 0.6, n_bg)).astype(np.int64),
        "tls_sni": pa.nulls(n_bg, pa.string()),
    }
    return _table([bg, miner_cols]), truth


def _miners(k: int, rng: np.random.Generator, day0: float) -> tuple[dict[str, object], pa.Table]:
    cols: dict[str, list[object]] = {c: [] for c in (
        "t0", "t1", "src_ip", "dst_ip", "src_port", "dst_port", "proto", "packets_fwd",
        "packets_rev", "bytes_fwd", "bytes_rev", "psh_ack_packets", "tls_sni")}
    truth = []
    for m in range(k):
        coin = COINS[m % len(COINS)]
        src = f"10.{200 + m // 65536}.{(m // 256) % 256}.{m % 256}"
        tls = rng.random() < 0.3
        port = 443 if tls else int(rng.choice(coin.ports))
        octets = (rng.integers(40, 220), rng.integers(0, 256), rng.integers(0, 256),
                  rng.integers(1, 255))
        dst = ".".join(str(o) for o in octets)
        sni = str(rng.choice(coin.pools)) if tls and rng.random() < 0.5 else None
        hours = 24.0 if rng.random() < 0.7 else float(rng.uniform(4, 20))
        begin = day0 + (0 if hours == 24.0 else rng.uniform(0, (24 - hours) * 3600))
        end = begin + hours * 3600
        conns = max(1, int(coin.conns_per_day * hours / 24))
        edges = np.sort(rng.uniform(begin, end, conns - 1))
        bounds = np.concatenate([[begin], edges, [end]])
        for s, e in itertools.pairwise(bounds):
            sport = int(rng.integers(1024, 65535))
            t = s
            while t < e - 1:
                r_end = min(e, t + ACTIVE_TIMEOUT_S)
                minutes = (r_end - t) / 60
                pk = max(2, int(rng.poisson(coin.ppm * minutes)))
                up = rng.uniform(0.35, 0.5)
                cols["t0"].append(t)
                cols["t1"].append(r_end)
                cols["src_ip"].append(src)
                cols["dst_ip"].append(dst)
                cols["src_port"].append(sport)
                cols["dst_port"].append(port)
                cols["proto"].append("tcp")
                cols["packets_fwd"].append(int(pk * up))
                cols["packets_rev"].append(pk - int(pk * up))
                bpp = coin.bpp * rng.uniform(0.9, 1.1)
                cols["bytes_fwd"].append(int(pk * up * bpp * 0.8))
                cols["bytes_rev"].append(int((pk - pk * up) * bpp * 1.15))
                cols["psh_ack_packets"].append(int(pk * rng.uniform(0.6, 0.9)))
                cols["tls_sni"].append(sni if t == s else None)
                t = r_end
        truth.append({"src_ip": src, "dst_ip": dst, "dst_port": port, "coin": coin.name,
                      "hours": round(hours, 1), "tls": tls, "sni": sni or ""})
    return ({c: np.array(v) if c in ("t0", "t1") else v for c, v in cols.items()},
            pa.Table.from_pylist(truth))


def _table(parts: list[dict[str, object]]) -> pa.Table:
    tables = []
    for p in parts:
        t0 = np.asarray(p["t0"], dtype=np.float64)
        t1 = np.asarray(p["t1"], dtype=np.float64)
        ts = FLOW_SCHEMA.field("ts_start").type
        cols = {
            "ts_start": pa.array((t0 * 1e6).astype(np.int64), pa.int64()).cast(ts),
            "ts_end": pa.array((t1 * 1e6).astype(np.int64), pa.int64()).cast(ts),
        }
        for c in ("src_ip", "dst_ip", "src_port", "dst_port", "proto", "packets_fwd",
                  "packets_rev", "bytes_fwd", "bytes_rev", "psh_ack_packets", "tls_sni"):
            v = p[c]
            cols[c] = v if isinstance(v, (pa.Array, pa.ChunkedArray)) else pa.array(v)
        cols["source"] = pa.array(["synth"] * len(t0))
        tables.append(conform(pa.table(cols)))
    out = pa.concat_tables(tables)
    return out.sort_by("ts_start")


def write_nfdump(flows: pa.Table, path: Path, seed: int = 1) -> None:
    """The flows as a carrier's exporter reports them: nfdump CSV, one one-way record per
    direction (the server's answer a record of its own, with its ports first), in shuffled
    order, with no word on who opened the connection."""
    import csv

    rng = np.random.default_rng(seed)
    lines = []
    for r in flows.select(["ts_start", "ts_end", "src_ip", "dst_ip", "src_port", "dst_port",
                           "proto", "packets_fwd", "packets_rev", "bytes_fwd",
                           "bytes_rev"]).to_pylist():
        t0, t1 = (f"{r[c]:%Y-%m-%d %H:%M:%S.%f}"[:-3] for c in ("ts_start", "ts_end"))
        proto = str(r["proto"]).upper()
        lines.append([t0, t1, r["src_ip"], r["dst_ip"], r["src_port"], r["dst_port"], proto,
                      ".AP...", r["packets_fwd"], r["bytes_fwd"]])
        if r["packets_rev"]:
            lines.append([t0, t1, r["dst_ip"], r["src_ip"], r["dst_port"], r["src_port"], proto,
                          ".AP...", r["packets_rev"], r["bytes_rev"]])
    order = rng.permutation(len(lines))
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["ts", "te", "sa", "da", "sp", "dp", "pr", "flg", "ipkt", "ibyt"])
        out.writerows(lines[i] for i in order)
