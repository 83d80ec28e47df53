"""Network detection: per-flow evidence (Arrow, engine-free), then stitching, per-pair
features and fusion as one Ibis expression that runs on DuckDB or Spark unchanged."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from qingling.detect.engines import Engine
from qingling.detect.network.config import NetworkConfig
from qingling.detect.network.names import PoolList
from qingling.detect.network.payload import payload_score
from qingling.detect.schema import FLOW_SCHEMA, conform

PAIR_KEY = ["src_ip", "dst_ip", "dst_port", "proto"]
# The canonical columns detection reads; readers may skip the others.
INPUT_COLUMNS = tuple(c for c in FLOW_SCHEMA.names if c not in ("tcp_flags", "push_iat_cv", "source"))


def enrich(flows: pa.Table, pools: PoolList) -> pa.Table:
    """Add per-flow sub-scores and evidence: payload and names.

    Python runs only on the rows that carry payload evidence and on each distinct name or
    address once; a day of city NetFlow (no payload, few names) passes through vectorised.
    """
    flows = conform(flows)
    n = flows.num_rows
    p_score = np.zeros(n)
    p_ev: dict[int, str] = {}
    has_payload = pc.or_kleene(
        pc.or_kleene(pc.is_valid(flows["methods_fwd"]), pc.is_valid(flows["methods_rev"])),
        pc.or_kleene(pc.or_kleene(pc.fill_null(flows["pool_job_rev"], False),
                                  pc.is_valid(flows["share_fwd"])), pc.is_valid(flows["alert"])),
    )
    idx = pc.indices_nonzero(has_payload).to_numpy()
    if len(idx):
        sub = flows.take(pa.array(idx)).select(
            ["methods_fwd", "methods_rev", "rpc_reply_rev", "pool_job_rev", "login_agent",
             "share_fwd", "share_ack_rev", "alert"]
        ).to_pylist()
        for i, r in zip(idx, sub, strict=True):
            s, ev = payload_score(r["methods_fwd"], r["methods_rev"], r["rpc_reply_rev"],
                                  r["pool_job_rev"], r["login_agent"],
                                  share_fwd=r["share_fwd"], share_ack_rev=r["share_ack_rev"])
            alert = r["alert"]
            if alert and "coin" in alert.lower() and s < 0.9:
                s, ev = 0.9, f"IDS alert: {alert}"
            p_score[i] = s
            if ev:
                p_ev[int(i)] = ev
    n_score = np.zeros(n)
    n_ev: dict[int, str] = {}
    listed_ips = pa.array(sorted(pools.ips), pa.string())
    for col, match in (("dst_ip", pools.match_ip), ("dns_name", pools.match_name),
                       ("http_host", pools.match_name), ("tls_sni", pools.match_name)):
        # Only the rows that can match go to Python: listed addresses (a hash lookup in
        # Arrow) and rows that carry a name at all (few in NetFlow data).
        mask = (pc.is_in(flows[col], value_set=listed_ips) if col == "dst_ip"
                else pc.is_valid(flows[col]))
        rows = pc.indices_nonzero(mask).to_numpy()
        if not len(rows):
            continue
        values = flows[col].take(pa.array(rows)).to_pylist()
        cache: dict[str, Any] = {}
        for i, v in zip(rows, values, strict=True):
            if v not in cache:
                cache[v] = match(v)
            hit = cache[v]
            if hit is not None and hit.score > n_score[i]:
                n_score[i] = hit.score
                n_ev[int(i)] = hit.evidence
    t0 = pc.divide(pc.cast(pc.cast(flows["ts_start"], pa.int64()), pa.float64()), 1e6)
    t1 = pc.divide(pc.cast(pc.cast(flows["ts_end"], pa.int64()), pa.float64()), 1e6)
    return (
        flows.append_column("t0", t0)
        .append_column("t1", t1)
        .append_column("payload_score", pa.array(p_score, pa.float64()))
        .append_column("payload_evidence", _sparse_strings(n, p_ev))
        .append_column("names_score", pa.array(n_score, pa.float64()))
        .append_column("names_evidence", _sparse_strings(n, n_ev))
    )


def _sparse_strings(n: int, values: dict[int, str]) -> pa.Array:
    """n strings, null except at the given rows, without n Python objects (a city day has
    millions of rows and evidence on a few)."""
    codes = np.full(n, -1, np.int32)
    words: dict[str, int] = {}
    for row, text in values.items():
        codes[row] = words.setdefault(text, len(words))
    return pa.DictionaryArray.from_arrays(
        pa.array(codes, mask=codes < 0), pa.array(list(words), pa.string())).cast(pa.string())


def _band(x: Any, lo: float, hi: float) -> Any:
    """1 inside [lo, hi], falling linearly to 0 at lo/3 and at 3 × hi: real sessions
    wander a little outside the measured ranges, and a cliff would make them flip."""
    below = ibis.greatest(1.0 - (lo - x) / (lo * 2.0 / 3.0), 0.0)
    above = ibis.greatest(1.0 - (x - hi) / (2.0 * hi), 0.0)
    return ibis.ifelse(x < lo, below, ibis.ifelse(x > hi, above, 1.0))


def _benign(g: Any, cfg: NetworkConfig) -> Any:
    """Why this pair's flow shape is no lead, as a label ("" when it may be one):
    "excluded" (the city cleared the endpoint), "keepalive" (both directions carried
    nothing bigger than keepalives) or "benign:<protocol>" (its port and packet size)."""
    down_packets = g.packets - g.packets_up
    both_ways = (g.packets_up > 0) & (down_packets > 0)
    up_bpp = g.bytes_up / ibis.greatest(g.packets_up, 1.0)
    down_bpp = (g.bytes - g.bytes_up) / ibis.greatest(down_packets, 1.0)
    keepalive = both_ways & (ibis.greatest(up_bpp, down_bpp) <= cfg.keepalive_max_bpp)
    label: Any = ibis.ifelse(keepalive, "keepalive", "")
    for proto in reversed(cfg.benign_protocols):
        label = ibis.ifelse(g.dst_port.isin(list(proto.ports)) & (g.bpp <= proto.max_bpp),
                            f"benign:{proto.name}", label)
    if cfg.excluded:
        key = g.dst_ip.concat("|", g.dst_port.cast("string"))
        label = ibis.ifelse(key.isin(cfg.excluded_keys()), "excluded", label)
    return label


def pairs_expr(t: Any, cfg: NetworkConfig) -> Any:
    """Stitch exporter records, aggregate per (internal host, remote endpoint), fuse.

    One pass groups every record by pair. Stitching needs the records of a 5-tuple in time
    order (a window), but a pair seen in one record is one session: only the records of
    pairs seen more than once go through the window, which is what keeps a city day within
    a few times a bare group-by.
    """
    # Counts are summed as float64: exact for whole numbers below 2**53 (any pair's day),
    # and an engine's 128-bit integer sums cost a third more than the whole group-by.
    t = t.mutate(
        pk=(t.packets_fwd.fill_null(0) + t.packets_rev.fill_null(0)).cast("float64"),
        by=(t.bytes_fwd.fill_null(0) + t.bytes_rev.fill_null(0)).cast("float64"),
        pk_up=t.packets_fwd.fill_null(0).cast("float64"),
        by_up=t.bytes_fwd.fill_null(0).cast("float64"),
        psh=t.psh_ack_packets.cast("float64"),
        dur=ibis.greatest(t.t1 - t.t0, 0.0),
    )
    g = t.group_by(PAIR_KEY).aggregate(
        first_seen=t.ts_start.min(),
        last_seen=t.ts_end.max(),
        flows=t.count(),
        active_s=t.dur.sum(),
        packets=t.pk.sum().cast("int64"),
        bytes=t.by.sum().cast("int64"),
        packets_up=t.pk_up.sum(),
        bytes_up=t.by_up.sum(),
        psh=t.psh.sum(),
        push_iat=t.push_iat_median.mean(),
    )
    repeated = g.filter(g.flows > 1).select(*PAIR_KEY)
    r = t.select("src_ip", "src_port", "dst_ip", "dst_port", "proto", "t0", "t1")
    r = r.semi_join(repeated, PAIR_KEY)
    five = ["src_ip", "src_port", "dst_ip", "dst_port", "proto"]
    w = ibis.window(group_by=[r[c] for c in five], order_by=[r.t0, r.t1])
    prev_end = r.t1.lag().over(w)
    r = r.mutate(new_session=ibis.ifelse(
        prev_end.isnull() | ((r.t0 - prev_end) > cfg.stitch_gap_s), 1, 0))
    st = r.group_by(PAIR_KEY).aggregate(x_sessions=r.new_session.sum().cast("int64"))
    # Payload and name evidence sits on few records: aggregate those alone. Both side
    # tables are small; one union makes one join back to the millions of pairs.
    e = t.filter((t.payload_score > 0) | (t.names_score > 0))
    ev = e.group_by(PAIR_KEY).aggregate(
        x_payload=e.payload_score.max(),
        x_payload_evidence=e.payload_evidence.max(),
        x_names=e.names_score.max(),
        x_names_evidence=e.names_evidence.max(),
    )
    null_f, null_s = ibis.null("float64"), ibis.null("string")
    side = st.mutate(x_payload=null_f, x_payload_evidence=null_s, x_names=null_f,
                     x_names_evidence=null_s).union(
        ev.mutate(x_sessions=ibis.null("int64")).select(
            *PAIR_KEY, "x_sessions", "x_payload", "x_payload_evidence", "x_names",
            "x_names_evidence"))
    side = side.group_by(PAIR_KEY).aggregate(
        x_sessions=side.x_sessions.max(), x_payload=side.x_payload.max(),
        x_payload_evidence=side.x_payload_evidence.max(), x_names=side.x_names.max(),
        x_names_evidence=side.x_names_evidence.max())
    g = g.left_join(side, PAIR_KEY).select(
        g, sessions=side.x_sessions.fill_null(1),
        payload=side.x_payload.fill_null(0.0), payload_evidence=side.x_payload_evidence,
        names=side.x_names.fill_null(0.0), names_evidence=side.x_names_evidence)
    minutes = ibis.greatest(g.active_s / 60.0, 1.0 / 60.0)
    ppm = g.packets / minutes
    bpp = g.bytes / ibis.greatest(g.packets, 1)
    # Null when no record knew its PSH count (the sum of nulls is null).
    psh_share = g.psh / ibis.greatest(g.packets, 1)
    g = g.mutate(ppm=ppm, bpp=bpp, psh_share=psh_share)
    s_dur = ibis.least(g.active_s / cfg.long_session_s, 1.0)
    s_ppm = _band(g.ppm, cfg.min_ppm, cfg.max_ppm)
    s_bpp = _band(g.bpp, cfg.min_bpp, cfg.max_bpp)
    s_psh = ibis.ifelse(g.psh_share.isnull(), ibis.null("float64"),
                        ibis.least(g.psh_share / cfg.min_ack_psh_share, 1.0))
    s_push = ibis.ifelse(g.push_iat.isnull(), ibis.null("float64"),
                         ibis.ifelse((g.push_iat >= 4.0) & (g.push_iat <= 90.0), 1.0, 0.0))
    known = 2 + s_psh.notnull().cast("int64") + s_push.notnull().cast("int64")
    # Geometric mean: every measured trait must look like mining; one far off (a chat
    # keep-alive's 1 packet a minute) sinks the shape instead of being averaged away.
    product = s_ppm * s_bpp * s_psh.fill_null(1.0) * s_push.fill_null(1.0)
    shape = product.pow(1.0 / known.cast("float64"))
    # Half persistence, half shape: a few minutes of small packets is any chat or web
    # socket; mining is that shape kept up for a long time.
    raw_behaviour = 0.5 * s_dur + 0.5 * shape
    # Too little traffic to judge a shape: no behaviour evidence at all.
    behaviour = ibis.ifelse((g.proto == "tcp") & (g.packets >= 10), raw_behaviour, 0.0)
    g = g.mutate(s_dur=s_dur, s_ppm=s_ppm, s_bpp=s_bpp, s_psh=s_psh, s_push=s_push,
                 behaviour=behaviour, benign=_benign(g, cfg))
    node = g.dst_port.isin(list(cfg.node_ports)) & (g.payload < 1.0)
    shared = (g.src_ip.isin(list(cfg.shared_egress)) if cfg.shared_egress
              else ibis.literal(False))
    # A known-benign shape or an excluded endpoint keeps its behaviour column (explained)
    # but it counts for nothing: payload and names still convict.
    counted = ibis.ifelse(g.benign == "", g.behaviour, 0.0)
    score = 1.0 - ((1.0 - cfg.w_payload * g.payload) * (1.0 - cfg.w_names * g.names)
                   * (1.0 - cfg.w_behaviour * counted))
    score = ibis.ifelse(node, ibis.least(score, cfg.suspicious_at - 0.01), score).round(4)
    verdict = ibis.ifelse(score >= cfg.mining_at, "mining",
                          ibis.ifelse(score >= cfg.suspicious_at, "suspicious", "clean"))
    label = ibis.ifelse(node, "node", ibis.ifelse(shared, "shared_egress", g.benign))
    g = g.mutate(score=score, verdict=verdict, label=label)
    # Only what the output and the evidence text use leaves the engine.
    return g.select(*PAIR_KEY, "first_seen", "last_seen", "flows", "sessions", "active_s",
                    "packets", "bytes", "ppm", "bpp", "psh_share", "push_iat", "payload",
                    "payload_evidence", "names", "names_evidence", "behaviour", "s_dur", "s_ppm",
                    "s_bpp", "s_psh", "s_push", "score", "verdict", "label")


OUTPUT_COLUMNS = ["src_ip", "dst_ip", "dst_port", "proto", "first_seen", "last_seen", "verdict",
                  "score", "layers", "evidence", "label", "flows", "sessions", "active_s",
                  "packets", "bytes"]


SUBSCORES = ["payload", "names", "behaviour", "s_dur", "s_ppm", "s_bpp", "s_psh", "s_push"]


def _num(x: float | None) -> str:
    # repr of a finite float is exactly what json.dumps writes, without its machinery; a
    # missing or undefined figure is null (strict JSON has no NaN).
    return "null" if x is None or x != x else repr(round(x, 4))


def _layers_json(r: dict[str, Any]) -> str:
    """The layers of one pair as JSON (keys sorted), written directly: json.dumps per row
    is most of the cost of a day with many flagged pairs."""
    parts = ", ".join(f'"{k}": {_num(r[k])}' for k in ("s_bpp", "s_dur", "s_ppm", "s_psh", "s_push"))
    return (f'{{"behaviour": {_num(r["behaviour"])}, "behaviour_parts": {{{parts}}}, '
            f'"names": {_num(r["names"])}, "payload": {_num(r["payload"])}}}')


def _fmt(x: float | None, spec: str) -> str:
    return "?" if x is None else format(x, spec)


def explain(row: dict[str, Any]) -> str:
    parts = []
    if row["payload_evidence"] and row["payload"] > 0:
        parts.append(row["payload_evidence"])
    if row["names_evidence"] and row["names"] > 0:
        parts.append(row["names_evidence"])
    if row["behaviour"] and row["behaviour"] > 0:
        push = (f", server pushes every {row['push_iat']:.0f} s"
                if row.get("push_iat") is not None else "")
        psh = (f", ACK+PSH {row['psh_share']:.0%}" if row.get("psh_share") is not None else "")
        parts.append(
            f"{row['active_s'] / 60:.1f} min active in {row['sessions']} session(s), "
            f"{_fmt(row['ppm'], '.1f')} pkt/min, {_fmt(row['bpp'], '.0f')} B/pkt{psh}{push}"
        )
    if row["label"] == "node":
        parts.append(f"port {row['dst_port']} is a crypto peer-to-peer node port")
    if row["label"] == "shared_egress":
        parts.append(f"{row['src_ip']} is a shared egress: find the host behind it")
    if row["label"] == "excluded":
        parts.append(f"{row['dst_ip']}:{row['dst_port']} was excluded by the city: its flow "
                     "shape is not counted")
    if row["label"] == "keepalive":
        parts.append("only keepalive-sized packets either way: flow shape not counted")
    if row["label"].startswith("benign:"):
        parts.append(f"port {row['dst_port']} and packet size are {row['label'][7:]}'s: flow "
                     "shape not counted")
    return "; ".join(parts)


@dataclass
class NetworkResult:
    pairs: pa.Table  # OUTPUT_COLUMNS plus every sub-score

    def counts(self) -> dict[str, int]:
        seen = {r["values"]: r["counts"]
                for r in pc.value_counts(self.pairs.column("verdict")).to_pylist()}
        return {v: seen.get(v, 0) for v in ("mining", "suspicious", "clean")}


def _filter(table: pa.Table, mask: pa.ChunkedArray) -> pa.Table:
    """Table.filter, one column per thread: a city day's clean pairs are millions of rows
    and the copy is bound by memory, not by one core."""
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        cols = list(pool.map(lambda c: pc.filter(c, mask), table.columns))
    return pa.Table.from_arrays(cols, schema=table.schema)


def _empty_strings(n: int) -> pa.Array:
    """n empty strings without creating n Python objects."""
    return pa.StringArray.from_buffers(n, pa.py_buffer(np.zeros(n + 1, np.int32)),
                                       pa.py_buffer(b""))


def detect_network(flows: pa.Table, engine: Engine, *, pools: PoolList | None = None,
                   cfg: NetworkConfig | None = None,
                   say: Callable[[str], None] | None = None) -> NetworkResult:
    cfg = cfg or NetworkConfig()
    pools = pools or PoolList.load()
    (say or (lambda _m: None))("scoring flows")
    enriched = enrich(flows, pools)
    t = engine.table(enriched, "flows")
    (say or (lambda _m: None))(f"fusing on {engine.name}")
    out = engine.execute(pairs_expr(t, cfg))
    # Flagged pairs come first, highest score first, ties broken by the key (the same
    # order from every engine and run), with their layers as JSON and evidence in words.
    # Clean pairs follow in engine order; each sub-score is in its own column for all.
    mask = pc.not_equal(out["verdict"], "clean")
    top = out.filter(mask)
    top = top.take(pc.sort_indices(top, sort_keys=[
        ("score", "descending"), ("src_ip", "ascending"), ("dst_ip", "ascending"),
        ("dst_port", "ascending"), ("proto", "ascending")]))
    # Column-wise: a busy day flags tens of thousands of pairs.
    needed = ["src_ip", "dst_ip", "dst_port", "active_s", "sessions", "ppm", "bpp", "psh_share",
              "push_iat", "payload_evidence", "names_evidence", "label", *SUBSCORES]
    rows = [dict(zip(needed, vals, strict=True))
            for vals in zip(*(top[c].to_pylist() for c in needed), strict=True)]
    layers = [_layers_json(r) for r in rows]
    evidence = [explain(r) for r in rows]
    keep = [c for c in OUTPUT_COLUMNS if c not in ("layers", "evidence")] + SUBSCORES
    top = (top.select(keep).append_column("layers", pa.array(layers, pa.string()))
           .append_column("evidence", pa.array(evidence, pa.string())))
    rest = _filter(out.select(keep), pc.invert(mask))
    rest = (rest.append_column("layers", pa.nulls(rest.num_rows, pa.string()))
            .append_column("evidence", _empty_strings(rest.num_rows)))
    out = pa.concat_tables([top, rest])
    return NetworkResult(out.select(OUTPUT_COLUMNS + SUBSCORES))
