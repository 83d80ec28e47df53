from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from qingling.audit.services import audit_record
from qingling.cases.bulk import ACTIONS
from qingling.cases.forms import CorrectionForm, EvidenceForm, TransitionForm, VisitForm
from qingling.cases.models import Behaviour, Case, Evidence, Grade, ListType, State
from qingling.cases.presenters import case_rows, list_labels, personal
from qingling.cases.scope import visible_cases
from qingling.cases.selectors import (
    SORTS,
    CaseFilters,
    case_page,
    cases_filtered,
    dashboard,
    inbox,
    inbox_tab,
)
from qingling.cases.services import (
    ASSIGNABLE_STATES,
    WorkflowError,
    allowed_transitions,
    assignable_users,
    case_correct,
    case_transition,
    evidence_add,
    personal_reveal,
    visit_record,
)
from qingling.cases.thumbs import IMAGE_TYPES, thumbnail
from qingling.cases.uploads import UploadRejected
from qingling.cases.workflow import TRANSITIONS
from qingling.common.weeks import IsoWeek
from qingling.common.xlsx import build_xlsx, xlsx_response
from qingling.geo.models import Division
from qingling.org.models import Department, Role, SubjectType
from qingling.org.scope import can_search_personal, can_see_personal, mask_name, profile_of

EXPORT_LIMIT = 100_000
# Moves the case page asks to confirm before making (a dialog in the app's own script).
IRREVERSIBLE = ("clear", "exclude", "dismiss_lead", "merge_lead")
OVERRIDE_LABELS = {"subject_type": gettext_lazy("Subject type"),
                   "behaviour": gettext_lazy("Behaviour"), "grade": gettext_lazy("Grade"),
                   "lead_department": gettext_lazy("Lead department")}


def _need_profile(request: HttpRequest) -> HttpResponse | None:
    if profile_of(request.user) is None:
        return render(request, "org/no_role.html", status=403)
    return None


@login_required
def dashboard_view(request: HttpRequest) -> HttpResponse:
    if (denied := _need_profile(request)) is not None:
        return denied
    week, rows, total = dashboard(request.user, timezone.now())
    return render(request, "cases/dashboard.html", {"week": week, "week_label": week.label(),
                                                    "rows": rows, "total": total})


INBOX_SORTS = ("due", "-due", "id", "-id", "updated", "-updated", "state", "-state")


@login_required
def dashboard_export(request: HttpRequest) -> HttpResponse:
    """The dashboard's table by county, as it shows it (scope by ``dashboard``)."""
    if (denied := _need_profile(request)) is not None:
        return denied
    now = timezone.now()
    week, rows, total = dashboard(request.user, now)
    headers = [_("County"), _("Open"), _("Due this week"), _("Overdue"), _("Cleared this week"),
               _("Key list due"), _("Key list cleared on time"), _("On-time rate")]

    def line(label: str, r: Any) -> list[Any]:
        rate = r.on_time_rate
        return [label, r.open, r.due_this_week, r.overdue, r.cleared_this_week, r.key_due,
                r.key_on_time, "" if rate is None else f"{rate:.1%}"]

    data = [line(r.county.name if r.county else _("Awaiting dispatch"), r) for r in rows]
    data.append(line(_("Total"), total))
    audit_record(actor=request.user, action="export", obj=request.user,
                 data={"what": "dashboard", "week": str(week), "personal": False})
    return xlsx_response(build_xlsx(week.label(), [str(h) for h in headers], data),
                         f"qingling-dashboard-{week}", now)


@login_required
def inbox_view(request: HttpRequest) -> HttpResponse:
    """The inbox as tabs by what the user can do now, each paged, sortable, exportable."""
    if (denied := _need_profile(request)) is not None:
        return denied
    now = timezone.now()
    tabs = inbox(request.user, now)
    if not tabs:
        return render(request, "org/no_role.html", status=403)
    key = request.GET.get("tab") or next((t.key for t in tabs if t.count), tabs[0].key)
    current = next((t for t in tabs if t.key == key), tabs[0])
    sort = request.GET.get("sort", "due")
    sort = sort if sort in INBOX_SORTS else "due"
    page = case_page(current.cases.order_by(SORTS[sort], "id"), request.GET.get("page"))
    profile = profile_of(request.user)
    return render(request, "cases/inbox.html", {
        "tabs": tabs, "current": current, "page": page, "sort": sort,
        "rows": case_rows(page.object_list, profile, now),
        "query": urlencode({"tab": current.key}),
        "query_with_sort": urlencode({"tab": current.key, "sort": sort}),
        "bulk": _bulk_choices(request, profile),
        "verifiers": _verifiers(request, profile),
        "source": "inbox",
    })


