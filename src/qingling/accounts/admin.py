from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

from qingling.accounts.models import Account, LoginEvent

User = get_user_model()


@admin.register(LoginEvent)
class LoginEventAdmin(admin.ModelAdmin[LoginEvent]):
    """The sign-in security log: read only."""

    list_display = ("at", "username", "outcome", "address", "agent")
    list_filter = ("outcome",)
    search_fields = ("username", "address")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin[Account]):
    list_display = ("user", "must_change_password", "password_changed_at", "totp_enabled")
    fields = ("user", "must_change_password", "password_changed_at", "totp_enabled")
    readonly_fields = ("user", "password_changed_at", "totp_enabled")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


admin.site.unregister(User)


@admin.register(User)
class QinglingUserAdmin(UserAdmin):  # type: ignore[type-arg]
    """An account the city creates must change its password at first sign-in."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            Account.objects.update_or_create(user=obj, defaults={"must_change_password": True})
