"""Subscriber register pages: masked by default; clear text only on an explicit, audited
reveal by a user whose role and county allow it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from qingling.audit.services import audit_record
from qingling.cases.bulk import ACTIONS
from qingling.cases.models import Case, WarningEntry
from qingling.cases.selectors import case_page, lead_queue
from qingling.cases.services import WorkflowError
from qingling.cases.views import EXPORT_LIMIT
from qingling.common.xlsx import build_xlsx, xlsx_response
from qingling.geo.models import Division
from qingling.org.models import Role
from qingling.org.scope import mask_address, mask_id, mask_name, mask_phone, profile_of
from qingling.screening.explain import signal_text, stats_text
from qingling.screening.models import ExcludedEndpoint, ScreeningRun, Signal, Subscriber
from qingling.screening.services import may_reveal, may_view, reveal
from qingling.screening.triage import endpoint_save


def _masked(s: Subscriber) -> dict[str, str]:
    return {"name": mask_name(s.name), "id_number": mask_id(s.id_number),
            "phone": mask_phone(s.phone), "address": mask_address(s.address)}


def _subscribers(request: HttpRequest) -> Any:
    """The register rows this user may see, filtered as the page asks (None: no access)."""
    p = profile_of(request.user)
    if p is None or p.role not in (Role.CITY, Role.LEADER, Role.COUNTY, Role.VERIFIER):
        return None
    qs = Subscriber.objects.select_related("county", "township")
    if p.role != Role.CITY and p.county_id is not None:
        qs = qs.filter(county_id=p.county_id)
    elif p.role not in (Role.CITY, Role.LEADER):
        qs = qs.none()
    if request.GET.get("triage"):
        qs = qs.filter(needs_triage=True)
    if q := request.GET.get("q", "").strip():
        qs = qs.filter(Q(account__icontains=q) | Q(carrier__icontains=q))
    return qs


@login_required
def subscriber_list(request: HttpRequest) -> HttpResponse:
    qs = _subscribers(request)
    if qs is None:
        return render(request, "org/no_role.html", status=403)
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


def _city_only(request: HttpRequest) -> HttpResponse | None:
    p = profile_of(request.user)
    if p is None or p.role != Role.CITY:
        return render(request, "org/no_role.html", status=403)
    return None


@dataclass(frozen=True)
class LeadRow:
    case: Case
    evidence: str
    subscriber: str
    account: str
    county_id: int | None
    township: str


def _lead_rows(cases: list[Case]) -> list[LeadRow]:
    """Each lead with its latest evidence and the subscriber it resolved to (masked); the
    signals of the page's leads in one query."""
    latest: dict[int, Signal] = {}
    for sig in (Signal.objects.filter(case_id__in=[c.pk for c in cases])
                .select_related("subscriber").order_by("case_id", "observed_at", "id")):
        latest[sig.case_id] = sig
    out = []
    for c in cases:
        s = latest.get(c.pk)
        sub = s.subscriber if s is not None else None
        out.append(LeadRow(
            case=c, evidence=str(signal_text(s)) if s is not None else "",
            subscriber=mask_name(sub.name) if sub is not None else "",
            account=sub.account if sub is not None else "",
            county_id=c.county_id, township=c.township.name if c.township else ""))
    return out


@login_required
def triage(request: HttpRequest) -> HttpResponse:
    """监测发现: the city's queue of monitoring leads, each with its evidence and the
    county its subscriber is in (pre-selected), to dispatch, exclude, merge or warn."""
    if (denied := _city_only(request)) is not None:
        return denied
    page = case_page(lead_queue(request.user), request.GET.get("page"))
    counties = list(Division.objects.filter(parent__code=settings.QINGLING_CITY_CODE,
                                            level=Division.Level.COUNTY))
    return render(request, "screening/triage.html", {
        "page": page, "rows": _lead_rows(list(page.object_list)), "counties": counties,
        "categories": ExcludedEndpoint.Category.choices, "kinds": WarningEntry.Kind.choices,
        "dispatch_label": _("Dispatch"), "exclude_label": _("Exclude"),
        "actions": [(n, str(ACTIONS[n].label)) for n in
                    ("triage_by_row", "dispatch", "exclude_lead", "merge_lead", "warn_lead")],
        "row_moves": [("dispatch", _("Dispatch")), ("exclude_lead", _("Exclude"))],
    })


