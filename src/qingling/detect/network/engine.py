"""Network detection: per-flow evidence (Arrow, engine-free), then stitching, per-pair
features and fusion as one Ibis expression that runs on DuckDB or Spark unchanged."""

from __future__ import annotations

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
    flows = conform(flows).combine_chunks()
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
    for col, match in (("dst_ip", pools.match_ip), ("dns_name", pools.match_name),
                       ("http_host", pools.match_name), ("tls_sni", pools.match_name)):
        encoded = pc.dictionary_encode(flows[col]).combine_chunks()
        hits = [match(v) for v in encoded.dictionary.to_pylist()]
        if not any(hits):
            continue
        codes = pc.fill_null(encoded.indices, 0).to_numpy(zero_copy_only=False)
        valid = encoded.indices.is_valid().to_numpy(zero_copy_only=False)
        scores = np.array([h.score if h else 0.0 for h in hits])
        evidence = np.array([h.evidence if h else None for h in hits], dtype=object)
        rows = np.nonzero(valid)[0]
        rows = rows[scores[codes[rows]] > n_score[rows]]
        n_score[rows] = scores[codes[rows]]
        n_ev[rows] = evidence[codes[rows]]
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
        span_s=t.t1.max() - t.t0.min(),
        packets=t.pk.sum(),
        bytes=t.by.sum(),
        bytes_fwd=t.bytes_fwd.fill_null(0).sum(),
        psh=t.psh_ack_packets.sum(),
        psh_known=t.psh_ack_packets.count(),
        push_iat=t.push_iat_median.mean(),
        push_cv=t.push_iat_cv.mean(),
        payload=t.payload_score.max(),
        payload_evidence=t.payload_evidence.max(),
        names=t.names_score.max(),
        names_evidence=t.names_evidence.max(),
    )
    minutes = ibis.greatest(g.active_s / 60.0, 1.0 / 60.0)
    ppm = g.packets / minutes
    bpp = g.bytes / ibis.greatest(g.packets, 1)
    psh_share = ibis.ifelse(g.psh_known > 0, g.psh.cast("float64") / ibis.greatest(g.packets, 1),
                            ibis.null("float64"))
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
    return g.mutate(score=score, verdict=verdict, label=label).order_by(
        [ibis.desc("score"), "src_ip", "dst_ip", "dst_port", "proto"]
    )


OUTPUT_COLUMNS = ["src_ip", "dst_ip", "dst_port", "proto", "first_seen", "last_seen", "verdict",
                  "score", "layers", "evidence", "label", "flows", "sessions", "active_s",
                  "packets", "bytes"]


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
    out = out.append_column("layers", _layers_json(out))
    # Words for what deserves a look; a clean pair's sub-scores are in its columns.
    evidence = np.full(out.num_rows, "", dtype=object)
    flagged = pc.indices_nonzero(pc.not_equal(out["verdict"], "clean")).to_numpy()
    if len(flagged):
        for i, r in zip(flagged, out.take(pa.array(flagged)).to_pylist(), strict=True):
            evidence[i] = explain(r)
    out = out.append_column("evidence", pa.array(evidence, pa.string()))
    rest = [c for c in out.column_names if c not in OUTPUT_COLUMNS]
    return NetworkResult(out.select(OUTPUT_COLUMNS + rest))


def _num_text(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Rounded to 4 places, JSON-style (null for missing)."""
    rounded = pc.round(col, 4)
    return pc.fill_null(pc.cast(rounded, pa.string()), "null")


def _layers_json(out: pa.Table) -> pa.Array:
    """Every layer's sub-score as a small JSON object, built column-wise (no Python loop)."""
    parts: list[object] = ['{"behaviour": ', _num_text(out["behaviour"]),
                           ', "behaviour_parts": {']
    for j, k in enumerate(("s_bpp", "s_dur", "s_ppm", "s_psh", "s_push")):
        parts += [("" if j == 0 else ", ") + f'"{k}": ', _num_text(out[k])]
    parts += ['}, "names": ', _num_text(out["names"]), ', "payload": ',
              _num_text(out["payload"]), "}"]
    n = out.num_rows
    arrays = [pa.array([p] * n, pa.string()) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*arrays, "")
