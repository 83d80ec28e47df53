from django.contrib import admin

from qingling.geo.models import Division, ResponsibilityArea


@admin.register(Division)
class DivisionAdmin(admin.ModelAdmin[Division]):
    list_display = ("code", "name", "level", "parent")
    list_filter = ("level",)
    search_fields = ("code", "name")


@admin.register(ResponsibilityArea)
class ResponsibilityAreaAdmin(admin.ModelAdmin[ResponsibilityArea]):
    list_display = ("name", "county")
