"""Sessions from RADIUS events, and resolution of observations by interval joins, written
once in Ibis: DuckDB by default, Spark at scale (tests require the same answers).

Resolution of one observation (ip[, port], t):
1. if ``ip`` is a CGNAT public address, the translation whose port range holds ``port`` at
   ``t`` gives the private address; a CGNAT address without a port is ambiguous;
2. the RADIUS sessions on that address within [start − skew, stop + skew] give the account;
   sessions of two accounts there (a reassignment near ``t``) is an ambiguity, not a guess;
3. failing a session, a static allocation (CIDR) valid at ``t``;
4. a time read without its zone is resolved again as if it had been UTC: if the answer
   changes, the zone is in doubt and the result says so.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from qingling.detect.engines import Engine
from qingling.detect.resolve import schema

CONFIDENCE = {"stop": 1.0, "next_start": 0.9, "max_length": 0.7, "open": 0.8}
EDGE_CONFIDENCE = 0.6  # inside the skew margin only


@dataclass(frozen=True)
class ResolveConfig:
    skew_s: int = 120  # clock difference tolerated between the carrier and the observer
    max_session_s: int = 48 * 3600  # a session without Stop ends at most this long after start
    zone_shift_s: int = 8 * 3600  # Asia/Shanghai vs UTC, for times read without a zone

    def __post_init__(self) -> None:
        if self.skew_s < 0 or self.max_session_s <= 0:
            raise ValueError("skew_s must be ≥ 0 and max_session_s > 0")


def sessions_expr(ev: ibis.Table, cfg: ResolveConfig, data_end: ibis.Value) -> ibis.Table:
    """One row per (NAS, Acct-Session-Id). A session without Stop ends at the next Start on
    the same address, or ``max_session_s`` after its start, whichever is first; one still
    running at the end of the data is ``open``."""
    is_start = ev.status == "start"
    is_stop = ev.status == "stop"
    s = ev.group_by([ev.session_id, ev.nas_ip]).aggregate(
        account=ev.account.max(), ip=ev.ip.max(), first=ev.ts.min(),
        started=ev.ts.min(where=is_start), stopped=ev.ts.max(where=is_stop))
    s = s.filter(s.ip.notnull() & s.account.notnull())
    s = s.mutate(start=s.started.fill_null(s.first))
    w = ibis.window(group_by=s.ip, order_by=[s.start, s.session_id])
    nxt = s.start.lead().over(w)
    cap = s.start + ibis.interval(seconds=cfg.max_session_s)
    s = s.mutate(next_start=nxt, cap=cap)
    stop = ibis.cases(
        (s.stopped.notnull(), s.stopped),
        (s.next_start.notnull() & (s.next_start < s.cap), s.next_start),
        else_=s.cap,
    )
    closed_by = ibis.cases(
        (s.stopped.notnull(), "stop"),
        (s.next_start.notnull() & (s.next_start < s.cap), "next_start"),
        (s.cap < data_end, "max_length"),
        else_="open",
    )
    return s.select("account", "ip", "start", stop=stop, session_id=s.session_id,
                    nas_ip=s.nas_ip, closed_by=closed_by)


def build_sessions(events: pa.Table, engine: Engine, cfg: ResolveConfig | None = None) -> pa.Table:
    cfg = cfg or ResolveConfig()
    if events.num_rows == 0:
        return schema.SESSIONS.empty_table()
    end = pc.max(events["ts"]).as_py()
    ev = engine.table(events.cast(schema.EVENTS), "radius_events")
    out = engine.execute(sessions_expr(ev, cfg, ibis.literal(end, type="timestamp('UTC', 6)")))
    out = out.select(schema.SESSIONS.names).cast(schema.SESSIONS)
    return out.sort_by([("ip", "ascending"), ("start", "ascending"), ("session_id", "ascending")])


def _key(ip: str) -> tuple[int, int]:
    """(family, key): IPv4 as its 32-bit value; IPv6 as its upper 64 bits (static
    allocations to IPv6 customers are /64 or shorter), shifted into int64."""
    a = ipaddress.ip_address(ip)
    if a.version == 4:
        return 4, int(a)
    return 6, (int(a) >> 64) - 2**63


def static_ranges(static: pa.Table) -> pa.Table:
    rows = []
    for r in static.to_pylist():
        net = ipaddress.ip_network(r["network"], strict=False)
        if net.version == 4:
            lo, hi = int(net.network_address), int(net.broadcast_address)
        else:
            if net.prefixlen > 64:
                net = net.supernet(new_prefix=64)
            lo = (int(net.network_address) >> 64) - 2**63
            hi = (int(net.broadcast_address) >> 64) - 2**63
        rows.append({"family": net.version, "lo": lo, "hi": hi, "account": r["account"],
                     "kind": r["kind"] or "", "network": str(net),
                     "valid_from": r["valid_from"], "valid_to": r["valid_to"]})
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("family", pa.int64()), ("lo", pa.int64()), ("hi", pa.int64()), ("account", pa.string()),
        ("kind", pa.string()), ("network", pa.string()), ("valid_from", schema.TS),
        ("valid_to", schema.TS)]))


def _candidates(o: ibis.Table, s: ibis.Table, cg: ibis.Table, st: ibis.Table,
                cfg: ResolveConfig) -> ibis.Table:
    """Per observation: what CGNAT, RADIUS and static allocations say."""
    skew = ibis.interval(seconds=cfg.skew_s)
    pools = cg.select(pool_ip=cg.public_ip).distinct()
    o = o.left_join(pools, o.ip == pools.pool_ip).select(o, behind_cgnat=pools.pool_ip.notnull())
    m = o.filter(o.behind_cgnat & o.port.notnull())
    m = m.inner_join(cg, [m.ip == cg.public_ip, m.port >= cg.port_lo, m.port <= cg.port_hi,
                          cg.start - skew <= m.ts, m.ts <= cg.stop + skew])
    m = m.group_by(k_obs=m.obs_id.concat("")).aggregate(
        mappings=m.private_ip.nunique(), private_ip=m.private_ip.max(),
        mapping=(m.public_ip + ":" + m.port_lo.cast("string") + "-" + m.port_hi.cast("string")
                 + " → " + m.private_ip).max())
    # Side tables derive from ``o`` itself: their key is a computed copy, so the join cannot
    # confuse the two (Ibis would take the right-hand obs_id, null where nothing matched).
    o = o.left_join(m, o.obs_id == m.k_obs).select(
        o, mappings=m.mappings.fill_null(0), private_ip=m.private_ip, mapping=m.mapping)
    o = o.mutate(addr=ibis.ifelse(o.behind_cgnat, o.private_ip, o.ip))
    j = o.filter(o.addr.notnull())
    j = j.inner_join(s, [j.addr == s.ip, s.start - skew <= j.ts, j.ts <= s.stop + skew])
    inside = (j.start <= j.ts) & (j.ts <= j.stop)
    conf = ibis.cases(*[((j.closed_by == k), v) for k, v in CONFIDENCE.items()], else_=0.5)
    j = j.mutate(conf=ibis.ifelse(inside, conf, EDGE_CONFIDENCE), inside=inside.cast("int64"),
                 rec=(j.session_id + "@" + j.nas_ip.fill_null("?") + " " + j.closed_by))
    r = j.group_by(k_obs=j.obs_id.concat("")).aggregate(
        accounts=j.account.nunique(), account=j.account.max(), account_min=j.account.min(),
        confidence=j.conf.max(), inside=j.inside.max(), record=j.rec.max())
    o = o.left_join(r, o.obs_id == r.k_obs).select(
        o, accounts=r.accounts.fill_null(0), r_account=r.account, r_account_min=r.account_min,
        r_conf=r.confidence, r_inside=r.inside, r_record=r.record)
    q = o.filter((o.accounts == 0) & (o.family > 0))
    q = q.inner_join(st, [q.family == st.family, q.key >= st.lo, q.key <= st.hi,
                          st.valid_from.isnull() | (st.valid_from <= q.ts),
                          st.valid_to.isnull() | (q.ts <= st.valid_to)])
    sr = q.group_by(k_obs=q.obs_id.concat("")).aggregate(
        statics=q.account.nunique(), s_account=q.account.max(),
        s_record=(q.network + " " + q.kind).max())
    return o.left_join(sr, o.obs_id == sr.k_obs).select(
        o, statics=sr.statics.fill_null(0), s_account=sr.s_account, s_record=sr.s_record)


def resolve(observations: pa.Table, sessions: pa.Table, engine: Engine, *,
            cgnat: pa.Table | None = None, static: pa.Table | None = None,
            cfg: ResolveConfig | None = None) -> pa.Table:
    """One row per observation (schema.RESOLVED), in the order given."""
    cfg = cfg or ResolveConfig()
    obs = observations.cast(schema.OBSERVATIONS)
    if obs.num_rows and len(set(obs["obs_id"].to_pylist())) != obs.num_rows:
        raise ValueError("observation ids must be unique")
    keys = [_key(ip) if ip else (0, 0) for ip in obs["ip"].to_pylist()]
    o_tab = obs.append_column("family", pa.array([k[0] for k in keys], pa.int64())) \
               .append_column("key", pa.array([k[1] for k in keys], pa.int64()))
    cg_tab = (cgnat if cgnat is not None else schema.CGNAT.empty_table()).cast(schema.CGNAT)
    st_tab = static_ranges(static if static is not None else schema.STATIC.empty_table())
    s_tab = sessions.cast(schema.SESSIONS)

    def run(shift_s: int) -> pa.Table:
        o = engine.table(o_tab, "observations")
        if shift_s:
            o = o.mutate(ts=o.ts + ibis.interval(seconds=shift_s))
        expr = _candidates(o, engine.table(s_tab, "sessions"), engine.table(cg_tab, "cgnat"),
                           engine.table(st_tab, "static"), cfg)
        out = engine.execute(expr)
        return out.take(pc.sort_indices(out, [("obs_id", "ascending")]))

    base = run(0)
    doubt = pc.fill_null(base["tz_assumed"], False)
    alt = run(cfg.zone_shift_s) if pc.any(doubt).as_py() else None
    return _decide(obs, base, alt, cfg)


def _decide(obs: pa.Table, c: pa.Table, alt: pa.Table | None, cfg: ResolveConfig) -> pa.Table:
    rows = {r["obs_id"]: r for r in c.to_pylist()}
    alt_rows = {r["obs_id"]: r for r in alt.to_pylist()} if alt is not None else {}
    out = []
    for o in obs.to_pylist():
        r = rows[o["obs_id"]]
        status, account, via, conf, n, reason, record = _one(r, cfg)
        if o["tz_assumed"] and status == "resolved":
            a = _one(alt_rows[o["obs_id"]], cfg)
            if a[1] != account:
                reason = (f"the time had no zone: read as Asia/Shanghai it is {account} "
                          f"({record}), read as UTC it is {a[1] or 'nobody'}; give the zone")
                status, account, conf, record = "ambiguous", None, None, None
        out.append({"obs_id": o["obs_id"], "ip": o["ip"], "port": o["port"], "ts": o["ts"],
                    "status": status, "account": account, "via": via, "confidence": conf,
                    "candidates": n, "reason": reason, "record": record})
    return pa.Table.from_pylist(out, schema=schema.RESOLVED)


def _one(r: dict, cfg: ResolveConfig) -> tuple:  # type: ignore[type-arg]
    """(status, account, via, confidence, candidates, reason, record) for one observation."""
    via = "cgnat+radius" if r["behind_cgnat"] else "radius"
    if r["behind_cgnat"]:
        if r["port"] is None:
            return ("ambiguous", None, "cgnat", None, 0,
                    f"{r['ip']} is a CGNAT public address: the source port is needed", None)
        if r["mappings"] == 0:
            return ("unresolved", None, "cgnat", None, 0,
                    f"no CGNAT translation of {r['ip']}:{r['port']} at that time", None)
        if r["mappings"] > 1:
            return ("ambiguous", None, "cgnat", None, r["mappings"],
                    f"{r['mappings']} CGNAT translations match {r['ip']}:{r['port']}", None)
    n = r["accounts"]
    if n == 1:
        edge = "" if r["r_inside"] else f" (within {cfg.skew_s} s of the session's edge)"
        rec = r["r_record"] if not r["behind_cgnat"] else f"{r['mapping']}; {r['r_record']}"
        return ("resolved", r["r_account"], via, round(r["r_conf"], 2), 1,
                f"RADIUS session {r['r_record']}{edge}", rec)
    if n > 1:
        return ("ambiguous", None, via, None, n,
                f"sessions of {n} accounts ({r['r_account_min']} … {r['r_account']}) cover this "
                f"time within ±{cfg.skew_s} s: the address was reassigned", None)
    if r["statics"] == 1:
        return ("resolved", r["s_account"], "static", 0.8, 1,
                f"static allocation {r['s_record']}", r["s_record"])
    if r["statics"] > 1:
        return ("ambiguous", None, "static", None, r["statics"],
                f"{r['statics']} static allocations overlap", None)
    addr = r["private_ip"] or r["ip"]
    return ("unresolved", None, None, None, 0,
            f"no RADIUS session or static allocation holds {addr} at that time", None)