@login_required
def inbox_export(request: HttpRequest) -> HttpResponse:
    if (denied := _need_profile(request)) is not None:
        return denied
    now = timezone.now()
    qs = inbox_tab(request.user, str(request.GET.get("tab", "")), now)
    if qs is None:
        raise Http404
    return _export(request, qs.select_related("county", "lead_department"), now,
                   what=f"inbox:{request.GET.get('tab')}")


def _verifiers(request: HttpRequest, profile: Any) -> Any:
    if profile is None or profile.role not in (Role.COUNTY, Role.CITY):
        return None
    return list(assignable_users(request.user))


def _bulk_choices(request: HttpRequest, profile: Any) -> list[tuple[str, str]]:
    """The bulk actions this role has on a list page (the preview says what applies)."""
    if profile is None or profile.role == Role.LEADER:
        return []
    names = {
        Role.CITY: ("dispatch", "clear", "send_back", "assign"),
        Role.COUNTY: ("sign", "assign", "start_verification", "request_clearance"),
        Role.DEPARTMENT: ("sign", "start_verification", "request_clearance"),
        Role.VERIFIER: ("start_verification",),
    }.get(profile.role, ())
    return [(n, str(ACTIONS[n].label)) for n in names]


def _filter_choices() -> dict[str, object]:
    return {
        "counties": Division.objects.filter(
            parent__code=settings.QINGLING_CITY_CODE, level="county"
        ),
        "states": State.choices,
        "list_types": [*ListType.choices, ("monitoring", _("Found by monitoring"))],
        "grades": Grade.choices,
        "subject_types": SubjectType.choices,
        "departments": Department.objects.filter(is_active=True),
    }


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    if (denied := _need_profile(request)) is not None:
        return denied
    now = timezone.now()
    f = CaseFilters.from_params(request.GET)
    if f.week:
        try:
            f.week = str(IsoWeek.parse(f.week))
        except ValueError as exc:
            # A mistyped week is said, not answered with an empty list.
            messages.error(request, str(exc))
            f.week = ""
    qs = cases_filtered(request.user, f, now)
    page = case_page(qs, request.GET.get("page"))
    _audit_search(request, f.q, page.paginator.count)
    params = {k: v for k, v in request.GET.items() if k not in ("page", "sort") and v}
    return render(request, "cases/list.html", {
        "page": page,
        "rows": case_rows(page.object_list, profile_of(request.user), now),
        "bulk": _bulk_choices(request, profile_of(request.user)),
        "verifiers": _verifiers(request, profile_of(request.user)),
        "source": "cases",
        "f": f,
        "now": now,
        "query": urlencode(params),
        "query_with_sort": urlencode({**params, "sort": f.sort}),
        **_filter_choices(),
    })


def _audit_search(request: HttpRequest, q: str, found: int) -> None:
    """A search that may match a person's name, ID number or phone is recorded (the
    query itself masked: the audit log is no place to copy personal data to)."""
    if q and can_search_personal(profile_of(request.user)):
        audit_record(actor=request.user, action="search_personal", obj=request.user,
                     data={"q": mask_name(q), "length": len(q), "found": found})


@login_required
def case_export(request: HttpRequest) -> HttpResponse:
    if (denied := _need_profile(request)) is not None:
        return denied
    now = timezone.now()
    f = CaseFilters.from_params(request.GET)
    return _export(request, cases_filtered(request.user, f, now), now, what="cases")


