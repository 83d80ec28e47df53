from django.contrib import admin

from qingling.makers.models import Maker, RectificationItem


class ItemInline(admin.TabularInline):  # type: ignore[type-arg]
    model = RectificationItem
    extra = 0


@admin.register(Maker)
class MakerAdmin(admin.ModelAdmin[Maker]):
    list_display = ("name", "uscc", "county", "products")
    list_filter = ("county",)
    inlines = [ItemInline]