@login_required
def triage_export(request: HttpRequest) -> HttpResponse:
    if (denied := _city_only(request)) is not None:
        return denied
    now = timezone.now()
    cases = list(lead_queue(request.user).select_related("county", "township")[:EXPORT_LIMIT])
    headers = [_("Case"), _("County"), _("Township"), _("IP"), _("Subscriber"), _("Account"),
               _("Evidence"), _("Grade"), _("Created")]
    rows = []
    for i in range(0, len(cases), 500):
        for r in _lead_rows(cases[i:i + 500]):
            c = r.case
            rows.append([c.reference, c.county.name if c.county else "", r.township,
                         c.ip_summary, r.subscriber, r.account, strip_tags(r.evidence), c.grade,
                         c.created_at])
    audit_record(actor=request.user, action="export", obj=request.user,
                 data={"what": "leads", "personal": False})
    return xlsx_response(build_xlsx(_("Monitoring leads"), [str(h) for h in headers], rows),
                         "qingling-leads", now)


@login_required
def excluded_list(request: HttpRequest) -> HttpResponse:
    """The known-benign endpoints: what triage excluded, editable (city only)."""
    if (denied := _city_only(request)) is not None:
        return denied
    if request.method == "POST":
        pk = request.POST.get("pk", "")
        try:
            port = int(request.POST.get("port", "").strip())
        except ValueError:
            messages.error(request, _("A port is a number from 0 to 65535."))
            return redirect("excluded_list")
        try:
            ep = endpoint_save(actor=request.user, ip=request.POST.get("ip", ""), port=port,
                               category=request.POST.get("category", ""),
                               reason=request.POST.get("reason", ""),
                               is_active=request.POST.get("is_active") == "1",
                               pk=int(pk) if pk.isdigit() else None)
            messages.success(request, _("Saved %(ep)s.") % {"ep": ep})
        except WorkflowError as exc:
            messages.error(request, str(exc))
        return redirect("excluded_list")
    page = Paginator(ExcludedEndpoint.objects.select_related("case", "added_by"), 100).get_page(
        request.GET.get("page"))
    return render(request, "screening/excluded.html", {
        "page": page, "categories": ExcludedEndpoint.Category.choices})


@login_required
def excluded_export(request: HttpRequest) -> HttpResponse:
    if (denied := _city_only(request)) is not None:
        return denied
    rows = [[e.ip, e.port, e.get_category_display(), e.reason,
             e.case.reference if e.case else "", _("yes") if e.is_active else _("no"),
             e.added_by.get_username() if e.added_by else "", e.created_at]
            for e in ExcludedEndpoint.objects.select_related("case", "added_by")]
    headers = [_("Address"), _("Port"), _("Category"), _("Reason"), _("Excluded lead"),
               _("Active"), _("Added by"), _("Created")]
    audit_record(actor=request.user, action="export", obj=request.user,
                 data={"what": "excluded_endpoints", "personal": False})
    return xlsx_response(build_xlsx(_("Known-benign endpoints"), [str(h) for h in headers],
                                    rows), "qingling-excluded", timezone.now())


@login_required
def subscriber_export(request: HttpRequest) -> HttpResponse:
    """The register as the page shows it: in scope, masked."""
    qs = _subscribers(request)
    if qs is None:
        return render(request, "org/no_role.html", status=403)
    rows = []
    for s in qs[:EXPORT_LIMIT].iterator(chunk_size=2000):
        m = _masked(s)
        rows.append([s.carrier, s.account, m["name"], m["id_number"], m["phone"], m["address"],
                     s.county.name if s.county else "", s.township.name if s.township else "",
                     _("yes") if s.needs_triage else ""])
    headers = [_("Carrier"), _("Account"), _("Name"), _("ID number"), _("Phone"), _("Address"),
               _("County"), _("Township"), _("Needs triage")]
    audit_record(actor=request.user, action="export", obj=request.user,
                 data={"what": "subscribers", "personal": False,
                       "filters": dict(request.GET.items())})
    return xlsx_response(build_xlsx(_("Subscribers"), [str(h) for h in headers], rows),
                         "qingling-subscribers", timezone.now())


@login_required
def runs_export(request: HttpRequest) -> HttpResponse:
    p = profile_of(request.user)
    if p is None or p.role not in (Role.CITY, Role.LEADER):
        return render(request, "org/no_role.html", status=403)
    rows = [[r.get_kind_display(), r.created_at, ", ".join(map(str, r.inputs or [])),
             stats_text(r.stats or {})] for r in ScreeningRun.objects.all()[:1000]]
    headers = [_("Kind"), _("Time"), _("Inputs"), _("Results")]
    audit_record(actor=request.user, action="export", obj=request.user,
                 data={"what": "screening_runs", "personal": False})
    return xlsx_response(build_xlsx(_("Screening"), [str(h) for h in headers], rows),
                         "qingling-screening", timezone.now())