def _export(request: HttpRequest, qs: Any, now: Any, *, what: str) -> HttpResponse:
    """The cases a page shows as XLSX (formula cells escaped), in the user's scope: every
    queryset given here starts from ``visible_cases``."""
    profile = profile_of(request.user)
    qs = qs.select_related("county", "township", "lead_department", "assignee")[:EXPORT_LIMIT]
    # Personal data in clear only with a reason (recorded), and only for roles that may.
    reason = str(request.GET.get("reason", "")).strip()
    clear = bool(reason) and can_see_personal(profile)
    headers = [
        _("Case"), _("County"), _("Township"), _("Subject"), _("ID number"), _("Phone"),
        _("Address"), _("IP"), _("List"), _("Subject type"), _("Behaviour"), _("Grade"),
        _("Lead department"), _("State"), _("Assigned to"), _("Key list"), _("Stock list"),
        _("Due"), _("Overdue"), _("Rebounds"), _("Latest week"), _("Cleared"),
    ]

    def rows() -> Iterator[list[Any]]:
        for c in qs.iterator(chunk_size=2000):
            p = personal(c, profile, revealed=clear)
            yield [
                c.reference, c.county.name if c.county else "",
                c.township.name if c.township else "", p.name, p.id_number, p.phone,
                p.address, c.ip_summary, list_labels(c),
                c.get_subject_type_display(), c.get_behaviour_display(), c.grade,
                c.lead_department.name if c.lead_department else "", c.get_state_display(),
                c.assignee.get_username() if c.assignee else "",
                _("yes") if c.on_key_list else "", _("yes") if c.on_stock_list else "",
                c.due_at, _("yes") if c.is_overdue(now) else "", c.rebound_count,
                c.last_week, c.cleared_at,
            ]

    data = build_xlsx(_("Cases"), [str(h) for h in headers], rows())
    audit_record(
        actor=request.user, action="export", obj=request.user,
        data={"what": what, "personal": clear,
              "filters": {k: v for k, v in request.GET.items() if k not in ("q", "reason")}},
        comment=reason if clear else "",
    )
    return xlsx_response(data, "qingling-cases", now)


def _case_or_404(request: HttpRequest, case_id: int) -> Case:
    case = visible_cases(request.user).select_related(
        "county", "township", "zone", "lead_department", "assignee"
    ).filter(pk=case_id).first()
    if case is None:
        # Same answer for "does not exist" and "not yours": IDs reveal nothing.
        raise Http404(_("No such case in your area."))
    return case


@login_required
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    if (denied := _need_profile(request)) is not None:
        return denied
    return _detail(request, _case_or_404(request, case_id), revealed=False)


@login_required
@require_POST
def case_reveal(request: HttpRequest, case_id: int) -> HttpResponse:
    """The case page with personal data in clear, for this response only (audited)."""
    if (denied := _need_profile(request)) is not None:
        return denied
    case = _case_or_404(request, case_id)
    try:
        personal_reveal(case_id=case.pk, actor=request.user,
                        reason=str(request.POST.get("reason", "")))
    except WorkflowError as exc:
        messages.error(request, str(exc))
        return redirect("case_detail", case_id=case_id)
    return _detail(request, case, revealed=True)


def _detail(request: HttpRequest, case: Case, revealed: bool) -> HttpResponse:
    profile = profile_of(request.user)
    now = timezone.now()
    ips = case.ips.annotate(
        n_batches=Count("appearances__batch", distinct=True),
        n_cases=Count("cases", distinct=True),
    ).order_by("value")
    appearances = case.appearances.select_related("batch", "ip").order_by(
        "-batch__week", "-batch_id"
    )[:200]
    can_act = profile is not None and profile.role != Role.LEADER
    can_visit = profile is not None and profile.role in (
        Role.COUNTY, Role.VERIFIER, Role.DEPARTMENT) and case.state in (
        State.SIGNED, State.VERIFYING, State.CONFIRMED, State.RECTIFYING)
    return render(request, "cases/detail.html", {
        "case": case,
        "p": personal(case, profile, revealed),
        "revealed": revealed and can_see_personal(profile),
        "may_reveal": can_see_personal(profile),
        "ips": ips,
        "appearances": appearances,
        "timeline": case.audit.select_related("actor").order_by("at", "id"),
        "visits": case.visits.select_related("verifier"),
        "evidence": case.evidence.select_related("uploaded_by"),
        "image_types": IMAGE_TYPES,
        "transitions": allowed_transitions(case, profile) if can_act else [],
        "irreversible": IRREVERSIBLE,
        "confirm_text": _("This cannot be undone from your desk. Go ahead?"),
        "transition_form": TransitionForm(initial={"county": case.county_id}),
        "visit_form": VisitForm(initial=_visit_initial(case)) if can_visit else None,
        "overrides": [str(OVERRIDE_LABELS[f]) for f in case.overrides or []
                      if f in OVERRIDE_LABELS],
        "correction_form": (CorrectionForm(initial={
            "subject_type": case.subject_type, "behaviour": case.behaviour, "grade": case.grade,
            "lead_department": case.lead_department_id})
            if profile is not None and profile.role == Role.CITY else None),
        "evidence_form": EvidenceForm() if can_act and case.is_open() else None,
        "overdue": case.is_overdue(now),
        "now": now,
        "behaviours": Behaviour.choices,
        "co_departments": case.co_departments.all(),
        "verifiers": (_verifiers(request, profile) if case.state in ASSIGNABLE_STATES
                      else None),
    })


