from django.contrib import admin

from qingling.org.models import Department, Profile, RoutingRule


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin[Department]):
    list_display = ("code", "name", "is_active")
    search_fields = ("code", "name")


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin[RoutingRule]):
    list_display = ("subject_type", "lead", "note")
    filter_horizontal = ("co_departments",)


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin[Profile]):
    list_display = ("user", "role", "county", "department")
    list_filter = ("role", "county")
