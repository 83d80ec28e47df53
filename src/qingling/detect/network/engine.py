"""Network detection: per-flow evidence (Arrow, engine-free), then stitching, per-pair
features and fusion as one Ibis expression that runs on DuckDB or Spark unchanged."""

from __future__ import annotations

import json
from collections.abc import Callable
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
from qingling.detect.schema import conform

PAIR_KEY = ["src_ip", "dst_ip", "dst_port", "proto"]


def enrich(flows: pa.Table, pools: PoolList) -> pa.Table:
    """Add per-flow sub-scores and evidence: payload and names.

    Python runs only on the rows that carry payload evidence and on each distinct name or
    address once; a day of city NetFlow (no payload, few names) passes through vectorised.
    """
    flows = conform(flows)
    n = flows.num_rows
    p_score = np.zeros(n)
    p_ev = np.full(n, None, dtype=object)
    has_payload = pc.or_kleene(
        pc.or_kleene(pc.is_valid(flows["methods_fwd"]), pc.is_valid(flows["methods_rev"])),
        pc.or_kleene(pc.fill_null(flows["pool_job_rev"], False), pc.is_valid(flows["alert"])),
    )
    idx = pc.indices_nonzero(has_payload).to_numpy()
    if len(idx):
        sub = flows.take(pa.array(idx)).select(
            ["methods_fwd", "methods_rev", "rpc_reply_rev", "pool_job_rev", "login_agent", "alert"]
        ).to_pylist()
        for i, r in zip(idx, sub, strict=True):
            s, ev = payload_score(r["methods_fwd"], r["methods_rev"], r["rpc_reply_rev"],
                                  r["pool_job_rev"], r["login_agent"])
            alert = r["alert"]
            if alert and "coin" in alert.lower() and s < 0.9:
                s, ev = 0.9, f"IDS alert: {alert}"
            p_score[i], p_ev[i] = s, ev or None
    n_score = np.zeros(n)
    n_ev = np.full(n, None, dtype=object)
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
                n_score[i], n_ev[i] = hit.score, hit.evidence
    t0 = pc.divide(pc.cast(pc.cast(flows["ts_start"], pa.int64()), pa.float64()), 1e6)
    t1 = pc.divide(pc.cast(pc.cast(flows["ts_end"], pa.int64()), pa.float64()), 1e6)
    return (
        flows.append_column("t0", t0)
        .append_column("t1", t1)
        .append_column("payload_score", pa.array(p_score, pa.float64()))
        .append_column("payload_evidence", pa.array(p_ev, pa.string()))
        .append_column("names_score", pa.array(n_score, pa.float64()))
        .append_column("names_evidence", pa.array(n_ev, pa.string()))
    )


def _band(x: Any, lo: float, hi: float) -> Any:
    """1 inside [lo, hi], falling linearly to 0 at lo/3 and at 3 × hi: real sessions
    wander a little outside the measured ranges, and a cliff would make them flip."""
    below = ibis.greatest(1.0 - (lo - x) / (lo * 2.0 / 3.0), 0.0)
    above = ibis.greatest(1.0 - (x - hi) / (2.0 * hi), 0.0)
    return ibis.ifelse(x < lo, below, ibis.ifelse(x > hi, above, 1.0))


def pairs_expr(t: Any, cfg: NetworkConfig) -> Any:
    """Stitch exporter records, aggregate per (internal host, remote endpoint), fuse."""
    five = ["src_ip", "src_port", "dst_ip", "dst_port", "proto"]
    w = ibis.window(group_by=[t[c] for c in five], order_by=[t.t0, t.t1])
    prev_end = t.t1.lag().over(w)
    t = t.mutate(
        new_session=ibis.ifelse(prev_end.isnull() | ((t.t0 - prev_end) > cfg.stitch_gap_s), 1, 0),
        pk=t.packets_fwd.fill_null(0) + t.packets_rev.fill_null(0),
        by=t.bytes_fwd.fill_null(0) + t.bytes_rev.fill_null(0),
        dur=ibis.greatest(t.t1 - t.t0, 0.0),
    )
    g = t.group_by(PAIR_KEY).aggregate(
        first_seen=t.ts_start.min(),
        last_seen=t.ts_end.max(),
        flows=t.count(),
        sessions=t.new_session.sum(),
        active_s=t.dur.sum(),
        packets=t.pk.sum(),
        bytes=t.by.sum(),
        psh=t.psh_ack_packets.sum(),
        push_iat=t.push_iat_median.mean(),
        payload=t.payload_score.max(),
        payload_evidence=t.payload_evidence.max(),
        names=t.names_score.max(),
        names_evidence=t.names_evidence.max(),
    )
    minutes = ibis.greatest(g.active_s / 60.0, 1.0 / 60.0)
    ppm = g.packets / minutes
    bpp = g.bytes / ibis.greatest(g.packets, 1)
    # Null when no record knew its PSH count (the sum of nulls is null).
    psh_share = g.psh.cast("float64") / ibis.greatest(g.packets, 1)
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
                 behaviour=behaviour)
    node = g.dst_port.isin(list(cfg.node_ports)) & (g.payload < 1.0)
    shared = (g.src_ip.isin(list(cfg.shared_egress)) if cfg.shared_egress
              else ibis.literal(False))
    score = 1.0 - ((1.0 - cfg.w_payload * g.payload) * (1.0 - cfg.w_names * g.names)
                   * (1.0 - cfg.w_behaviour * g.behaviour))
    score = ibis.ifelse(node, ibis.least(score, cfg.suspicious_at - 0.01), score).round(4)
    verdict = ibis.ifelse(score >= cfg.mining_at, "mining",
                          ibis.ifelse(score >= cfg.suspicious_at, "suspicious", "clean"))
    label = ibis.ifelse(node, "node", ibis.ifelse(shared, "shared_egress", ""))
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
    return "; ".join(parts)


@dataclass
class NetworkResult:
    pairs: pa.Table  # OUTPUT_COLUMNS plus every sub-score

    def counts(self) -> dict[str, int]:
        verdicts = self.pairs.column("verdict").to_pylist()
        return {v: verdicts.count(v) for v in ("mining", "suspicious", "clean")}


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
    layers, evidence = [], []
    for r in top.to_pylist():
        layers.append(json.dumps({
            "payload": round(r["payload"], 4), "names": round(r["names"], 4),
            "behaviour": round(r["behaviour"], 4),
            "behaviour_parts": {k: (None if r[k] is None else round(r[k], 4))
                                for k in ("s_dur", "s_ppm", "s_bpp", "s_psh", "s_push")},
        }, sort_keys=True))
        evidence.append(explain(r))
    keep = [c for c in OUTPUT_COLUMNS if c not in ("layers", "evidence")] + SUBSCORES
    top = (top.select(keep).append_column("layers", pa.array(layers, pa.string()))
           .append_column("evidence", pa.array(evidence, pa.string())))
    rest = out.select(keep).filter(pc.invert(mask))
    rest = (rest.append_column("layers", pa.nulls(rest.num_rows, pa.string()))
            .append_column("evidence", pa.array(np.full(rest.num_rows, ""), pa.string())))
    out = pa.concat_tables([top, rest])
    return NetworkResult(out.select(OUTPUT_COLUMNS + SUBSCORES))
