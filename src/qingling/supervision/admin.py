import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from qingling.supervision.models import (
    BillingCycle,
    CountyWorkGroup,
    DoublingRule,
    EnergyFactor,
    Escalation,
    TariffAccount,
    TariffRate,
    TextTemplate,
    WeeklyClose,
)


def _data(value: Any) -> SafeString:
    """Frozen figures as the machine keeps them (the pages and the bulletin word them)."""
    return format_html("<pre><code>{}</code></pre>",
                       json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True))


@admin.register(EnergyFactor)
class EnergyFactorAdmin(admin.ModelAdmin[EnergyFactor]):
    list_display = ("valid_from", "tce_per_kwh", "tco2_per_kwh", "source")


@admin.register(DoublingRule)
class DoublingRuleAdmin(admin.ModelAdmin[DoublingRule]):
    """Whose mining energy counts double, from a date (the rule in force on a week's
    cut-off applies; the bulletin states it)."""

    list_display = ("valid_from", "rule", "source")


@admin.register(CountyWorkGroup)
class CountyWorkGroupAdmin(admin.ModelAdmin[CountyWorkGroup]):
    """Who is interviewed (约谈) for a county's overdue key-list items, and the stock above
    which the county counts as 居高不下."""

    list_display = ("county", "name", "principal", "stock_threshold")


@admin.register(TariffRate)
class TariffRateAdmin(admin.ModelAdmin[TariffRate]):
    list_display = ("province_name", "province_code", "yuan_per_kwh", "valid_from", "source")


class BillingCycleInline(admin.TabularInline[BillingCycle, TariffAccount]):
    model = BillingCycle
    extra = 1


@admin.register(TariffAccount)
class TariffAccountAdmin(admin.ModelAdmin[TariffAccount]):
    list_display = ("account_no", "case", "mining_from", "mining_to", "mixed_use")
    raw_id_fields = ("case",)
    inlines = [BillingCycleInline]


@admin.register(TextTemplate)
class TextTemplateAdmin(admin.ModelAdmin[TextTemplate]):
    """Bulletin wording (Django template syntax; keys as in supervision/bulletin.py
    DEFAULT_TEXTS: title, recipients, opening, overall, key, overdue, stock, energy,
    next_steps)."""

    list_display = ("key", "updated_at")


@admin.register(WeeklyClose)
class WeeklyCloseAdmin(admin.ModelAdmin[WeeklyClose]):
    list_display = ("week", "final", "cutoff", "closed_at", "closed_by")
    readonly_fields = ("week", "final", "cutoff", "closed_at", "closed_by", "figures_data")
    exclude = ("figures",)

    @admin.display(description=_("figures"))
    def figures_data(self, close: WeeklyClose) -> SafeString:
        return _data(close.figures)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # closes are made by the close, never typed in


@admin.register(Escalation)
class EscalationAdmin(admin.ModelAdmin[Escalation]):
    list_display = ("week", "kind", "county", "subject", "status")
    list_filter = ("kind", "status")
    # The items are frozen with the close that proposed the escalation.
    readonly_fields = ("key_code", "week", "kind", "county", "case", "basis", "proposed_at",
                       "items_data")
    exclude = ("key", "items")

    @admin.display(description=_("key"))
    def key_code(self, esc: Escalation) -> SafeString:
        return format_html("<code>{}</code>", esc.key)

    @admin.display(description=_("items"))
    def items_data(self, esc: Escalation) -> SafeString:
        return _data(esc.items)
