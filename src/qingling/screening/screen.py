"""Screening runs: the detection engines' verdicts, resolved to subscribers, become signals
on cases (监测发现) for the city coordinator to confirm before dispatch.

One case per subject: a resolved account's site, else the address seen. A signal on a
cleared case within the rebound watch (default 8 weeks) reopens it as 反弹; later, it opens
a new case linked to the old one. The same inputs are screened once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from django.db import transaction

from qingling.audit.services import audit_record
from qingling.cases.identity import SubjectFacts, is_credit_code, key_of, keys_record, signal_attach
from qingling.cases.models import Case
from qingling.cases.warning import WarningList
from qingling.common.weeks import SHANGHAI
from qingling.screening.models import ScreeningRun, Signal, Subscriber
from qingling.screening.triage import excluded_for_screening


@dataclass
class ScreenSummary:
    run: int
    duplicate: bool = False
    flagged: int = 0
    resolution: dict[str, int] = field(default_factory=dict)
    cases_created: int = 0
    cases_updated: int = 0
    rebounds: int = 0
    new_after_watch: int = 0
    signals: int = 0


def _finish(run: ScreeningRun, summary: Any, action: str, actor: Any, now: datetime) -> None:
    """Keep the run's figures with it and in the audit log."""
    run.stats = {k: v for k, v in summary.__dict__.items() if k not in ("run", "duplicate")}
    run.save(update_fields=["stats"])
    audit_record(actor=actor, action=action, obj=run, at=now, data=run.stats)


def input_digest(blobs: list[bytes]) -> str:
    h = hashlib.sha256()
    for b in sorted(hashlib.sha256(x).digest() for x in blobs):
        h.update(b)
    return h.hexdigest()


def screen_network(*, flows: pa.Table, digest: str, names: list[str], sessions: pa.Table,
                   cgnat: pa.Table | None = None, static: pa.Table | None = None,
                   actor: Any = None, now: datetime, engine_name: str = "duckdb") -> ScreenSummary:
    done = ScreeningRun.objects.filter(kind=ScreeningRun.Kind.NETWORK, input_sha256=digest).first()
    if done is not None:
        return ScreenSummary(run=done.pk, duplicate=True)
    from qingling.detect.engines import connect
    from qingling.detect.network.config import NetworkConfig
    from qingling.detect.network.engine import detect_network
    from qingling.detect.resolve import schema
    from qingling.detect.resolve.engine import resolve

    engine = connect(engine_name)
    warnings = WarningList.load()
    # What the city excluded at triage is known benign: its flow shape is no lead any more.
    cfg = NetworkConfig(shared_egress=tuple(warnings.addresses()),
                        excluded=excluded_for_screening())
    pairs = detect_network(flows, engine, cfg=cfg).pairs
    flagged = pairs.filter(pc.and_(pc.not_equal(pairs["verdict"], "clean"),
                                   pc.not_equal(pairs["label"], "node"))).to_pylist()
    # Behind CGNAT the source port names the subscriber: each flagged pair is observed at
    # its lowest and highest source port; both must give the same account.
    ports = _port_range(flows, flagged)
    rows = []
    for r in flagged:
        key = f"{r['src_ip']}|{r['dst_ip']}|{r['dst_port']}|{r['proto']}"
        lo, hi = ports.get(key, (None, None))
        for end, port in (("lo", lo), ("hi", hi)):
            rows.append({"obs_id": f"{key}|{end}", "ip": r["src_ip"], "port": port,
                         "ts": r["first_seen"], "tz_assumed": False})
    obs = pa.Table.from_pylist(rows, schema=schema.OBSERVATIONS)
    both = {r["obs_id"]: r for r in resolve(obs, sessions, engine, cgnat=cgnat,
                                            static=static).to_pylist()}
    res = {}
    for r in flagged:
        key = f"{r['src_ip']}|{r['dst_ip']}|{r['dst_port']}|{r['proto']}"
        a, b = both[f"{key}|lo"], both[f"{key}|hi"]
        if a["status"] == "resolved" and (b["status"], b["account"]) != ("resolved", a["account"]):
            a = {**a, "status": "ambiguous", "account": None, "confidence": None,
                 "reason": f"source ports {a['port']}–{b['port']} belong to different "
                           f"subscribers ({a['account']}, {b['account'] or b['status']})"}
        res[key] = a
    s = ScreenSummary(run=0, flagged=len(flagged))
    for r in res.values():
        s.resolution[r["status"]] = s.resolution.get(r["status"], 0) + 1
    with transaction.atomic():
        run = ScreeningRun.objects.create(kind=ScreeningRun.Kind.NETWORK, input_sha256=digest,
                                          inputs=names, created_at=now)
        s.run = run.pk
        for r in flagged:
            key = f"{r['src_ip']}|{r['dst_ip']}|{r['dst_port']}|{r['proto']}"
            x = res[key]
            sub = (Subscriber.objects.filter(account=x["account"]).select_related("county")
                   .first() if x["status"] == "resolved" else None)
            hit = warnings.hit(r["src_ip"])
            case, change = signal_attach(facts_of(sub, x["account"], r["src_ip"]), now=now,
                                         actor=actor, reason="网络监测（证据见监测信号）",
                                         observed_at=r["first_seen"],
                                         shared=hit.name if hit else None)
            if change == "created":
                s.cases_created += 1
            elif change == "rebound":
                s.rebounds += 1
            elif change == "new_after_watch":
                s.new_after_watch += 1
            else:
                s.cases_updated += 1
            _, made = Signal.objects.get_or_create(
                key=f"network:{key}:{r['first_seen'].isoformat()}",
                defaults={"case": case, "subscriber": sub, "run": run,
                          "kind": Signal.Kind.NETWORK, "observed_at": r["first_seen"],
                          "confidence": r["score"],
                          "summary": (f"{r['verdict']} {r['score']:.2f} → {r['dst_ip']}:"
                                      f"{r['dst_port']}; {r['evidence']}")[:500],
                          "payload": {"pair": key, "verdict": r["verdict"], "score": r["score"],
                                      "shared_egress": hit.name if hit else None,
                                      "layers": r["layers"], "evidence": r["evidence"],
                                      "resolution": {k: x[k] for k in (
                                          "status", "account", "via", "confidence", "reason",
                                          "record")}}})
            s.signals += made
        _finish(run, s, "screen_network", actor, now)
    return s


