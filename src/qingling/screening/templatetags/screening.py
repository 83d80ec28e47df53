"""Template tags the case page uses to show a case's signals (the cases app itself never
imports screening: the page includes this by name)."""

from __future__ import annotations

from typing import Any

from django import template
from django.db.models import Count, Min
from django.db.models.functions import TruncDate
from django.utils.safestring import SafeString

from qingling.geo.address import triage_text
from qingling.screening import explain
from qingling.screening.models import Signal

register = template.Library()


@register.inclusion_tag("screening/_case_signals.html")
def case_signals(case: Any) -> dict[str, Any]:
    signals = list(Signal.objects.filter(case=case).order_by("observed_at", "id")[:200])
    network_days = (Signal.objects.filter(case=case, kind=Signal.Kind.NETWORK)
                    .annotate(d=TruncDate("observed_at")).values("d").distinct().count())
    power = Signal.objects.filter(case=case, kind=Signal.Kind.POWER).aggregate(
        since=Min("observed_at"), n=Count("id"))
    batches = case.appearances.values("batch").distinct().count() if hasattr(
        case, "appearances") else 0
    return {"signals": signals, "network_days": network_days, "power_since": power["since"],
            "batches": batches, "total": Signal.objects.filter(case=case).count()}


@register.filter
def signal_text(signal: Any) -> SafeString:
    return explain.signal_text(signal)


@register.filter
def resolution_text(resolution: Any) -> SafeString:
    return explain.resolution_text(resolution)


@register.filter
def triage(reason: str) -> str:
    return triage_text(reason or "")


@register.filter
def run_stats(stats: Any) -> str:
    return explain.stats_text(stats or {})
