"""Mining energy for the dual-control assessment (pure arithmetic, no database).

Energy of a confirmed site is the grid's metered kWh over the mining period when the grid
supplied it, otherwise the site's power (kW) × hours from the earliest evidence of mining to
the power cut; a site with neither is listed as having no estimate, never counted as 0.
Whose energy counts double (按"挖矿"能耗量加倍计算) follows a dated rule (``doubled``).
Conversion to tonnes of standard coal (tce) and to tCO2 uses dated coefficients, so an
assessment can move from energy to carbon without changing the figures behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext as _

KWH = Decimal("0.01")
TONNE = Decimal("0.001")


@dataclass(frozen=True)
class Factor:
    valid_from: date
    tce_per_kwh: Decimal
    tco2_per_kwh: Decimal
    source: str = ""


def factor_on(factors: list[Factor], day: date) -> Factor:
    """The coefficients in force on ``day`` (the latest that took effect by then)."""
    usable = [f for f in factors if f.valid_from <= day]
    if not usable:
        raise ValueError(_("no energy coefficients in force on %(day)s: add one dated on or "
                           "before it") % {"day": day})
    return max(usable, key=lambda f: f.valid_from)


def estimated_kwh(kw: Decimal, start: datetime, stop: datetime) -> Decimal:
    """kW × hours between first evidence and the power cut (never negative)."""
    hours = Decimal(max(0.0, (stop - start).total_seconds())) / Decimal(3600)
    return (kw * hours).quantize(KWH, ROUND_HALF_UP)


@dataclass(frozen=True)
class Rule:
    valid_from: date
    rule: str  # "high_stock", "new_projects" or "all"
    source: str = ""


def rule_on(rules: list[Rule], day: date) -> Rule | None:
    usable = [r for r in rules if r.valid_from <= day]
    return max(usable, key=lambda r: r.valid_from) if usable else None


def doubled(rule: Rule | None, *, new_project: bool, county_named: bool) -> bool:
    """Does this site's energy count double under the rule in force?"""
    if rule is None:
        return False
    if rule.rule == "all":
        return True
    if rule.rule == "new_projects":
        return new_project
    return county_named  # high_stock: the counties named for high or rising stock


@dataclass(frozen=True)
class SiteEnergy:
    case_id: int
    county: str
    kwh: Decimal
    basis: str  # "metered", "estimated", or "none" (no meter, no power recorded)
    new_project: bool
    doubled: bool = False
    since: datetime | None = None  # the estimate runs from here
    until: datetime | None = None  # to the power cut or the close

    @property
    def counted_kwh(self) -> Decimal:
        return self.kwh * 2 if self.doubled else self.kwh


@dataclass
class EnergyRow:
    county: str
    sites: int = 0
    new_projects: int = 0
    doubled_sites: int = 0
    no_estimate: int = 0
    kwh: Decimal = Decimal(0)
    counted_kwh: Decimal = Decimal(0)
    tce: Decimal = Decimal(0)
    tco2: Decimal = Decimal(0)


def county_energy(sites: list[SiteEnergy], factor: Factor,
                  counties: list[str]) -> tuple[list[EnergyRow], EnergyRow]:
    """Per county (in the given order) and the city total; tce and tCO2 are of the counted
    energy (with doubling), rounded to 0.001 t."""
    rows = {c: EnergyRow(c) for c in counties}
    for s in sites:
        r = rows.setdefault(s.county, EnergyRow(s.county))
        r.sites += 1
        r.new_projects += s.new_project
        r.doubled_sites += s.doubled
        r.no_estimate += s.basis == "none"
        r.kwh += s.kwh
        r.counted_kwh += s.counted_kwh
    total = EnergyRow("")
    for r in rows.values():
        r.tce = (r.counted_kwh * factor.tce_per_kwh).quantize(TONNE, ROUND_HALF_UP)
        r.tco2 = (r.counted_kwh * factor.tco2_per_kwh).quantize(TONNE, ROUND_HALF_UP)
        total.sites += r.sites
        total.new_projects += r.new_projects
        total.doubled_sites += r.doubled_sites
        total.no_estimate += r.no_estimate
        total.kwh += r.kwh
        total.counted_kwh += r.counted_kwh
        total.tce += r.tce
        total.tco2 += r.tco2
    return list(rows.values()), total