def _port_range(flows: pa.Table, flagged: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """Lowest and highest source port of each flagged pair (few pairs; Arrow only)."""
    if not flagged or "src_port" not in flows.column_names:
        return {}
    hosts = pa.array(sorted({r["src_ip"] for r in flagged}), pa.string())
    sub = flows.filter(pc.is_in(flows["src_ip"], value_set=hosts)).select(
        ["src_ip", "dst_ip", "dst_port", "proto", "src_port"])
    sub = sub.filter(pc.is_valid(sub["src_port"]))
    agg = sub.group_by(["src_ip", "dst_ip", "dst_port", "proto"]).aggregate(
        [("src_port", "min"), ("src_port", "max")])
    return {f"{r['src_ip']}|{r['dst_ip']}|{r['dst_port']}|{r['proto']}":
            (r["src_port_min"], r["src_port_max"]) for r in agg.to_pylist()}


def facts_of(sub: Subscriber | None, account: str | None, ip: str) -> SubjectFacts:
    """Who a network signal points at: the resolved account's holder and site, else the IP."""
    if sub is None:
        return SubjectFacts(account=account or "", ip=ip)
    # A holder with a credit code is a unit, whose name identifies it; a person's does not.
    unit = is_credit_code(sub.id_number.strip().upper())
    return SubjectFacts(account=account or sub.account, id_number=sub.id_number,
                        address=sub.address, unit_name=sub.name, residential=not unit,
                        phone=sub.phone, county_id=sub.county_id, township_id=sub.township_id,
                        carrier=sub.carrier, ip=ip, listed_type=sub.kind)


@dataclass
class ListResolution:
    run: int
    duplicate: bool = False
    appearances: int = 0
    resolution: dict[str, int] = field(default_factory=dict)
    placed: int = 0  # cases that had no county and now have the subscriber's
    conflicts: int = 0  # the subscriber's county differs from the list's: left for the city
    signals: int = 0


def resolve_lists(*, week: str, digest: str, names: list[str], sessions: pa.Table,
                  cgnat: pa.Table | None = None, static: pa.Table | None = None,
                  actor: Any = None, now: datetime, engine_name: str = "duckdb") -> ListResolution:
    """Resolve the addresses a week's lists name, at the time each was observed, to their
    subscribers. A case the list could not place (no county) takes the subscriber's county
    and site and waits for the city to dispatch it; a case whose list county disagrees keeps
    it, and the signal says so. The same week with the same carrier files runs once."""
    from qingling.detect.engines import connect
    from qingling.detect.resolve import schema
    from qingling.detect.resolve.engine import resolve
    from qingling.intake.models import Appearance

    done = ScreeningRun.objects.filter(kind=ScreeningRun.Kind.LISTS, input_sha256=digest).first()
    if done is not None:
        return ListResolution(run=done.pk, duplicate=True)
    apps = list(Appearance.objects.filter(batch__week=week, observed_at__isnull=False,
                                          ip__is_range=False)
                .select_related("ip", "case", "batch"))
    obs = pa.Table.from_pylist([{"obs_id": str(a.pk), "ip": a.ip.value, "port": None,
                                 "ts": a.observed_at, "tz_assumed": False} for a in apps],
                               schema=schema.OBSERVATIONS)
    engine = connect(engine_name)
    res = {r["obs_id"]: r for r in resolve(obs, sessions, engine, cgnat=cgnat,
                                           static=static).to_pylist()}
    out = ListResolution(run=0, appearances=len(apps))
    with transaction.atomic():
        run = ScreeningRun.objects.create(kind=ScreeningRun.Kind.LISTS, input_sha256=digest,
                                          inputs=names, created_at=now)
        out.run = run.pk
        for a in apps:
            x = res[str(a.pk)]
            out.resolution[x["status"]] = out.resolution.get(x["status"], 0) + 1
            sub = (Subscriber.objects.filter(account=x["account"]).first()
                   if x["status"] == "resolved" else None)
            case = a.case
            note = ""
            if sub is not None:
                # The list's case is now known by the account too: later network signals
                # from the same subscriber join it.
                keys_record([(case.pk, key_of("account", sub.account))])
            if sub is not None and sub.county_id is not None:
                if case.county_id is None:
                    Case.objects.filter(pk=case.pk, county__isnull=True).update(
                        county_id=sub.county_id, township_id=sub.township_id,
                        subject_name=case.subject_name or sub.name[:200],
                        address=case.address or sub.address[:300], updated_at=now)
                    audit_record(actor=actor, action="resolve_subscriber", obj=case, case=case,
                                 at=now, comment=f"运营商记录定位：账号 {sub.account}",
                                 data={"account": sub.account, "county": sub.county_id,
                                       "resolution": {k: x[k] for k in ("via", "record")}})
                    out.placed += 1
                elif case.county_id != sub.county_id:
                    note = "county_differs"  # explain.NOTES words it
                    out.conflicts += 1
            _, made = Signal.objects.get_or_create(
                key=f"list:{a.pk}",
                defaults={"case": case, "subscriber": sub, "run": run, "kind": Signal.Kind.LIST,
                          "observed_at": a.observed_at, "confidence": x["confidence"] or 0.0,
                          "summary": (f"{a.batch.get_list_type_display()} {week}: {a.ip.value} → "
                                      f"{x['account'] or x['status']}"
                                      f"{'（' + note + '）' if note else ''}")[:500],
                          "payload": {"appearance": a.pk, "note": note,
                                      "list_type": a.batch.list_type, "week": week,
                                      "ip": a.ip.value, "account": x["account"],
                                      "resolution": {k: x[k] for k in (
                                          "status", "account", "via", "confidence", "reason",
                                          "record")}}})
            out.signals += made
        _finish(run, out, "resolve_lists", actor, now)
    return out


REGISTER_ALIASES = {
    "meter_id": ("meter_id", "表号", "电表号", "计量点"),
    "holder": ("holder", "account_holder", "户名", "用户名称"),
    "address": ("address", "用电地址", "地址"),
    "category": ("category", "用电类别", "类别"),
    "account": ("account", "户号"),
    "contract_kva": ("contract_kva", "合同容量", "运行容量"),
    "transformer_area": ("transformer_area", "台区", "台区名称"),
    "industry": ("industry", "行业", "行业分类"),
}
# What the electricity screen itself reads from the register.
SCREEN_FIELDS = ("meter_id", "category", "contract_kva", "transformer_area", "industry",
                 "address")


def _register_rows(register: pa.Table | None) -> dict[str, dict[str, str]]:
    if register is None:
        return {}
    cols = {}
    for f, names in REGISTER_ALIASES.items():
        for c in register.column_names:
            if c.strip().lower() in names:
                cols[f] = c
                break
    if "meter_id" not in cols:
        raise ValueError("the meter register has no meter_id (表号) column")
    out = {}
    for r in register.to_pylist():
        out[str(r[cols["meter_id"]])] = {f: ("" if r[c] is None else str(r[c]))
                                          for f, c in cols.items()}
    return out


def screen_power(*, readings: Any, register: pa.Table | None, digest: str, names: list[str],
                 actor: Any = None, now: datetime, engine_name: str = "duckdb") -> ScreenSummary:
    """Electricity leads (verdict ``suspect``) become cases (监测发现) on the meter's site,
    placed in the city from the register's address; the ranked lead, its kW and unit count
    and its reasons are the signal."""
    from qingling.detect.engines import connect
    from qingling.detect.power.engine import detect_power
    from qingling.geo.address import locate_many

    done = ScreeningRun.objects.filter(kind=ScreeningRun.Kind.POWER, input_sha256=digest).first()
    if done is not None:
        return ScreenSummary(run=done.pk, duplicate=True)
    reg = _register_rows(register)
    context = None
    if reg:
        context = pa.table({f: [row.get(f) or None for row in reg.values()]
                            for f in SCREEN_FIELDS})
    ranked = detect_power(readings, connect(engine_name), register=context).ranked
    leads = ranked.filter(pc.equal(ranked["verdict"], "suspect")).to_pylist()
    places = locate_many([reg.get(r["meter_id"], {}).get("address", "") for r in leads])
    s = ScreenSummary(run=0, flagged=len(leads))
    with transaction.atomic():
        run = ScreeningRun.objects.create(kind=ScreeningRun.Kind.POWER, input_sha256=digest,
                                          inputs=names, created_at=now)
        s.run = run.pk
        for r, place in zip(leads, places, strict=True):
            info = reg.get(r["meter_id"], {})
            onset = r["onset"]
            observed = (datetime.combine(onset, datetime.min.time(), tzinfo=SHANGHAI)
                        if onset else now)
            facts = SubjectFacts(meter_id=str(r["meter_id"]), unit_name=info.get("holder", ""),
                                 residential=True, address=info.get("address", ""),
                                 county_id=place.county_id, township_id=place.township_id)
            case, change = signal_attach(facts, now=now, actor=actor, observed_at=observed,
                                         reason=f"异常用电：{r['reasons']}")
            key = {"created": "cases_created", "rebound": "rebounds",
                   "new_after_watch": "new_after_watch"}.get(change, "cases_updated")
            setattr(s, key, getattr(s, key) + 1)
            _, made = Signal.objects.get_or_create(
                key=f"power:{r['meter_id']}:{digest[:16]}",
                defaults={"case": case, "run": run, "kind": Signal.Kind.POWER,
                          "observed_at": observed, "confidence": r["score"],
                          "summary": (f"电表 {r['meter_id']} 排名第 {r['rank']}："
                                      f"{r['reasons']}")[:500],
                          "payload": {k: (str(v) if k == "onset" and v else v) for k, v in r.items()
                                      if k in ("meter_id", "rank", "score", "est_kw", "est_units",
                                               "device", "onset", "reasons", "base_kw",
                                               "daily_kwh")}
                          | {"address_triage": place.reason, "category": info.get("category")}})
            s.signals += made
        _finish(run, s, "screen_power", actor, now)
    return s
