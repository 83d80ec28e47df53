"""Subscriber register pages: masked by default; clear text only on an explicit, audited
reveal by a user whose role and county allow it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from qingling.org.models import Role
from qingling.org.scope import mask_address, mask_id, mask_name, mask_phone, profile_of
from qingling.screening.models import ScreeningRun, Subscriber
from qingling.screening.services import may_reveal, may_view, reveal


def _masked(s: Subscriber) -> dict[str, str]:
    return {"name": mask_name(s.name), "id_number": mask_id(s.id_number),
            "phone": mask_phone(s.phone), "address": mask_address(s.address)}


@login_required
def subscriber_list(request: HttpRequest) -> HttpResponse:
    p = profile_of(request.user)
    if p is None or p.role not in (Role.CITY, Role.LEADER, Role.COUNTY, Role.VERIFIER):
        return render(request, "org/no_role.html", status=403)
    qs = Subscriber.objects.select_related("county", "township")
    if p.role != Role.CITY and p.county_id is not None:
        qs = qs.filter(county_id=p.county_id)
    elif p.role not in (Role.CITY, Role.LEADER):
        qs = qs.none()
    if request.GET.get("triage"):
        qs = qs.filter(needs_triage=True)
    if q := request.GET.get("q", "").strip():
        qs = qs.filter(Q(account__icontains=q) | Q(carrier__icontains=q))
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    rows = [(s, _masked(s)) for s in page.object_list]
    return render(request, "screening/subscribers.html", {"page": page, "rows": rows})


@login_required
def subscriber_detail(request: HttpRequest, pk: int) -> HttpResponse:
    sub = get_object_or_404(Subscriber.objects.select_related("county", "township"), pk=pk)
    if not may_view(request.user, sub):
        raise Http404
    return render(request, "screening/subscriber.html", {
        "s": sub, "shown": _masked(sub), "revealed": False,
        "may_reveal": may_reveal(request.user, sub)})


@login_required
@require_POST
def subscriber_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    sub = get_object_or_404(Subscriber.objects.select_related("county", "township"), pk=pk)
    if not may_view(request.user, sub):
        raise Http404
    if not may_reveal(request.user, sub):
        return HttpResponse(status=403)
    try:
        shown = reveal(request.user, sub, request.POST.get("reason", ""))
    except ValueError as exc:
        return render(request, "screening/subscriber.html", {
            "s": sub, "shown": _masked(sub), "revealed": False, "may_reveal": True,
            "error": str(exc)}, status=400)
    resp = render(request, "screening/subscriber.html", {
        "s": sub, "shown": shown, "revealed": True, "may_reveal": True})
    resp["Cache-Control"] = "no-store"
    return resp


@login_required
def runs(request: HttpRequest) -> HttpResponse:
    """Screening runs and what they produced (city and leaders)."""
    p = profile_of(request.user)
    if p is None or p.role not in (Role.CITY, Role.LEADER):
        return render(request, "org/no_role.html", status=403)
    return render(request, "screening/runs.html", {
        "runs": ScreeningRun.objects.all()[:100],
        "triage": Subscriber.objects.filter(needs_triage=True).count()})
