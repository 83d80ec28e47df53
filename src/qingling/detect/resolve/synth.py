"""Synthetic carrier records with the answer key: RADIUS events (and the sessions they
make), CGNAT translations, static allocations and observations to resolve.

Addresses are reassigned all day long: every address carries back-to-back sessions of
random accounts, 1–10 hours each, with a gap before the next that is under a minute three
times in ten (so observations at a handover are genuinely ambiguous). One session in ten
loses its Stop. Half the subscribers sit behind CGNAT: each private address gets a 2,000-port
block on a public address, re-mapped every day. Vectorised (numpy), seeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from qingling.detect.resolve import schema

HOUR = 3600
BLOCK = 2000
BLOCKS_PER_IP = 30


@dataclass
class CarrierData:
    events: pa.Table
    sessions: pa.Table  # the truth the events encode (closed_by as the resolver will find)
    cgnat: pa.Table
    static: pa.Table
    observations: pa.Table
    truth: pa.Table  # obs_id, status, account, case


def _ip4(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> pa.Array:
    parts = [pa.array(np.asarray(x).astype(str)) for x in (a, b, c, d)]
    return pc.binary_join_element_wise(*parts, ".")


def _ts(seconds: np.ndarray) -> pa.Array:
    return pa.array((np.asarray(seconds) * 1_000_000).astype(np.int64), pa.int64()).cast(schema.TS)


def synth_carrier(n_ips: int = 2000, days: int = 2, observations: int = 2000, seed: int = 1,
                  skew_s: int = 120, day0: datetime | None = None,
                  with_events: bool = True) -> CarrierData:
    rng = np.random.default_rng(seed)
    t0 = (day0 or datetime(2026, 11, 18, tzinfo=UTC)).timestamp()
    end = t0 + days * 24 * HOUR
    per_ip = int(days * 24 / 5.5) + 2
    length = rng.uniform(1 * HOUR, 10 * HOUR, (n_ips, per_ip))
    short = rng.random((n_ips, per_ip)) < 0.3
    gap = np.where(short, rng.uniform(0, 60, (n_ips, per_ip)), rng.uniform(300, 1800, (n_ips, per_ip)))
    offset = rng.uniform(0, HOUR, (n_ips, 1))
    start = t0 + offset + np.concatenate(
        [np.zeros((n_ips, 1)), np.cumsum(length + gap, axis=1)[:, :-1]], axis=1)
    stop = start + length
    keep = start < end - HOUR
    ip_idx = np.broadcast_to(np.arange(n_ips)[:, None], (n_ips, per_ip))[keep]
    start, stop, gap_after = start[keep], stop[keep], gap[keep]
    n_s = len(start)
    accounts_n = max(10, n_ips * 2)
    acct_idx = rng.integers(0, accounts_n, n_s)
    account = pc.binary_join_element_wise(pa.array(np.full(n_s, "ACC")),
                                          pa.array(np.char.zfill(acct_idx.astype(str), 7)), "")
    cgnat = ip_idx % 2 == 0  # even addresses are private, behind CGNAT
    # Private 100.64.0.0/10 for CGNAT subscribers; public 61.0.0.0/8 for the others.
    ip_s = _own_ip(ip_idx, cgnat)
    sid = pc.binary_join_element_wise(pa.array(np.full(n_s, "S")),
                                      pa.array(np.arange(n_s).astype(str)), "")
    nas = pa.array(np.full(n_s, "10.0.0.1"))
    lost_stop = rng.random(n_s) < 0.1
    # A session whose Stop is lost ends, for the resolver, at the next Start on the address.
    order = np.lexsort((start, ip_idx))
    nxt = np.full(n_s, np.nan)
    same = ip_idx[order][1:] == ip_idx[order][:-1]
    nxt_sorted = np.where(same, start[order][1:], np.nan)
    nxt[order[:-1]] = nxt_sorted
    # A lost Stop with no next Start is kept (so every session has a known end).
    lost_stop &= ~np.isnan(nxt)
    eff_stop = np.where(lost_stop, nxt, stop)
    closed_by = np.where(lost_stop, "next_start", "stop")
    sessions = pa.table({
        "account": account, "ip": ip_s, "start": _ts(start), "stop": _ts(eff_stop),
        "session_id": sid, "nas_ip": nas, "closed_by": pa.array(closed_by)}, schema=schema.SESSIONS)

    events = schema.EVENTS.empty_table()
    if with_events:
        interim = (stop - start) > 2 * HOUR
        parts = [
            pa.table({"account": account, "ip": ip_s, "status": pa.array(np.full(n_s, "start")),
                      "session_id": sid, "nas_ip": nas, "ts": _ts(start)}),
            pa.table({"account": account, "ip": ip_s, "status": pa.array(np.full(n_s, "interim")),
                      "session_id": sid, "nas_ip": nas, "ts": _ts(start + HOUR)}).filter(
                pa.array(interim)),
            pa.table({"account": account, "ip": ip_s, "status": pa.array(np.full(n_s, "stop")),
                      "session_id": sid, "nas_ip": nas, "ts": _ts(stop)}).filter(
                pa.array(~lost_stop)),
        ]
        events = pa.concat_tables([p.cast(schema.EVENTS) for p in parts])
        events = events.take(pc.sort_indices(events, [("ts", "ascending")]))

    # CGNAT: private address i → public 220.x.y.z (i // 2 // 30), block (i // 2 + day) % 30.
    # One day more than the window: the last sessions run past its end.
    priv = np.arange(0, n_ips, 2)
    rows_day = np.repeat(np.arange(days + 1), len(priv))
    priv_d = np.tile(priv, days + 1)
    slot = priv_d // 2
    pub = slot // BLOCKS_PER_IP
    block = (slot + rows_day) % BLOCKS_PER_IP
    cg = pa.table({
        "private_ip": _ip4(np.full(len(priv_d), 100), 64 + (priv_d >> 16) % 64,
                           (priv_d >> 8) % 256, priv_d % 256),
        "public_ip": _ip4(np.full(len(priv_d), 220), (pub >> 16) % 256, (pub >> 8) % 256,
                          pub % 256),
        "port_lo": pa.array(1024 + block * BLOCK, pa.int32()),
        "port_hi": pa.array(1024 + block * BLOCK + BLOCK - 1, pa.int32()),
        "start": _ts(t0 + rows_day * 24 * HOUR),
        "stop": _ts(t0 + (rows_day + 1) * 24 * HOUR - 1),
    }, schema=schema.CGNAT)

    static = pa.table({
        "network": pa.array(["58.215.10.0/28", "58.215.10.16/28", "2408:8400:1::/48"]),
        "account": pa.array(["ENT0000001", "IDC0000002", "ENT0000003"]),
        "kind": pa.array(["enterprise", "idc", "enterprise"]),
        "valid_from": pa.nulls(3, schema.TS), "valid_to": pa.nulls(3, schema.TS),
    }, schema=schema.STATIC)

    obs, truth = _observations(rng, observations, start, eff_stop, ip_idx, cgnat, account,
                               acct_idx, gap_after, lost_stop, t0, days, skew_s)
    return CarrierData(events, sessions, cg, static, obs, truth)


def _own_ip(i: np.ndarray, behind_cgnat: np.ndarray) -> pa.Array:
    """Address number ``i``: private 100.64.0.0/10 behind CGNAT, else public 61.0.0.0/8."""
    return pc.if_else(pa.array(behind_cgnat),
                      _ip4(np.full(len(i), 100), 64 + (i >> 16) % 64, (i >> 8) % 256, i % 256),
                      _ip4(np.full(len(i), 61), (i >> 16) % 256, (i >> 8) % 256, i % 256))


def _seen_as(i: np.ndarray, behind_cgnat: np.ndarray, ts: np.ndarray, t0: float
             ) -> tuple[pa.Array, np.ndarray]:
    """How an observer on the Internet sees address ``i`` at ``ts``: behind CGNAT, the
    public address and a port of its block; else the address itself, no port (-1)."""
    pub_ip, pub_port = _public_of(i, ts, t0)
    return (pc.if_else(pa.array(behind_cgnat), pub_ip, _own_ip(i, behind_cgnat)),
            np.where(behind_cgnat, pub_port, -1))


def _public_of(i: np.ndarray, ts: np.ndarray, t0: float) -> tuple[pa.Array, np.ndarray]:
    """The public address and a port inside the block a private address has at ``ts``."""
    day = ((ts - t0) // (24 * HOUR)).astype(np.int64)
    slot = i // 2
    pub = slot // BLOCKS_PER_IP
    block = (slot + day) % BLOCKS_PER_IP
    ip = _ip4(np.full(len(i), 220), (pub >> 16) % 256, (pub >> 8) % 256, pub % 256)
    return ip, 1024 + block * BLOCK + 777


def _observations(rng: np.random.Generator, n: int, start: np.ndarray, stop: np.ndarray,
                  ip_idx: np.ndarray, cgnat: np.ndarray, account: pa.Array,
                  acct_idx: np.ndarray, gap_after: np.ndarray, lost_stop: np.ndarray, t0: float, days: int,
                  skew_s: int) -> tuple[pa.Table, pa.Table]:
    """Mostly well inside sessions; also handovers, CGNAT without a port, static and
    unknown addresses."""
    kinds = rng.choice(5, n, p=[0.8, 0.08, 0.04, 0.04, 0.04])
    ips: list[pa.Array] = []
    out_port: list[np.ndarray] = []
    out_ts: list[np.ndarray] = []
    status: list[str] = []
    acct: list[str | None] = []
    case: list[str] = []
    # 0: inside a session, at least skew + 1 s from both ends.
    k0 = np.flatnonzero(kinds == 0)
    s = rng.integers(0, len(start), len(k0))
    lo, hi = start[s] + skew_s + 1, stop[s] - skew_s - 1
    ts0 = np.floor(lo + rng.random(len(k0)) * (hi - lo))
    # CGNAT blocks are re-mapped at midnight: keep clear of it, where a port block belongs
    # to two subscribers within the clock tolerance (that case is the resolver's to flag).
    since = (ts0 - t0) % (24 * HOUR)
    clear = ~cgnat[s] | ((since > 2 * skew_s) & (since < 24 * HOUR - 2 * skew_s))
    k0, s, ts0 = k0[clear], s[clear], ts0[clear]
    priv = cgnat[s]
    seen_ip, seen_port = _seen_as(ip_idx[s], priv, ts0, t0)
    ips.append(seen_ip)
    out_port.append(seen_port)
    out_ts.append(ts0)
    status += ["resolved"] * len(k0)
    acct += account.take(pa.array(s)).to_pylist()
    case += ["cgnat" if p else "radius" for p in priv]
    # 1: at a handover to another session within the skew (gap under a minute, Stop kept).
    hand = np.flatnonzero((gap_after < 60) & ~lost_stop)
    order = np.lexsort((start, ip_idx))
    nxt_of = np.full(len(start), -1)
    same = ip_idx[order][1:] == ip_idx[order][:-1]
    nxt_of[order[:-1][same]] = order[1:][same]
    hand = hand[(nxt_of[hand] >= 0)]
    hand = hand[acct_idx[nxt_of[hand]] != acct_idx[hand]]
    k1 = np.flatnonzero(kinds == 1)
    if len(hand):
        h = hand[rng.integers(0, len(hand), len(k1))]
        ts1 = np.floor(stop[h])
        seen_ip, seen_port = _seen_as(ip_idx[h], cgnat[h], ts1, t0)
        ips.append(seen_ip)
        out_port.append(seen_port)
        out_ts.append(ts1)
        status += ["ambiguous"] * len(k1)
        acct += [None] * len(k1)
        case += ["handover"] * len(k1)
    # 2: a CGNAT public address without its port.
    k2 = np.flatnonzero(kinds == 2)
    cg_s = np.flatnonzero(cgnat)
    s = cg_s[rng.integers(0, len(cg_s), len(k2))]
    ts2 = np.floor(start[s] + (stop[s] - start[s]) / 2)
    ips.append(_public_of(ip_idx[s], ts2, t0)[0])
    out_port.append(np.full(len(k2), -1))
    out_ts.append(ts2)
    status += ["ambiguous"] * len(k2)
    acct += [None] * len(k2)
    case += ["cgnat_no_port"] * len(k2)
    # 3: a static allocation (IPv4 or IPv6).
    k3 = np.flatnonzero(kinds == 3)
    which = rng.integers(0, 3, len(k3))
    nets = ["58.215.10.5", "58.215.10.20", "2408:8400:1:2::9"]
    owners = ["ENT0000001", "IDC0000002", "ENT0000003"]
    ips.append(pa.array([nets[w] for w in which]))
    out_port.append(np.full(len(k3), -1))
    out_ts.append(t0 + rng.uniform(0, days * 24 * HOUR, len(k3)).round())
    status += ["resolved"] * len(k3)
    acct += [owners[w] for w in which]
    case += ["static"] * len(k3)
    # 4: an address nobody held.
    k4 = np.flatnonzero(kinds == 4)
    ips.append(_ip4(np.full(len(k4), 203), np.full(len(k4), 0), np.full(len(k4), 113),
                    rng.integers(1, 255, len(k4))))
    out_port.append(np.full(len(k4), -1))
    out_ts.append(t0 + rng.uniform(0, days * 24 * HOUR, len(k4)).round())
    status += ["unresolved"] * len(k4)
    acct += [None] * len(k4)
    case += ["unknown"] * len(k4)
    ip_all = pa.concat_arrays([a.cast(pa.string()) for a in ips])
    port = np.concatenate(out_port)
    m = len(ip_all)
    ids = pa.array([f"O{i:07d}" for i in range(m)])
    obs = pa.table({
        "obs_id": ids, "ip": ip_all,
        "port": pa.array(np.where(port < 0, 0, port).astype(np.int32), pa.int32(),
                         mask=port < 0),
        "ts": _ts(np.concatenate(out_ts)), "tz_assumed": pa.array(np.zeros(m, bool)),
    }, schema=schema.OBSERVATIONS)
    truth = pa.table({"obs_id": ids, "status": pa.array(status),
                      "account": pa.array(acct, pa.string()), "case": pa.array(case)})
    return obs, truth


STATUS_NAMES = {"start": "Start", "interim": "Interim-Update", "stop": "Stop"}


def radius_export(ev: pa.Table) -> pa.Table:
    """Events as a carrier's CSV export: RFC 2866 attribute names, epoch Event-Timestamp."""
    return pa.table({
        "User-Name": ev["account"], "Framed-IP-Address": ev["ip"],
        "Acct-Status-Type": pa.array([STATUS_NAMES[s] for s in ev["status"].to_pylist()]),
        "Acct-Session-Id": ev["session_id"], "NAS-IP-Address": ev["nas_ip"],
        "Event-Timestamp": pc.divide(ev["ts"].cast(pa.int64()), 1_000_000),
    })


