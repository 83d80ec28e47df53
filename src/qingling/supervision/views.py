"""Supervision pages: the weekly figures with charts, the close, escalations, bulletins and
the surcharge register. Every view checks the role and cuts data to the user's county."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from qingling.audit.services import audit_record
from qingling.common.weeks import SHANGHAI, IsoWeek
from qingling.common.xlsx import build_workbook
from qingling.org.models import Role
from qingling.org.scope import can_see_personal, mask_address, mask_name, profile_of
from qingling.supervision import bulletin as bul
from qingling.supervision import figures as fig
from qingling.supervision import tariff, units
from qingling.supervision.bulletin import bulletin_dir
from qingling.supervision.chartdata import chart_data
from qingling.supervision.figures import week_projects
from qingling.supervision.forms_register import AccountForm, CycleForm, CycleImportForm
from qingling.supervision.models import (
    Bulletin,
    Digest,
    Escalation,
    TariffAccount,
    TariffRate,
    WeeklyClose,
)
from qingling.supervision.projects import HEADERS as PROJECT_HEADERS
from qingling.supervision.projects import projects_xlsx, shown_rows
from qingling.supervision.register import (
    MAX_IMPORT_BYTES,
    RegisterError,
    billing_cycle_add,
    cycles_import,
    keeps_register,
    tariff_account_add,
)
from qingling.supervision.scope import county_code, may_read, scoped
from qingling.supervision.services import (
    CloseError,
    EscalationError,
    escalation_move,
    weekly_close,
)


def _reader(request: HttpRequest) -> Any:
    p = profile_of(request.user)
    return p if may_read(p) else None


def _city(request: HttpRequest) -> bool:
    p = profile_of(request.user)
    return p is not None and p.role == Role.CITY


def closable_week(now: Any) -> IsoWeek | None:
    """The latest week whose cut-off has passed and that is not closed yet."""
    week = IsoWeek.of(now)
    if now < fig.cutoff_of(week):
        week = week.shift(-1)
    return None if WeeklyClose.objects.filter(week=str(week), final=True).exists() else week


def draftable_week(now: Any) -> IsoWeek | None:
    """The current week while its cut-off is ahead: it may be closed as a draft (a drill,
    or a holiday week), and redrafted until the final close."""
    week = IsoWeek.of(now)
    if now >= fig.cutoff_of(week):
        return None
    return None if WeeklyClose.objects.filter(week=str(week), final=True).exists() else week


def latest_figures(user: Any, week: str | None = None) -> tuple[WeeklyClose | None, dict[str, Any] | None]:
    qs = WeeklyClose.objects.all()
    close = qs.filter(week=week).first() if week else qs.order_by("-week").first()
    return close, (scoped(close.figures, user) if close else None)


@login_required
def supervision_view(request: HttpRequest) -> HttpResponse:
    profile = _reader(request)
    if profile is None:
        return render(request, "org/no_role.html", status=403)
    close, figures = latest_figures(request.user, request.GET.get("week"))
    if request.GET.get("week") and close is None:
        raise Http404
    code = county_code(profile)
    escalations = Escalation.objects.none()
    if close is not None:
        escalations = Escalation.objects.filter(week=close.week).select_related("county", "case",
                                                                                "department")
        if code:
            escalations = escalations.filter(county__code=code)
    today = timezone.now().astimezone(SHANGHAI).date()
    digests = Digest.objects.filter(day=today).select_related("county")
    if code:
        digests = digests.filter(county__code=code)
    bulletin = Bulletin.objects.filter(week=close.week).first() if close else None
    files = {}
    if bulletin is not None and profile.role in (Role.CITY, Role.LEADER):
        stem = bulletin_dir() / f"bulletin-{bulletin.week}"
        files = {k: p for k, p in (("docx", stem.with_suffix(".docx")),
                                    ("xlsx", Path(f"{stem}-annex.xlsx")),
                                    ("pdf", stem.with_suffix(".pdf"))) if p.exists()}
    return render(request, "supervision/home.html", {
        "close": close, "f": figures, "digests": digests,
        "weeks": WeeklyClose.objects.values_list("week", flat=True),
        "escalations": escalations, "bulletin": bulletin, "files": files,
        "closable": closable_week(timezone.now()) if profile.role == Role.CITY else None,
        "draftable": draftable_week(timezone.now()) if profile.role == Role.CITY else None,
        "overdue_headers": bul.OVERDUE_HEADERS,
        "overdue_rows": bul.overdue_rows(figures) if figures else [],
        "doubling": bul.DOUBLING_TEXT.get((figures or {}).get("doubling", {}).get("rule", "")
                                          if figures and figures.get("doubling") else "", ""),
        "no_estimate": [s for s in (figures or {}).get("sites", []) if s["basis"] == "none"],
        "is_city": profile.role == Role.CITY,
        "charts": chart_data(figures, None if code is None else {code}) if figures else None,
        "key_headers": bul.KEY_HEADERS, "key_rows": bul.key_rows(figures) if figures else [],
        "stock_headers": bul.STOCK_HEADERS, "stock_rows": bul.stock_rows(figures) if figures else [],
        "task_headers": bul.TASK_HEADERS, "task_rows": bul.task_rows(figures) if figures else [],
        "maker_headers": bul.MAKER_HEADERS,
        "maker_rows": bul.maker_rows(figures) if figures else [],
        "energy_headers": bul.ENERGY_HEADERS,
        "energy_rows": bul.energy_rows(figures) if figures else [],
        "metric": settings.QINGLING_ASSESSMENT_METRIC,
        "counted_wan": units.wan_kwh(figures["city"]["counted_kwh"]) if figures else "",
        "factor_wan": None if not (figures and figures.get("factor")) else {
            "tce": units.per_wan_kwh(figures["factor"]["tce_per_kwh"]),
            "tco2": units.per_wan_kwh(figures["factor"]["tco2_per_kwh"])},
    })


@login_required
@require_POST
def close_week(request: HttpRequest) -> HttpResponse:
    if not _city(request):
        return HttpResponseForbidden()
    try:
        week = IsoWeek.parse(request.POST.get("week", ""))
        close, made = weekly_close(week, timezone.now(), actor=request.user,
                                   early=request.POST.get("early") == "1")
    except (ValueError, CloseError) as exc:
        messages.error(request, str(exc))
        return redirect("supervision")
    if not close.final:
        messages.warning(request, _("%(w)s closed as a draft: it can be redone until the "
                                    "final close at the cut-off.") % {"w": week})
    else:
        messages.success(request, _("%(w)s closed.") % {"w": week} if made
                         else _("%(w)s was already closed; nothing changed.") % {"w": week})
    return redirect(f"{_url('supervision')}?week={close.week}")


def _url(name: str) -> str:
    from django.urls import reverse

    return reverse(name)


@login_required
@require_POST
def escalation_action(request: HttpRequest, pk: int, move: str) -> HttpResponse:
    if not _city(request):
        return HttpResponseForbidden()
    esc = get_object_or_404(Escalation, pk=pk)
    scheduled = request.POST.get("scheduled_on") or None
    try:
        esc = escalation_move(esc, move, request.user, timezone.now(),
                              outcome=request.POST.get("outcome", ""),
                              scheduled_on=date.fromisoformat(scheduled) if scheduled else None)
        messages.success(request, _("%(kind)s for %(county)s: now %(status)s.") % {
            "kind": esc.get_kind_display(),
            "county": esc.county.name if esc.county else (
                esc.department.name if esc.department else ""),
            "status": esc.get_status_display()})
    except (EscalationError, ValueError) as exc:
        messages.error(request, str(exc))
    return redirect(f"{_url('supervision')}?week={esc.week}#escalations")


BULK_MOVES = ("approve", "dismiss")


@login_required
@require_POST
def escalations_bulk(request: HttpRequest) -> HttpResponse:
    """Approve or dismiss several proposed escalations at once: the first step shows which
    will move and which are skipped (and why); the confirmation moves each (audited each),
    all in one transaction."""
    from django.db import transaction

    if not _city(request):
        return HttpResponseForbidden()
    move = request.POST.get("move", "")
    week = request.POST.get("week", "")
    back = f"{_url('supervision')}?week={week}#escalations"
    ids = [int(x) for x in request.POST.getlist("ids") + request.POST.get("ids_csv", "").split(",")
           if x.strip().isdigit()]
    if move not in BULK_MOVES or not ids:
        messages.error(request, _("Select at least one escalation and an action."))
        return redirect(back)
    outcome = request.POST.get("outcome", "").strip()
    scheduled = request.POST.get("scheduled_on") or None
    rows = list(Escalation.objects.filter(pk__in=ids).select_related("county").order_by("id"))
    ready = [e for e in rows if e.status == Escalation.Status.PROPOSED]
    skipped = [(e, _("It is already “%(status)s”.") % {"status": e.get_status_display()})
               for e in rows if e.status != Escalation.Status.PROPOSED]
    needs_reason = move == "dismiss" and not outcome
    if request.POST.get("confirm") == "1" and not needs_reason:
        try:
            with transaction.atomic():
                when = date.fromisoformat(scheduled) if scheduled else None
                for e in ready:
                    escalation_move(e, move, request.user, timezone.now(), outcome=outcome,
                                    scheduled_on=when)
        except (EscalationError, ValueError) as exc:
            messages.error(request, str(exc))
            return redirect(back)
        messages.success(request, _("%(n)s escalations moved, %(skipped)s skipped.") % {
            "n": len(ready), "skipped": len(skipped)})
        return redirect(back)
    return render(request, "supervision/escalations_bulk.html", {
        "move": move, "move_label": _("Approve") if move == "approve" else _("Dismiss"),
        "ready": ready, "skipped": skipped, "week": week, "outcome": outcome,
        "scheduled_on": scheduled or "", "ids_csv": ",".join(str(e.pk) for e in rows),
        "needs_reason": needs_reason})


@login_required
@require_POST
def bulletin_issue(request: HttpRequest, week: str) -> HttpResponse:
    if not _city(request):
        return HttpResponseForbidden()
    try:
        files = bul.issue(IsoWeek.parse(week), bulletin_dir(), timezone.now(), actor=request.user)
    except ValueError as exc:
        messages.error(request, str(exc))
        return redirect("supervision")
    messages.success(request, _("Bulletin %(n)s written.") % {"n": files.doc_number})
    if files.pdf is None:
        messages.warning(request, files.pdf_message)
    return redirect(f"{_url('supervision')}?week={week}")


CONTENT_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


@login_required
def bulletin_download(request: HttpRequest, week: str, kind: str) -> HttpResponse | FileResponse:
    p = profile_of(request.user)
    if p is None or p.role not in (Role.CITY, Role.LEADER):
        return HttpResponseForbidden()
    bulletin = get_object_or_404(Bulletin, week=week)
    stem = f"bulletin-{bulletin.week}"
    names = {"docx": f"{stem}.docx", "xlsx": f"{stem}-annex.xlsx", "pdf": f"{stem}.pdf"}
    if kind not in names or not (bulletin_dir() / names[kind]).is_file():
        raise Http404
    audit_record(actor=request.user, action="download", obj=bulletin, data={"file": names[kind]})
    return FileResponse((bulletin_dir() / names[kind]).open("rb"), as_attachment=True,
                        filename=names[kind], content_type=CONTENT_TYPES[kind])


@login_required
def figures_export(request: HttpRequest, week: str) -> HttpResponse:
    """The week's tables as XLSX, cut to the user's county."""
    if _reader(request) is None:
        return HttpResponseForbidden()
    close = get_object_or_404(WeeklyClose, week=week)
    f = scoped(close.figures, request.user)
    data = build_workbook([("表1 重点名单清零", bul.KEY_HEADERS, bul.key_rows(f)),
                           ("表2 逾期未清零事项", bul.OVERDUE_HEADERS, bul.overdue_rows(f)),
                           ("表3 存量变化", bul.STOCK_HEADERS, bul.stock_rows(f)),
                           ("表4 能耗", bul.ENERGY_HEADERS, bul.energy_rows(f)),
                           ("表5 成员单位任务", bul.TASK_HEADERS, bul.task_rows(f))])
    resp = HttpResponse(data, content_type=CONTENT_TYPES["xlsx"])
    resp["Content-Disposition"] = f'attachment; filename="figures-{week}.xlsx"'
    return resp


def _tariff_reader(request: HttpRequest) -> Any:
    p = profile_of(request.user)
    return p if may_read(p) or keeps_register(p) else None


def _register(request: HttpRequest) -> tuple[Any, list[dict[str, Any]]]:
    profile = _tariff_reader(request)
    if profile is None:
        return None, []
    accounts = (TariffAccount.objects.select_related("case__county")
                .prefetch_related("cycles").order_by("case__county__code", "account_no"))
    code = county_code(profile)
    if code:
        accounts = accounts.filter(case__county__code=code)
    rates: dict[str, list[tariff.Rate]] = {}
    for r in TariffRate.objects.all():
        rates.setdefault(r.province_code, []).append(
            tariff.Rate(r.province_code, r.valid_from, r.yuan_per_kwh))
    personal = can_see_personal(profile)
    rows = []
    for a in accounts:
        charges = [tariff.surcharge(c.start, c.end, c.kwh, a.mining_from, a.mining_to,
                                    rates.get(a.province_code, [])) for c in a.cycles.all()]
        rows.append({
            "account": a, "county": a.case.county.name if a.case.county else "",
            "holder": a.holder if personal else mask_name(a.holder),
            "address": a.address if personal else mask_address(a.address),
            "kwh": sum((c.kwh for c in charges), Decimal(0)).quantize(tariff.CENT),
            "yuan": sum((c.yuan for c in charges), Decimal(0)),
            "cycles": len(charges),
        })
    return profile, rows


@login_required
def tariff_register(request: HttpRequest) -> HttpResponse:
    profile, rows = _register(request)
    if profile is None:
        return render(request, "org/no_role.html", status=403)
    rates = TariffRate.objects.all()
    keeper = keeps_register(profile)
    return render(request, "supervision/tariff.html", {
        "rows": rows, "rates": rates,
        "account_form": AccountForm(initial={"case_reference": request.GET.get("case", "")})
        if keeper else None,
        "cycle_form": CycleForm() if keeper else None,
        "import_form": CycleImportForm() if keeper else None})


def _form_errors(request: HttpRequest, form: Any) -> None:
    for field, errors in form.errors.items():
        messages.error(request, _("%(field)s: %(errors)s") % {
            "field": form.fields[field].label if field in form.fields else "",
            "errors": " ".join(str(e) for e in errors)})


@login_required
@require_POST
def tariff_account_new(request: HttpRequest) -> HttpResponse:
    form = AccountForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return redirect("tariff_register")
    try:
        account = tariff_account_add(actor=request.user, **form.cleaned_data)
        messages.success(request, _("Account %(no)s registered.") % {"no": account.account_no})
    except RegisterError as exc:
        messages.error(request, str(exc))
    return redirect("tariff_register")


@login_required
@require_POST
def tariff_cycle_new(request: HttpRequest) -> HttpResponse:
    form = CycleForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return redirect("tariff_register")
    try:
        billing_cycle_add(actor=request.user, **form.cleaned_data)
        messages.success(request, _("Billing cycle added."))
    except RegisterError as exc:
        messages.error(request, str(exc))
    return redirect("tariff_register")


@login_required
@require_POST
def tariff_import(request: HttpRequest) -> HttpResponse:
    form = CycleImportForm(request.POST, request.FILES)
    if not form.is_valid():
        _form_errors(request, form)
        return redirect("tariff_register")
    upload = form.cleaned_data["file"]
    try:
        result = cycles_import(actor=request.user, data=upload.read(MAX_IMPORT_BYTES + 1),
                               file_name=upload.name or "upload.xlsx")
        messages.success(request, _("%(a)d billing cycles added, %(u)d already registered.")
                         % {"a": result.added, "u": result.unchanged})
    except RegisterError as exc:
        messages.error(request, str(exc))
    return redirect("tariff_register")


@login_required
def tariff_export(request: HttpRequest) -> HttpResponse:
    """The register for the grid company: 户号, address, dates, kWh and surcharge."""
    profile, rows = _register(request)
    if profile is None:
        return HttpResponseForbidden()
    audit_record(actor=request.user, action="export_tariff_register", obj=profile,
                 data={"accounts": len(rows)})
    data = build_workbook([("惩罚性电价", [
        "户号", "县（市、区）", "户名", "用电地址", "挖矿起始", "挖矿截止", "混合用电", "计费电量（千瓦时）",
        "加价电费（元）"], [
        [r["account"].account_no, r["county"], r["holder"], r["address"],
         r["account"].mining_from, r["account"].mining_to or "", "是" if r["account"].mixed_use else "否",
         r["kwh"], r["yuan"]] for r in rows])])
    resp = HttpResponse(data, content_type=CONTENT_TYPES["xlsx"])
    resp["Content-Disposition"] = 'attachment; filename="tariff-register.xlsx"'
    return resp


@login_required
def map_geojson(request: HttpRequest) -> HttpResponse | FileResponse:
    if _reader(request) is None:
        return HttpResponseForbidden()
    path = settings.QINGLING_MAP_GEOJSON
    if path is None:
        raise Http404
    return FileResponse(Path(path).open("rb"), content_type="application/geo+json")


def _projects(request: HttpRequest) -> tuple[Any, str, list[list[Any]], WeeklyClose | None]:
    """The week's project list cut to the reader's county, subjects masked per role."""
    profile = _reader(request)
    if profile is None:
        return None, "", [], None
    asked = request.GET.get("week", "")
    try:
        week = IsoWeek.parse(asked) if asked else IsoWeek.of(timezone.now())
    except ValueError:
        raise Http404 from None
    rows, close = week_projects(week, timezone.now())
    code = county_code(profile)
    if code:
        rows = [r for r in rows if r["county"] == code]
    return profile, str(week), shown_rows(rows, profile), close


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    profile, week, rows, close = _projects(request)
    if profile is None:
        return render(request, "org/no_role.html", status=403)
    return render(request, "supervision/projects.html", {
        "week": week, "rows": rows, "headers": PROJECT_HEADERS, "close": close,
        "weeks": WeeklyClose.objects.values_list("week", flat=True)})


@login_required
def project_export(request: HttpRequest) -> HttpResponse:
    profile, week, rows, close = _projects(request)
    if profile is None:
        return HttpResponseForbidden()
    audit_record(actor=request.user, action="export", obj=profile,
                 data={"what": "projects", "week": week, "rows": len(rows)})
    resp = HttpResponse(projects_xlsx(rows, week, None if close is None else close.final),
                        content_type=CONTENT_TYPES["xlsx"])
    resp["Content-Disposition"] = f'attachment; filename="projects-{week}.xlsx"'
    return resp
