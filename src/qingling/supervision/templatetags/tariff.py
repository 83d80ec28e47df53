"""The case page's block of surcharge accounts (the cases app never imports supervision:
its page includes this by name)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

from qingling.org.models import SubjectType
from qingling.org.scope import mask_address, mask_name, profile_of
from qingling.supervision import tariff
from qingling.supervision.models import TariffAccount, TariffRate
from qingling.supervision.register import keeps_register

register = template.Library()


@register.inclusion_tag("supervision/_case_tariff.html", takes_context=True)
def case_tariff(context: Any, case: Any) -> dict[str, Any]:
    profile = profile_of(context["request"].user)
    rates: dict[str, list[tariff.Rate]] = {}
    for r in TariffRate.objects.all():
        rates.setdefault(r.province_code, []).append(
            tariff.Rate(r.province_code, r.valid_from, r.yuan_per_kwh))
    rows = []
    for a in TariffAccount.objects.filter(case=case).prefetch_related("cycles"):
        cycles = list(a.cycles.all())
        charges = [tariff.surcharge(c.start, c.end, c.kwh, a.mining_from, a.mining_to,
                                    rates.get(a.province_code, [])) for c in cycles]
        # As for the case's own subject: a person's name and home are masked, a unit's
        # are public facts.
        person = case.subject_type in (SubjectType.RESIDENTIAL, SubjectType.UNKNOWN)
        rows.append({"account": a, "holder": mask_name(a.holder) if person else a.holder,
                     "address": mask_address(a.address) if person else a.address,
                     "cycles": list(zip(cycles, charges, strict=True)),
                     "yuan": sum((c.yuan for c in charges), Decimal(0))})
    return {"rows": rows, "case": case,
            "may_add": keeps_register(profile) and case.is_open()}