def write_carrier(data: CarrierData, out_dir: Path) -> list[Path]:
    """RADIUS as a carrier's CSV export, the CGNAT log and static allocations, observations
    and the key, all as CSV."""
    import pyarrow.csv as pacsv

    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"radius.csv": radius_export(data.events), "cgnat.csv": data.cgnat, "static.csv": data.static,
             "observations.csv": data.observations.drop_columns(["tz_assumed"]),
             "truth.csv": data.truth}
    paths = []
    for name, table in files.items():
        path = out_dir / name
        pacsv.write_csv(table, path)
        paths.append(path)
    return paths


COUNTY_NAMES = {"330402": "南湖区", "330411": "秀洲区", "330421": "嘉善县", "330424": "海盐县",
                "330481": "海宁市", "330482": "平湖市", "330483": "桐乡市"}


def _places() -> list[tuple[str, str]]:
    """(county, township) names for synthetic addresses: the townships shipped as reference
    data (read as a file; the engine imports nothing from the web side)."""
    import csv

    path = Path(__file__).resolve().parents[2] / "geo" / "data" / "jiaxing_townships_nbs2023.csv"
    if not path.exists():
        return [("南湖区", "新兴街道")]
    with open(path, encoding="utf-8") as fh:
        return [(COUNTY_NAMES[r["areaCode"]], r["name"]) for r in csv.DictReader(fh)
                if r["areaCode"] in COUNTY_NAMES]


