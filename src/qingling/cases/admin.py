from django.contrib import admin
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from qingling.cases.models import ClassificationRule, WarningEntry


@admin.register(ClassificationRule)
class ClassificationRuleAdmin(admin.ModelAdmin[ClassificationRule]):
    list_display = (
        "priority", "name", "field_code", "operator", "value_code",
        "set_subject_type", "set_behaviour", "set_grade", "is_active",
    )
    list_display_links = ("name",)
    list_editable = ("priority", "is_active")
    ordering = ("priority", "id")

    # A rule's field and value are codes the classifier reads (field names, list types,
    # patterns), shown as such.
    @admin.display(description=_("field"), ordering="field")
    def field_code(self, rule: ClassificationRule) -> SafeString:
        return format_html("<code>{}</code>", rule.field)

    @admin.display(description=_("value"), ordering="value")
    def value_code(self, rule: ClassificationRule) -> SafeString:
        return format_html("<code>{}</code>", rule.value)


@admin.register(WarningEntry)
class WarningEntryAdmin(admin.ModelAdmin[WarningEntry]):
    list_display = ("network", "kind", "name", "is_active")
    list_filter = ("kind", "is_active")
