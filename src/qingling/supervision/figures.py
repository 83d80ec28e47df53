"""The week's numbers: one computation behind the weekly close, the bulletin, its annex and
the dashboard, so that they cannot disagree.

Definitions (per county, and summed for the city):
- key received: key-list obligations that fall due in the week (a case's ``due_at`` is the
  cut-off of the week it was first listed, or reopened), excluding items verified as not
  mining; on time: cleared by their cut-off; late: cleared after it, by the close;
  rate = on time / received;
- key overdue (周清周结): every open key-list item past its due date at the close, whatever
  week it was listed in, with how many weeks overdue; an overdue item stays on the books
  until it is cleared;
- stock: open cases on the stock list at the close, against the previous close (只减不增:
  any increase flags the county); high (居高不下): no fall over the last
  ``QINGLING_STOCK_HIGH_CLOSES`` closes, or above the county's threshold;
- rebounds: cases reopened in the week (re-listed after clearance, or reopened by the city);
- new cases: cases created in the week; machines seized: from the week's site visits;
- energy: confirmed sites (see ``energy.py``), doubled by the rule in force, converted with
  the coefficients in force.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Min, Q, Sum

from qingling.audit.models import AuditEntry
from qingling.cases.identity import cutoff_of
from qingling.cases.models import OPEN_STATES, Case, SiteVisit, State
from qingling.common.weeks import SHANGHAI, IsoWeek
from qingling.geo.models import Division
from qingling.makers.services import rectified_by_county
from qingling.supervision import energy, tariff
from qingling.supervision.models import (
    CountyWorkGroup,
    DoublingRule,
    EnergyFactor,
    TariffAccount,
    WeeklyClose,
)
from qingling.supervision.projects import project_rows
from qingling.tasks.selectors import department_table, overdue_tasks

__all__ = ["compute", "counties", "cutoff_of", "site_energy", "trend"]

CONFIRMED_STATES = (State.CONFIRMED, State.RECTIFYING, State.CLEARANCE_REQUESTED, State.CLEARED)
COUNTS = ("key_received", "key_on_time", "key_late", "key_overdue", "key_excluded",
          "stock_open", "rebounds", "new_cases", "machines_seized")
PUBLIC_SECTOR = ("party_gov", "state_owned", "school", "public_inst")


def counties() -> list[Division]:
    return list(Division.objects.filter(parent__code=settings.QINGLING_CITY_CODE,
                                        level="county").order_by("code"))


def _rate(on_time: int, received: int) -> float | None:
    return round(on_time / received, 4) if received else None


def local(moment: datetime) -> str:
    """How a moment is printed everywhere: Beijing time, to the minute."""
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def weeks_between(earlier: IsoWeek, later: IsoWeek) -> int:
    return (later.monday() - earlier.monday()).days // 7


def site_energy(cases: list[Case], until: datetime, rule: energy.Rule | None,
                named: set[str], year: int) -> list[energy.SiteEnergy]:
    """Energy of confirmed sites up to ``until``: metered cycles where the grid supplied
    them, else kW × hours from the earliest evidence of mining to the power cut (or
    ``until``); a site with neither is listed with basis "none"."""
    ids = [c.pk for c in cases]
    visits = (SiteVisit.objects.filter(case_id__in=ids, found_mining=True, visited_at__lte=until)
              .values("case_id").annotate(kw=Max("power_kw"), first=Min("visited_at")))
    kw = {v["case_id"]: v["kw"] for v in visits}
    first_visit = {v["case_id"]: v["first"] for v in visits}
    cuts = (SiteVisit.objects.filter(case_id__in=ids, power_cut=True, visited_at__lte=until)
            .values("case_id").annotate(at=Min("visited_at")))
    cut = {v["case_id"]: v["at"] for v in cuts}
    metered: dict[int, Decimal] = defaultdict(Decimal)
    has_meter: set[int] = set()
    for acct in TariffAccount.objects.filter(case_id__in=ids).prefetch_related("cycles"):
        for cy in acct.cycles.all():
            has_meter.add(acct.case_id)
            stop = min(acct.mining_to, until.date()) if acct.mining_to else until.date()
            metered[acct.case_id] += tariff.mining_kwh(cy.start, cy.end, cy.kwh,
                                                       acct.mining_from, stop)
    out = []
    for c in cases:
        code = c.county.code if c.county else ""
        new = (not c.on_stock_list) and c.first_week[:4] == str(year)
        dbl = energy.doubled(rule, new_project=new, county_named=code in named)
        start = c.first_evidence_at or first_visit.get(c.pk)
        if c.pk in has_meter:
            out.append(energy.SiteEnergy(c.pk, code, metered[c.pk].quantize(energy.KWH),
                                         "metered", new, dbl))
        elif kw.get(c.pk) and start is not None and start < min(cut.get(c.pk) or until, until):
            stop = min(cut.get(c.pk) or until, until)
            out.append(energy.SiteEnergy(c.pk, code, energy.estimated_kwh(kw[c.pk], start, stop),
                                         "estimated", new, dbl, start, stop))
        else:
            # No power recorded, or no time known between the first evidence and the cut:
            # listed as having no estimate rather than counted as 0.
            out.append(energy.SiteEnergy(c.pk, code, Decimal("0.00"), "none", new, dbl))
    return out


def factors() -> list[energy.Factor]:
    return [energy.Factor(f.valid_from, f.tce_per_kwh, f.tco2_per_kwh, f.source)
            for f in EnergyFactor.objects.all()]


def doubling_rules() -> list[energy.Rule]:
    return [energy.Rule(r.valid_from, r.rule, r.source) for r in DoublingRule.objects.all()]


def _stock_history(week: IsoWeek, n: int) -> list[dict[str, int]]:
    """Open stock per county at the last ``n`` final closes before ``week`` (oldest first)."""
    closes = WeeklyClose.objects.filter(final=True, week__lt=str(week)).order_by("-week")[:n]
    return [{r["code"]: r["stock_open"] for r in c.figures["counties"]} for c in closes][::-1]


def _stock_high(code: str, now_open: int, history: list[dict[str, int]], closes: int,
                threshold: int | None) -> bool:
    """居高不下: above the county's threshold, or not fallen once over the last ``closes``
    closes (this one included) while there is stock at all."""
    if threshold is not None and now_open > threshold:
        return True
    series = [h[code] for h in history if code in h] + [now_open]
    if now_open == 0 or len(series) < closes + 1:
        return False
    tail = series[-(closes + 1):]
    return all(b >= a for a, b in itertools.pairwise(tail))


def compute(week: IsoWeek, now: datetime) -> dict[str, Any]:
    """The figures of ``week`` as they stand at ``now`` (JSON-ready)."""
    start, cutoff = week.start(), cutoff_of(week)
    end = start + timedelta(days=7)
    divisions = counties()
    per: dict[str, dict[str, Any]] = {d.code: {k: 0 for k in COUNTS} for d in divisions}
    names = {d.code: d.name for d in divisions}
    by_week: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def bump(code: str | None, key: str, n: int = 1) -> None:
        per.setdefault(code or "", {k: 0 for k in COUNTS})[key] += n

    for c in (Case.objects.filter(on_key_list=True, due_at__gte=start, due_at__lt=end)
              .select_related("county")):
        code = c.county.code if c.county else ""
        if c.state == State.EXCLUDED:
            bump(code, "key_excluded")
            continue
        bump(code, "key_received")
        assert c.due_at is not None
        if c.state == State.CLEARED and c.cleared_at and c.cleared_at <= c.due_at:
            bump(code, "key_on_time")
        elif c.state == State.CLEARED and c.cleared_at and c.cleared_at <= now:
            bump(code, "key_late")
    # 周清周结: every open key-list item past its due date, whatever week listed it.
    overdue_items = []
    overdue_q = (Case.objects.filter(on_key_list=True, state__in=OPEN_STATES,
                                     due_at__lt=min(now, end))
                 .select_related("county", "lead_department").order_by("due_at", "id"))
    for c in overdue_q:
        assert c.due_at is not None
        code = c.county.code if c.county else ""
        due_week = IsoWeek.of(c.due_at)
        bump(code, "key_overdue")
        by_week[code][str(due_week)] += 1
        overdue_items.append({
            "case": c.pk, "ref": c.reference, "county": code, "ip": c.ip_summary,
            "state": c.state, "due": c.due_at.isoformat(), "due_local": local(c.due_at),
            "week_due": str(due_week), "weeks_overdue": weeks_between(due_week, week),
            # Only a public-sector unit's name is kept (its principal is interviewed); a
            # person's name never enters the frozen figures.
            "subject": c.subject_name if c.subject_type in PUBLIC_SECTOR else "",
            "subject_type": c.subject_type,
            "department": c.lead_department.name if c.lead_department else "",
            "department_id": c.lead_department_id,
        })
    for r in (Case.objects.filter(on_stock_list=True, state__in=OPEN_STATES)
              .values("county__code").annotate(n=Count("id"))):
        bump(r["county__code"], "stock_open", r["n"])
    rebound_q = AuditEntry.objects.filter(
        Q(action="rebound") | Q(action="reopen"), at__gte=start, at__lte=now, case__isnull=False)
    for r in rebound_q.values("case__county__code").annotate(n=Count("id")):
        bump(r["case__county__code"], "rebounds", r["n"])
    for r in (Case.objects.filter(created_at__gte=start, created_at__lt=min(end, now))
              .values("county__code").annotate(n=Count("id"))):
        bump(r["county__code"], "new_cases", r["n"])
    for r in (SiteVisit.objects.filter(visited_at__gte=start, visited_at__lt=min(end, now))
              .values("case__county__code").annotate(n=Sum("machines_seized"))):
        bump(r["case__county__code"], "machines_seized", r["n"] or 0)

    previous = WeeklyClose.objects.filter(week=str(week.shift(-1)), final=True).first()
    prev_stock = ({c["code"]: c["stock_open"] for c in previous.figures["counties"]}
                  if previous else {})
    high_closes = settings.QINGLING_STOCK_HIGH_CLOSES
    history = _stock_history(week, high_closes)
    thresholds = dict(CountyWorkGroup.objects.filter(stock_threshold__isnull=False)
                      .values_list("county__code", "stock_threshold"))
    order = [d.code for d in divisions] + [c for c in per if c not in names]
    stock: dict[str, dict[str, Any]] = {}
    for code in order:
        p, prev = per[code], prev_stock.get(code)
        stock[code] = {
            "stock_prev": prev, "stock_delta": None if prev is None else p["stock_open"] - prev,
            "stock_rose": prev is not None and p["stock_open"] > prev,
            "stock_high": bool(code) and _stock_high(code, p["stock_open"], history,
                                                     high_closes, thresholds.get(code)),
        }
    named = {c for c, s in stock.items() if c and (s["stock_rose"] or s["stock_high"])}

    rule = energy.rule_on(doubling_rules(), cutoff.date())
    confirmed = list(Case.objects.filter(state__in=CONFIRMED_STATES, created_at__lte=now)
                     .select_related("county", "township").order_by("county__code", "id"))
    sites = site_energy(confirmed, min(now, end), rule, named, week.year)
    kw_by: dict[str, Decimal] = defaultdict(Decimal)
    kw_rows = (SiteVisit.objects.filter(case__state__in=CONFIRMED_STATES, found_mining=True,
                                        power_cut=False, case__cleared_at__isnull=True)
               .values("case_id", "case__county__code").annotate(kw=Max("power_kw")))
    for r in kw_rows:
        kw_by[r["case__county__code"] or ""] += r["kw"] or Decimal(0)
    fs = factors()
    factor = energy.factor_on(fs, cutoff.date()) if fs else None
    e_rows, e_total = (energy.county_energy(sites, factor, order) if factor
                       else ([energy.EnergyRow(c) for c in order], energy.EnergyRow("")))
    e_by = {r.county: r for r in e_rows}

    def energy_fields(e: energy.EnergyRow) -> dict[str, Any]:
        return {"energy_sites": e.sites, "new_projects": e.new_projects,
                "doubled_sites": e.doubled_sites, "no_estimate": e.no_estimate,
                "kwh": str(e.kwh), "counted_kwh": str(e.counted_kwh), "tce": str(e.tce),
                "tco2": str(e.tco2)}

    rows = []
    for code in order:
        p = per[code]
        rows.append({
            "code": code, "name": names.get(code, ""), **p,
            "on_time_rate": _rate(p["key_on_time"], p["key_received"]), **stock[code],
            "key_overdue_by_week": dict(sorted(by_week[code].items())),
            "running_kw": str(kw_by.get(code, Decimal(0))),
            **energy_fields(e_by.get(code) or energy.EnergyRow(code)),
        })
    city: dict[str, Any] = {k: sum(r[k] for r in rows) for k in COUNTS}
    prev_total = sum(prev_stock.values()) if previous else None
    city_by_week: dict[str, int] = defaultdict(int)
    for r in rows:
        for w, n in r["key_overdue_by_week"].items():
            city_by_week[w] += n
    city.update({
        "code": settings.QINGLING_CITY_CODE, "name": "",
        "on_time_rate": _rate(city["key_on_time"], city["key_received"]),
        "stock_prev": prev_total,
        "stock_delta": None if prev_total is None else city["stock_open"] - prev_total,
        "stock_rose": prev_total is not None and city["stock_open"] > prev_total,
        "stock_high": False,
        "key_overdue_by_week": dict(sorted(city_by_week.items())),
        "running_kw": str(sum((Decimal(r["running_kw"]) for r in rows), Decimal(0))),
        **energy_fields(e_total),
    })
    seen = min(now, end)
    return {
        "department_tasks": department_table(start, end, now),
        "makers": _makers(divisions),
        # 项目清单: one row per confirmed site, its energy the very figure counted above.
        "projects": project_rows(confirmed, sites, min(now, end)),
        # Overdue member-unit tasks at the close: their department's principal is proposed
        # for 约谈. Cases by reference only; no personal data enters the frozen figures.
        "overdue_tasks": [{
            "task": t.pk, "case": t.case_id, "ref": t.case.reference,
            "county": t.case.county.code if t.case.county else "",
            "department": t.department.code, "department_name": t.department.name,
            "kind": t.kind.name, "due_local": local(t.due_at),
            "weeks_overdue": weeks_between(IsoWeek.of(t.due_at), week)}
            for t in overdue_tasks(seen)],
        "week": str(week), "start": start.isoformat(), "cutoff": cutoff.isoformat(),
        "cutoff_local": local(cutoff), "computed_at": now.isoformat(), "counties": rows,
        "city": city, "overdue_items": overdue_items,
        "sites": [{"case": s.case_id, "county": s.county, "kwh": str(s.kwh), "basis": s.basis,
                   "new_project": s.new_project, "doubled": s.doubled,
                   "since": local(s.since) if s.since else "",
                   "until": local(s.until) if s.until else "",
                   "counted_kwh": str(s.counted_kwh)}
                  for s in sites],
        "factor": None if factor is None else {
            "valid_from": factor.valid_from.isoformat(), "tce_per_kwh": str(factor.tce_per_kwh),
            "tco2_per_kwh": str(factor.tco2_per_kwh), "source": factor.source},
        "doubling": None if rule is None else {
            "valid_from": rule.valid_from.isoformat(), "rule": rule.rule, "source": rule.source},
        "metric": settings.QINGLING_ASSESSMENT_METRIC,
    }


def _makers(divisions: list[Division]) -> list[dict[str, Any]]:
    """涉矿生产设备有关企业整改到位 per county with makers (target 100%), then the city."""
    per = rectified_by_county()
    rows = [{"code": d.code, "name": d.name, **per[d.code]} for d in divisions if d.code in per]
    if rows:
        makers, done = sum(r["makers"] for r in rows), sum(r["rectified"] for r in rows)
        rows.append({"code": settings.QINGLING_CITY_CODE, "name": "", "makers": makers,
                     "rectified": done, "rate": _rate(done, makers)})
    return rows


def trend(weeks: int = 8, until: str | None = None) -> list[dict[str, Any]]:
    """Stock and on-time rate per county over the last final closes up to ``until``
    (oldest first)."""
    qs = WeeklyClose.objects.filter(final=True)
    if until:
        qs = qs.filter(week__lte=until)
    closes = list(qs.order_by("-week")[:weeks])[::-1]
    return [{"week": c.week, "counties": {r["code"]: {"stock_open": r["stock_open"],
                                                        "on_time_rate": r["on_time_rate"]}
                                          for r in c.figures["counties"]},
             "city": {"stock_open": c.figures["city"]["stock_open"],
                      "on_time_rate": c.figures["city"]["on_time_rate"]}}
            for c in closes]


def week_projects(week: IsoWeek, now: datetime) -> tuple[list[dict[str, Any]], WeeklyClose | None]:
    """A week's list: frozen in its close if it was closed (final or draft), else as it
    stands now (the same computation the close would freeze)."""
    close = WeeklyClose.objects.filter(week=str(week)).first()
    if close is not None and "projects" in close.figures:
        return close.figures["projects"], close
    return compute(week, now)["projects"], None