def carrier_for_flows(flows: pa.Table, seed: int = 1) -> tuple[pa.Table, pa.Table]:
    """RADIUS events and a subscriber register for the internal hosts of a flow table: each
    source address is one subscriber's for the whole span of the flows, and subscribers live
    at real townships of the city. Returns (events, subscribers)."""
    rng = np.random.default_rng(seed)
    hosts = pc.unique(flows["src_ip"]).to_pylist()
    t0 = pc.min(flows["ts_start"]).as_py().timestamp() - HOUR
    t1 = pc.max(flows["ts_end"]).as_py().timestamp() + HOUR
    places = _places()
    ev: dict[str, list[object]] = {f: [] for f in schema.EVENTS.names}
    subs: dict[str, list[object]] = {f: [] for f in ("account", "name", "id_number", "phone",
                                                     "address", "carrier")}
    surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
    for i, ip in enumerate(sorted(hosts)):
        acct = f"JX{i:08d}"
        county, town = places[int(rng.integers(0, len(places)))]
        subs["account"].append(acct)
        subs["name"].append(surnames[i % len(surnames)] + "某" + str(i % 100))
        subs["id_number"].append(f"3304{rng.integers(10, 99)}19{rng.integers(60, 99)}0101"
                                 f"{rng.integers(1000, 9999)}")
        subs["phone"].append(f"13{rng.integers(100000000, 999999999)}")
        subs["address"].append(f"浙江省嘉兴市{county}{town}某路{int(rng.integers(1, 300))}号")
        subs["carrier"].append("电信")
        for status, at in (("start", t0), ("stop", t1)):
            for k, v in (("account", acct), ("ip", ip), ("status", status),
                         ("session_id", f"F{i:08d}"), ("nas_ip", "10.0.0.1"),
                         ("ts", datetime.fromtimestamp(at, UTC))):
                ev[k].append(v)
    events = pa.table({f.name: pa.array(ev[f.name], f.type) for f in schema.EVENTS},
                      schema=schema.EVENTS)
    return events, pa.table({k: pa.array(v, pa.string()) for k, v in subs.items()})
