from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from qingling.org.models import Role
from qingling.org.scope import profile_of


@login_required
def home(request: HttpRequest) -> HttpResponse:
    profile = profile_of(request.user)
    if profile is None:
        return render(request, "org/no_role.html", status=403)
    if profile.role in (Role.CITY, Role.LEADER):
        return redirect("dashboard")
    return redirect("inbox")
