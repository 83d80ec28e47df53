from django.contrib import admin
from django.http import HttpRequest

from qingling.supervision.models import (
    BillingCycle,
    EnergyFactor,
    Escalation,
    TariffAccount,
    TariffRate,
    TextTemplate,
    WeeklyClose,
)


@admin.register(EnergyFactor)
class EnergyFactorAdmin(admin.ModelAdmin[EnergyFactor]):
    list_display = ("valid_from", "tce_per_kwh", "tco2_per_kwh", "source")


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
    list_display = ("week", "cutoff", "closed_at", "closed_by")
    readonly_fields = ("week", "cutoff", "closed_at", "closed_by", "figures")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # closes are made by the close, never typed in


@admin.register(Escalation)
class EscalationAdmin(admin.ModelAdmin[Escalation]):
    list_display = ("week", "kind", "county", "subject", "status")
    list_filter = ("kind", "status")
    readonly_fields = ("key", "week", "kind", "county", "case", "basis", "proposed_at")
