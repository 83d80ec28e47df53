from django.contrib import admin
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from qingling.tasks.models import SensitiveMark, TaskKind, TaskRule


class TaskRuleInline(admin.TabularInline):  # type: ignore[type-arg]
    model = TaskRule
    extra = 0


@admin.register(TaskKind)
class TaskKindAdmin(admin.ModelAdmin[TaskKind]):
    list_display = ("name", "code_shown", "department", "due_days", "mandatory", "is_active")
    list_filter = ("department", "mandatory", "is_active")
    inlines = [TaskRuleInline]

    @admin.display(description=_("code"), ordering="code")
    def code_shown(self, kind: TaskKind) -> SafeString:
        return format_html("<code>{}</code>", kind.code)


@admin.register(TaskRule)
class TaskRuleAdmin(admin.ModelAdmin[TaskRule]):
    list_display = ("kind", "subject_type", "behaviour", "carrier", "when_sensitive", "note",
                    "is_active")
    list_filter = ("subject_type", "behaviour", "is_active")


@admin.register(SensitiveMark)
class SensitiveMarkAdmin(admin.ModelAdmin[SensitiveMark]):
    list_display = ("case", "reason", "marked_by", "marked_at")