def _visit_initial(case: Case) -> dict[str, Any]:
    """What the visit form starts with: what the case already says of a unit (its name,
    credit code and address are public facts). A person's particulars stay masked on the
    page, so they are never put into a form field in clear."""
    person = case.subject_type in (SubjectType.RESIDENTIAL, SubjectType.UNKNOWN)
    initial: dict[str, Any] = {}
    if case.behaviour != Behaviour.UNDETERMINED:
        initial["behaviour"] = case.behaviour
    if not person:
        initial.update(subject_name=case.subject_name, address=case.address,
                       subject_id=case.uscc)
    return initial


@login_required
@require_POST
def case_act(request: HttpRequest, case_id: int, action: str) -> HttpResponse:
    if (denied := _need_profile(request)) is not None:
        return denied
    _case_or_404(request, case_id)
    if action not in TRANSITIONS or TRANSITIONS[action].desk_only:
        # The triage desk's moves need what only that page asks for (a category, the case
        # to merge into): they go through the bulk preview, never this button.
        raise Http404
    form = TransitionForm(request.POST)
    form.is_valid()
    county = form.cleaned_data.get("county")
    try:
        case = case_transition(
            case_id=case_id,
            action=action,
            actor=request.user,
            comment=form.cleaned_data.get("comment", ""),
            county_id=county.pk if county else None,
        )
        messages.success(request, _("%(label)s: done. The case is now “%(state)s”.") % {
            "label": TRANSITIONS[action].label, "state": case.get_state_display()})
    except WorkflowError as exc:
        messages.error(request, str(exc))
    return redirect("case_detail", case_id=case_id)


@login_required
@require_POST
def case_visit(request: HttpRequest, case_id: int) -> HttpResponse:
    if (denied := _need_profile(request)) is not None:
        return denied
    _case_or_404(request, case_id)
    form = VisitForm(request.POST, request.FILES)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, _("%(field)s: %(errors)s") % {
                "field": form.fields[field].label if field in form.fields else "",
                "errors": " ".join(str(e) for e in errors)})
        return redirect("case_detail", case_id=case_id)
    data = dict(form.cleaned_data)
    upload = data.pop("photo")
    try:
        visit = visit_record(case_id=case_id, actor=request.user, **data)
        if upload is not None:
            evidence_add(case_id=case_id, actor=request.user, stream=upload,
                         original_name=upload.name or "upload", visit_id=visit.pk)
        messages.success(request, _("Visit recorded."))
    except (WorkflowError, UploadRejected) as exc:
        messages.error(request, str(exc))
    return redirect("case_detail", case_id=case_id)


@login_required
@require_POST
def case_correct_view(request: HttpRequest, case_id: int) -> HttpResponse:
    """The city corrects type, behaviour, grade or lead department (reason required)."""
    if (denied := _need_profile(request)) is not None:
        return denied
    _case_or_404(request, case_id)
    form = CorrectionForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, _("%(field)s: %(errors)s") % {
                "field": form.fields[field].label if field in form.fields else "",
                "errors": " ".join(str(e) for e in errors)})
        return redirect("case_detail", case_id=case_id)
    d = form.cleaned_data
    try:
        case_correct(case_id=case_id, actor=request.user, reason=d["reason"],
                     subject_type=d["subject_type"], behaviour=d["behaviour"], grade=d["grade"],
                     lead_department_id=d["lead_department"].pk if d["lead_department"] else None)
        messages.success(request, _("Classification corrected."))
    except WorkflowError as exc:
        messages.error(request, str(exc))
    return redirect("case_detail", case_id=case_id)


@login_required
@require_POST
def case_evidence(request: HttpRequest, case_id: int) -> HttpResponse:
    if (denied := _need_profile(request)) is not None:
        return denied
    _case_or_404(request, case_id)
    form = EvidenceForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Choose a file to upload."))
        return redirect("case_detail", case_id=case_id)
    upload = form.cleaned_data["file"]
    try:
        evidence_add(case_id=case_id, actor=request.user, stream=upload,
                     original_name=upload.name or "upload", caption=form.cleaned_data["caption"])
        messages.success(request, _("Evidence added."))
    except (WorkflowError, UploadRejected) as exc:
        messages.error(request, str(exc))
    return redirect("case_detail", case_id=case_id)


