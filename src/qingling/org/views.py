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


@login_required
def manual(request: HttpRequest) -> HttpResponse:
    """操作手册 for the user's role (markdown in the repository, rendered safely)."""
    from qingling.org.manual import manual_for

    profile = profile_of(request.user)
    if profile is None:
        return render(request, "org/no_role.html", status=403)
    return render(request, "org/manual.html", {"body": manual_for(profile.role),
                                               "role": profile.get_role_display()})
