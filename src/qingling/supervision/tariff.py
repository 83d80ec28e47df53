"""The punitive electricity surcharge on mining (pure arithmetic, no database).

Policy (MISSION.md): Zhejiang charges 0.50 yuan/kWh from 2022-02-14; an account that mixes
mining with other use pays it on *all* its consumption, not on a mining share; a billing
cycle only partly inside the mining period is charged as the cycle's daily average × the
days inside. When the rate changes inside a cycle, each day pays the rate in force that day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext as _

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Rate:
    province: str
    valid_from: date
    yuan_per_kwh: Decimal


@dataclass(frozen=True)
class Part:
    """Days of one cycle charged at one rate."""

    start: date
    end: date  # inclusive
    days: int
    kwh: Decimal
    rate: Decimal
    yuan: Decimal


@dataclass(frozen=True)
class Charge:
    cycle_start: date
    cycle_end: date
    cycle_kwh: Decimal
    parts: tuple[Part, ...]

    @property
    def kwh(self) -> Decimal:
        return sum((p.kwh for p in self.parts), Decimal(0))

    @property
    def yuan(self) -> Decimal:
        return sum((p.yuan for p in self.parts), Decimal(0)).quantize(CENT, ROUND_HALF_UP)


def rate_periods(rates: list[Rate], start: date, end: date) -> list[tuple[date, date, Decimal]]:
    """The rates in force from ``start`` to ``end`` (inclusive) as (first day, last day,
    rate); days before the first rate took effect carry no surcharge."""
    ordered = sorted(rates, key=lambda r: r.valid_from)
    out = []
    for i, r in enumerate(ordered):
        until = ordered[i + 1].valid_from - timedelta(days=1) if i + 1 < len(ordered) else end
        a, b = max(start, r.valid_from), min(end, until)
        if a <= b:
            out.append((a, b, r.yuan_per_kwh))
    return out


def mining_kwh(cycle_start: date, cycle_end: date, cycle_kwh: Decimal, mining_from: date,
               mining_to: date | None) -> Decimal:
    """The part of a cycle's kWh inside the mining period: all of it when the cycle lies
    inside, else daily average × days inside."""
    days_total = (cycle_end - cycle_start).days + 1
    a = max(cycle_start, mining_from)
    b = min(cycle_end, mining_to) if mining_to else cycle_end
    if a > b:
        return Decimal(0)
    days = (b - a).days + 1
    return cycle_kwh if days == days_total else cycle_kwh * days / days_total


def surcharge(cycle_start: date, cycle_end: date, cycle_kwh: Decimal, mining_from: date,
              mining_to: date | None, rates: list[Rate]) -> Charge:
    """The surcharge of one billing cycle (``cycle_end`` inclusive).

    The base is the account's whole consumption (mixed use pays on all of it). A cycle only
    partly inside [mining_from, mining_to] is charged as daily average × days inside.
    """
    if cycle_end < cycle_start:
        raise ValueError(_("billing cycle ends (%(end)s) before it starts (%(start)s)")
                         % {"end": cycle_end, "start": cycle_start})
    if cycle_kwh < 0:
        raise ValueError(_("billing cycle %(start)s..%(end)s: negative kWh %(kwh)s")
                         % {"start": cycle_start, "end": cycle_end, "kwh": cycle_kwh})
    days_total = (cycle_end - cycle_start).days + 1
    a = max(cycle_start, mining_from)
    b = min(cycle_end, mining_to) if mining_to else cycle_end
    parts: list[Part] = []
    if a <= b:
        whole = a == cycle_start and b == cycle_end
        for p_start, p_end, rate in rate_periods(rates, a, b):
            days = (p_end - p_start).days + 1
            kwh = cycle_kwh if whole and days == days_total else cycle_kwh * days / days_total
            parts.append(Part(p_start, p_end, days, kwh, rate, kwh * rate))
    return Charge(cycle_start, cycle_end, cycle_kwh, tuple(parts))