@login_required
def evidence_download(request: HttpRequest, evidence_id: int) -> HttpResponse | FileResponse:
    if profile_of(request.user) is None:
        return HttpResponseForbidden()
    ev = Evidence.objects.filter(pk=evidence_id, case__in=visible_cases(request.user)).first()
    if ev is None:
        raise Http404
    path = Path(settings.MEDIA_ROOT) / ev.storage_path
    if not path.is_file():
        raise Http404(_("The stored file is missing."))
    # Evidence can show people and homes: who opened which file is kept.
    audit_record(actor=request.user, action="download", obj=ev, case=ev.case,
                 data={"sha256": ev.sha256})
    resp = FileResponse(path.open("rb"), content_type=ev.content_type)
    # Only pictures open in the browser. A PDF or office file may carry script: it is
    # downloaded, and even if a browser renders it, the sandbox gives it no origin.
    inline = ev.content_type in IMAGE_TYPES
    resp["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'"
    resp["Content-Disposition"] = (
        f"{'inline' if inline else 'attachment'}; filename=\"evidence-{ev.pk}"
        f"{path.suffix}\""
    )
    return resp


@login_required
def evidence_thumb(request: HttpRequest, evidence_id: int) -> HttpResponse | FileResponse:
    """A picture's thumbnail for the case page, in the same scope as the picture."""
    if profile_of(request.user) is None:
        return HttpResponseForbidden()
    ev = Evidence.objects.filter(pk=evidence_id, case__in=visible_cases(request.user)).first()
    path = thumbnail(ev) if ev is not None else None
    if path is None:
        raise Http404
    resp = FileResponse(path.open("rb"), content_type="image/jpeg")
    resp["Content-Security-Policy"] = "sandbox; default-src 'none'"
    resp["Cache-Control"] = "private, max-age=86400"
    return resp


@login_required
def warning_list_view(request: HttpRequest) -> HttpResponse:
    """Known shared egress addresses (city coordinator edits; others may not see it)."""
    from qingling.cases.forms_warning import WarningEntryForm
    from qingling.cases.models import WarningEntry

    p = profile_of(request.user)
    if p is None or p.role != Role.CITY:
        return render(request, "org/no_role.html", status=403)
    form = WarningEntryForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            entry = form.save(commit=False)
            entry.added_by_id = request.user.pk
            entry.save()
            audit_record(actor=request.user, action="warning_add", obj=entry,
                         data={"network": entry.network, "kind": entry.kind})
            messages.success(request, _("Added %(n)s.") % {"n": entry.network})
            return redirect("warning_list")
    entries = WarningEntry.objects.all()
    return render(request, "cases/warning_list.html", {"form": form, "entries": entries})


@login_required
def warning_export(request: HttpRequest) -> HttpResponse:
    from qingling.cases.models import WarningEntry

    p = profile_of(request.user)
    if p is None or p.role != Role.CITY:
        return render(request, "org/no_role.html", status=403)
    rows = [[e.network, e.get_kind_display(), e.name, e.note,
             _("yes") if e.is_active else _("no"),
             e.added_by.get_username() if e.added_by else "", e.created_at]
            for e in WarningEntry.objects.select_related("added_by")]
    headers = [_("Address or network"), _("Kind"), _("Name"), _("Note"), _("Active"),
               _("Added by"), _("Created")]
    audit_record(actor=request.user, action="export", obj=request.user,
                 data={"what": "warning_list", "personal": False})
    return xlsx_response(build_xlsx(_("Warning lists"), [str(h) for h in headers], rows),
                         "qingling-warning-list", timezone.now())


@login_required
@require_POST
def warning_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    from qingling.cases.models import WarningEntry

    p = profile_of(request.user)
    if p is None or p.role != Role.CITY:
        return HttpResponseForbidden()
    entry = get_object_or_404(WarningEntry, pk=pk)
    WarningEntry.objects.filter(pk=pk).update(is_active=not entry.is_active)
    audit_record(actor=request.user, action="warning_toggle", obj=entry,
                 data={"network": entry.network, "active": not entry.is_active})
    messages.success(request, (_("%(n)s is active again.") if not entry.is_active
                               else _("%(n)s is switched off.")) % {"n": entry.network})
    return redirect("warning_list")
