"""Session policy for every request: idle timeout, absolute lifetime, forced password change."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from qingling.accounts import services
from qingling.accounts.models import LoginEvent

# Only a second's precision is needed; writing the session on every request is avoided.
TOUCH_SECONDS = 60


class SessionPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = timezone.now()
            ts = now.timestamp()
            seen = float(request.session.get("seen_at", ts))
            started = float(request.session.get("auth_at", ts))
            idle = settings.QINGLING_SESSION_IDLE_MINUTES * 60
            lifetime = settings.QINGLING_SESSION_MAX_HOURS * 3600
            if ts - seen > idle or ts - started > lifetime:
                username = user.get_username()
                request._expired = True  # type: ignore[attr-defined]
                logout(request)
                services.record(LoginEvent.Outcome.EXPIRED, username, now,
                                address=request.META.get("REMOTE_ADDR"))
                messages.info(request, _("Your session has ended: sign in again."))
                return redirect(f"{reverse('login')}?next={request.path}")
            if ts - seen > TOUCH_SECONDS or "seen_at" not in request.session:
                request.session["seen_at"] = ts
                request.session.setdefault("auth_at", ts)
            if not self._exempt(request.path) and services.must_change_password(user, now):
                messages.warning(request, _("Set a new password before you go on."))
                return redirect("password_change")
        return self.get_response(request)

    @staticmethod
    def _exempt(path: str) -> bool:
        allowed = (reverse("password_change"), reverse("logout"), reverse("login"),
                   str(settings.STATIC_URL), "/i18n/")
        return path.startswith(allowed)
