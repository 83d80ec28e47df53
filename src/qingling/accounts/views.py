"""Sign-in, the second factor, password change and the user's own account page."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from qingling.accounts import services, totp
from qingling.accounts.forms import CodeForm
from qingling.accounts.models import LoginEvent

Outcome = LoginEvent.Outcome
PENDING_SECONDS = 300
ACTION_LABELS = {"reveal_personal": gettext_lazy("Personal data shown"),
                 "search_personal": gettext_lazy("Search by personal data"),
                 "export": gettext_lazy("Export"), "download": gettext_lazy("File opened")}


def client_address(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _agent(request: HttpRequest) -> str:
    return str(request.META.get("HTTP_USER_AGENT", ""))[:200]


def _next(request: HttpRequest) -> str:
    nxt = request.POST.get("next") or request.GET.get("next") or ""
    if nxt and url_has_allowed_host_and_scheme(nxt, {request.get_host()},
                                               require_https=request.is_secure()):
        return nxt
    return str(settings.LOGIN_REDIRECT_URL)


def _start_session(request: HttpRequest, user: Any, backend: str) -> None:
    login(request, user, backend=backend)
    now = timezone.now().timestamp()
    request.session["auth_at"] = now
    request.session["seen_at"] = now


def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(_next(request))
    form = AuthenticationForm(request)
    status = 200
    if request.method == "POST":
        now = timezone.now()
        address = client_address(request)
        username = str(request.POST.get("username", ""))[:150]
        if services.address_throttled(address, now):
            if address and not services.throttle_logged_recently(address, now):
                services.record(Outcome.THROTTLED, username, now, address=address,
                                agent=_agent(request))
            resp = render(request, "org/login.html", {
                "form": form, "next": _next(request),
                "refusal": _("Too many failed sign-ins from your address. Wait five minutes "
                             "and try again.")}, status=429)
            resp["Retry-After"] = "300"
            return resp
        until = services.locked_until(username, now)
        if until is not None:
            services.record(Outcome.LOCKED, username, now, address=address,
                            agent=_agent(request))
            return render(request, "org/login.html", {
                "form": form, "next": _next(request),
                "refusal": _("This account is locked after repeated failed sign-ins until "
                             "%(t)s. Ask the city coordinator if you need it sooner.")
                % {"t": timezone.localtime(until).strftime("%H:%M")}}, status=403)
        form = AuthenticationForm(request, data=request.POST)
        if form.is_valid():
            user = form.get_user()
            account = services.account_of(user)
            backend = getattr(user, "backend", settings.AUTHENTICATION_BACKENDS[0])
            if account.totp_enabled:
                request.session["otp_user"] = user.pk
                request.session["otp_backend"] = backend
                request.session["otp_at"] = now.timestamp()
                request.session["otp_next"] = _next(request)
                return redirect("login_otp")
            _start_session(request, user, backend)
            services.record(Outcome.OK, username, now, user=user, address=address,
                            agent=_agent(request))
            return redirect(_next(request))
        known = get_user_model().objects.filter(username=username).first()
        services.record(Outcome.BAD_PASSWORD if known else Outcome.UNKNOWN_USER, username,
                        now, user=known, address=address, agent=_agent(request))
        status = 200
    return render(request, "org/login.html", {"form": form, "next": _next(request)},
                  status=status)


def login_otp(request: HttpRequest) -> HttpResponse:
    """Second step for accounts with a second factor: the password was right."""
    now = timezone.now()
    pk, started = request.session.get("otp_user"), request.session.get("otp_at", 0)
    if pk is None or now.timestamp() - float(started) > PENDING_SECONDS:
        for k in ("otp_user", "otp_backend", "otp_at", "otp_next"):
            request.session.pop(k, None)
        messages.error(request, _("Sign in again."))
        return redirect("login")
    user = get_user_model().objects.get(pk=pk)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        address = client_address(request)
        if services.locked_until(user.get_username(), now) is not None:
            services.record(Outcome.LOCKED, user.get_username(), now, user=user, address=address)
            messages.error(request, _("This account is locked after repeated failed sign-ins."))
            return redirect("login")
        if services.second_factor_ok(user, form.cleaned_data["code"], now):
            nxt = request.session.get("otp_next") or str(settings.LOGIN_REDIRECT_URL)
            backend = request.session.get("otp_backend") or settings.AUTHENTICATION_BACKENDS[0]
            _start_session(request, user, backend)
            services.record(Outcome.OK, user.get_username(), now, user=user, address=address,
                            agent=_agent(request))
            return redirect(nxt)
        services.record(Outcome.BAD_CODE, user.get_username(), now, user=user, address=address,
                        agent=_agent(request))
        form.add_error("code", _("Wrong or already used code."))
    return render(request, "accounts/otp.html", {"form": form})


class PasswordChange(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = "/account/"

    def form_valid(self, form: Any) -> HttpResponse:
        resp = super().form_valid(form)
        services.password_changed(self.request.user, timezone.now(),
                                  client_address(self.request))
        messages.success(self.request, _("Password changed."))
        return resp


@login_required
def account_view(request: HttpRequest) -> HttpResponse:
    account = services.account_of(request.user)
    events = LoginEvent.objects.filter(username=request.user.get_username())[:30]
    pending = account.totp_secret if account.totp_secret_enc and not account.totp_enabled else ""
    return render(request, "accounts/account.html", {
        "account": account, "events": events, "pending_secret": pending,
        "pending_uri": totp.provisioning_uri(pending, request.user.get_username(),
                                             settings.QINGLING_ORGAN_NAME) if pending else "",
        "form": CodeForm(),
        "expires_days": settings.QINGLING_PASSWORD_MAX_AGE_DAYS,
    })


@login_required
@require_POST
def second_factor(request: HttpRequest, action: str) -> HttpResponse:
    now = timezone.now()
    user = request.user
    form = CodeForm(request.POST)
    if action == "start":
        services.second_factor_start(user)
        messages.info(request, _("Add the key below to your authenticator app, then enter "
                                 "the code it shows to switch the second factor on."))
    elif action == "confirm":
        if form.is_valid() and services.second_factor_confirm(user, form.cleaned_data["code"],
                                                              now):
            messages.success(request, _("Second factor switched on."))
        else:
            messages.error(request, _("Wrong code: the second factor is still off."))
    elif action == "stop":
        if form.is_valid() and services.second_factor_ok(user, form.cleaned_data["code"], now):
            services.second_factor_stop(user)
            messages.success(request, _("Second factor switched off."))
        else:
            messages.error(request, _("Wrong code: the second factor stays on."))
    return redirect("account")


# --- the city's audit page: who saw whose personal data, when and why -----------------

PERSONAL_ACTIONS = ("reveal_personal", "search_personal", "export", "download")


def _audit_rows(request: HttpRequest) -> tuple[Any, dict[str, str]]:
    from qingling.audit.models import AuditEntry

    f = {k: str(request.GET.get(k, "")).strip() for k in ("user", "action", "since", "until")}
    qs = (AuditEntry.objects.filter(action__in=PERSONAL_ACTIONS)
          .select_related("actor", "case").order_by("-at", "-id"))
    if f["user"]:
        qs = qs.filter(actor__username=f["user"])
    if f["action"] in PERSONAL_ACTIONS:
        qs = qs.filter(action=f["action"])
    for key, lookup in (("since", "at__date__gte"), ("until", "at__date__lte")):
        if f[key]:
            try:
                qs = qs.filter(**{lookup: date.fromisoformat(f[key])})
            except ValueError:
                f[key] = ""
    return qs, f


def _city_only(request: HttpRequest) -> bool:
    from qingling.org.models import Role
    from qingling.org.scope import profile_of

    p = profile_of(request.user)
    return p is not None and p.role == Role.CITY


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    if not _city_only(request):
        return HttpResponseForbidden()
    qs, f = _audit_rows(request)
    page = Paginator(qs, 100).get_page(request.GET.get("page"))
    params = urlencode({k: v for k, v in f.items() if v})
    return render(request, "accounts/audit.html", {
        "page": page, "f": f, "query": params, "actions": [
            (a, ACTION_LABELS[a]) for a in PERSONAL_ACTIONS]})


@login_required
def audit_export(request: HttpRequest) -> HttpResponse:
    from qingling.audit.services import audit_record
    from qingling.common.xlsx import build_xlsx

    if not _city_only(request):
        return HttpResponseForbidden()
    qs, f = _audit_rows(request)
    rows = ([e.at, e.actor.username if e.actor else "", str(ACTION_LABELS.get(e.action, e.action)),
             e.case.reference if e.case else f"{e.object_type}#{e.object_id}", e.comment]
            for e in qs.iterator(chunk_size=2000))
    data = build_xlsx(_("Access to personal data"),
                      [_("Time"), _("User"), _("Action"), _("What"), _("Reason")], rows)
    audit_record(actor=request.user, action="export", obj=request.user,
                 data={"what": "audit", "filters": f})
    resp = HttpResponse(data, content_type="application/vnd.openxmlformats-officedocument."
                                            "spreadsheetml.sheet")
    stamp = timezone.localtime(timezone.now())
    resp["Content-Disposition"] = f'attachment; filename="qingling-audit-{stamp:%Y%m%d-%H%M}.xlsx"'
    return resp
