from django.contrib import admin

from qingling.cases.models import ClassificationRule, WarningEntry


@admin.register(ClassificationRule)
class ClassificationRuleAdmin(admin.ModelAdmin[ClassificationRule]):
    list_display = (
        "priority", "name", "field", "operator", "value",
        "set_subject_type", "set_behaviour", "set_grade", "is_active",
    )
    list_display_links = ("name",)
    list_editable = ("priority", "is_active")
    ordering = ("priority", "id")


@admin.register(WarningEntry)
class WarningEntryAdmin(admin.ModelAdmin[WarningEntry]):
    list_display = ("network", "kind", "name", "is_active")
    list_filter = ("kind", "is_active")
