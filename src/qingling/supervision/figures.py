"""The week's numbers: one computation behind the weekly close, the bulletin, its annex and
the dashboard, so that they cannot disagree.

Definitions (per county, and summed for the city):
- key received: key-list obligations that fall due in the week (a case's ``due_at`` is the
  cut-off of the latest week it was listed), excluding items verified as not mining;
- on time: cleared by their cut-off; late: cleared after it, by the close; overdue: still
  open at the close; rate = on time / received;
- stock: open cases on the stock list at the close, against the previous close (只减不增:
  any increase flags the county);
- rebounds: cases reopened in the week (re-listed after clearance, or reopened by the city);
- new cases: cases created in the week; machines seized: from the week's site visits;
- energy: confirmed sites (see ``energy.py``), converted with the coefficients in force.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Min, Q, Sum

from qingling.audit.models import AuditEntry
from qingling.cases.models import OPEN_STATES, Case, SiteVisit, State
from qingling.common.weeks import IsoWeek
from qingling.geo.models import Division
from qingling.supervision import energy, tariff
from qingling.supervision.models import EnergyFactor, TariffAccount, WeeklyClose

CONFIRMED_STATES = (State.CONFIRMED, State.RECTIFYING, State.CLEARANCE_REQUESTED, State.CLEARED)
COUNTS = ("key_received", "key_on_time", "key_late", "key_overdue", "key_excluded",
          "stock_open", "rebounds", "new_cases", "machines_seized")


def cutoff_of(week: IsoWeek) -> datetime:
    return week.cutoff(settings.QINGLING_CUTOFF_WEEKDAY, settings.QINGLING_CUTOFF_TIME)


def counties() -> list[Division]:
    return list(Division.objects.filter(parent__code=settings.QINGLING_CITY_CODE,
                                        level="county").order_by("code"))


def _rate(on_time: int, received: int) -> float | None:
    return round(on_time / received, 4) if received else None


def site_energy(cases: list[Case], until: datetime, year: int) -> list[energy.SiteEnergy]:
    """Energy of confirmed sites up to ``until``: metered cycles where the grid supplied
    them, else kW × hours from first evidence to the power cut (or ``until``)."""
    ids = [c.pk for c in cases]
    visits = (SiteVisit.objects.filter(case_id__in=ids, found_mining=True, visited_at__lte=until)
              .values("case_id").annotate(kw=Max("power_kw")))
    kw = {v["case_id"]: v["kw"] for v in visits}
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
        new = (not c.on_stock_list) and c.first_week[:4] == str(year)
        if c.pk in has_meter:
            out.append(energy.SiteEnergy(c.pk, c.county.code if c.county else "",
                                         metered[c.pk].quantize(energy.KWH), "metered", new))
        elif kw.get(c.pk):
            stop = min(cut.get(c.pk) or until, until)
            out.append(energy.SiteEnergy(c.pk, c.county.code if c.county else "",
                                         energy.estimated_kwh(kw[c.pk], c.created_at, stop),
                                         "estimated", new))
    return out


def factors() -> list[energy.Factor]:
    return [energy.Factor(f.valid_from, f.tce_per_kwh, f.tco2_per_kwh, f.source)
            for f in EnergyFactor.objects.all()]


def compute(week: IsoWeek, now: datetime) -> dict[str, Any]:
    """The figures of ``week`` as they stand at ``now`` (JSON-ready)."""
    start, cutoff = week.start(), cutoff_of(week)
    end = start + timedelta(days=7)
    divisions = counties()
    per: dict[str, dict[str, Any]] = {d.code: {k: 0 for k in COUNTS} for d in divisions}
    names = {d.code: d.name for d in divisions}

    def bump(code: str | None, key: str, n: int = 1) -> None:
        per.setdefault(code or "", {k: 0 for k in COUNTS})[key] += n

    key_q = Case.objects.filter(on_key_list=True, due_at__gte=start, due_at__lt=end)
    overdue_items = []
    for c in key_q.select_related("county", "lead_department").order_by("county__code", "id"):
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
        elif c.due_at < now:
            bump(code, "key_overdue")
            overdue_items.append({
                "case": c.pk, "county": code, "ip": c.ip_summary, "state": c.state,
                "due": c.due_at.isoformat(),
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

    previous = WeeklyClose.objects.filter(week=str(week.shift(-1))).first()
    prev_stock = ({c["code"]: c["stock_open"] for c in previous.figures["counties"]}
                  if previous else {})

    confirmed = list(Case.objects.filter(state__in=CONFIRMED_STATES, created_at__lte=now)
                     .select_related("county"))
    sites = site_energy(confirmed, now, week.year)
    kw_by: dict[str, Decimal] = defaultdict(Decimal)
    kw_rows = (SiteVisit.objects.filter(case__state__in=CONFIRMED_STATES, found_mining=True,
                                        power_cut=False, case__cleared_at__isnull=True)
               .values("case_id", "case__county__code").annotate(kw=Max("power_kw")))
    for r in kw_rows:
        kw_by[r["case__county__code"] or ""] += r["kw"] or Decimal(0)
    fs = factors()
    factor = energy.factor_on(fs, cutoff.date()) if fs else None
    order = [d.code for d in divisions] + [c for c in per if c not in names]
    e_rows, e_total = (energy.county_energy(sites, factor, order) if factor
                       else ([energy.EnergyRow(c) for c in order], energy.EnergyRow("")))
    e_by = {r.county: r for r in e_rows}

    rows = []
    for code in order:
        p = per[code]
        prev = prev_stock.get(code)
        e = e_by.get(code) or energy.EnergyRow(code)
        rows.append({
            "code": code, "name": names.get(code, ""), **p,
            "on_time_rate": _rate(p["key_on_time"], p["key_received"]),
            "stock_prev": prev, "stock_delta": None if prev is None else p["stock_open"] - prev,
            "stock_rose": prev is not None and p["stock_open"] > prev,
            "running_kw": str(kw_by.get(code, Decimal(0))),
            "energy_sites": e.sites, "new_projects": e.new_projects, "kwh": str(e.kwh),
            "counted_kwh": str(e.counted_kwh), "tce": str(e.tce), "tco2": str(e.tco2),
        })
    city: dict[str, Any] = {k: sum(r[k] for r in rows) for k in COUNTS}
    prev_total = sum(prev_stock.values()) if previous else None
    city.update({
        "code": settings.QINGLING_CITY_CODE, "name": "",
        "on_time_rate": _rate(city["key_on_time"], city["key_received"]),
        "stock_prev": prev_total,
        "stock_delta": None if prev_total is None else city["stock_open"] - prev_total,
        "stock_rose": prev_total is not None and city["stock_open"] > prev_total,
        "running_kw": str(sum((Decimal(r["running_kw"]) for r in rows), Decimal(0))),
        "energy_sites": e_total.sites, "new_projects": e_total.new_projects,
        "kwh": str(e_total.kwh), "counted_kwh": str(e_total.counted_kwh),
        "tce": str(e_total.tce), "tco2": str(e_total.tco2),
    })
    return {
        "week": str(week), "start": start.isoformat(), "cutoff": cutoff.isoformat(),
        "computed_at": now.isoformat(), "counties": rows, "city": city,
        "overdue_items": overdue_items,
        "sites": [{"case": s.case_id, "county": s.county, "kwh": str(s.kwh), "basis": s.basis,
                   "new_project": s.new_project, "counted_kwh": str(s.counted_kwh)}
                  for s in sites],
        "factor": None if factor is None else {
            "valid_from": factor.valid_from.isoformat(), "tce_per_kwh": str(factor.tce_per_kwh),
            "tco2_per_kwh": str(factor.tco2_per_kwh), "source": factor.source},
        "metric": settings.QINGLING_ASSESSMENT_METRIC,
    }


def trend(weeks: int = 8) -> list[dict[str, Any]]:
    """Stock and on-time rate per county over the last closes (oldest first)."""
    closes = list(WeeklyClose.objects.order_by("-week")[:weeks])[::-1]
    return [{"week": c.week, "counties": {r["code"]: {"stock_open": r["stock_open"],
                                                        "on_time_rate": r["on_time_rate"]}
                                          for r in c.figures["counties"]},
             "city": {"stock_open": c.figures["city"]["stock_open"],
                      "on_time_rate": c.figures["city"]["on_time_rate"]}}
            for c in closes]
