from django.contrib import admin
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from qingling.org.models import Department, Profile, RoutingRule


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin[Department]):
    list_display = ("code_shown", "name", "is_active")
    list_display_links = ("name",)
    search_fields = ("code", "name")

    @admin.display(description=_("code"), ordering="code")
    def code_shown(self, department: Department) -> SafeString:
        return format_html("<code>{}</code>", department.code)


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin[RoutingRule]):
    list_display = ("subject_type", "lead", "note")
    filter_horizontal = ("co_departments",)


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin[Profile]):
    list_display = ("user", "role", "county", "department")
    list_filter = ("role", "county")
