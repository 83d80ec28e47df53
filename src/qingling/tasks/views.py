"""Department task pages: a department's inbox across counties (bulk start, export), the
moves posted from the case page. Every view starts from ``visible_tasks``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from qingling.audit.services import audit_record
from qingling.cases.presenters import personal
from qingling.cases.uploads import UploadRejected
from qingling.common.weeks import SHANGHAI
from qingling.common.xlsx import build_xlsx
from qingling.org.models import Department, Role
from qingling.org.scope import profile_of
from qingling.tasks.forms import SensitiveForm, TaskActForm
from qingling.tasks.models import DepartmentTask, TaskDigest
from qingling.tasks.selectors import task_inbox
from qingling.tasks.services import (
    MOVES,
    TaskError,
    sensitive_mark,
    task_move,
    tasks_bulk_start,
    visible_tasks,
)

SHOWN = 100
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _rows(tasks: Any, profile: Any, now: Any) -> list[dict[str, Any]]:
    # Only what the role may see of each case: personal data masked by the one presenter.
    return [{"task": t, "subject": personal(t.case, profile).name,
             "overdue": t.is_overdue(now)} for t in tasks]


@login_required
def task_inbox_view(request: HttpRequest) -> HttpResponse:
    profile = profile_of(request.user)
    if profile is None:
        return render(request, "org/no_role.html", status=403)
    now = timezone.now()
    department = request.GET.get("department", "") if profile.role != Role.DEPARTMENT else ""
    box = task_inbox(request.user, now, department)
    sections = [("overdue", _("Overdue"), box.overdue),
                ("due_soon", _("Due within two days"), box.due_soon),
                ("open", _("Open"), box.open),
                ("waiting", _("Waiver requested"), box.waiting),
                ("done", _("Done or waived"), box.done)]
    shown = [(key, label, _rows(qs[:SHOWN], profile, now), qs.count())
             for key, label, qs in sections]
    return render(request, "tasks/inbox.html", {
        "sections": shown, "department": department,
        "departments": (Department.objects.filter(is_active=True)
                        if profile.role != Role.DEPARTMENT else None),
        "may_start": profile.role == Role.DEPARTMENT,
        "digest": (TaskDigest.objects.filter(department=profile.department,
                                             day=now.astimezone(SHANGHAI).date()).first()
                   if profile.role == Role.DEPARTMENT else None),
    })


@login_required
def task_export(request: HttpRequest) -> HttpResponse:
    profile = profile_of(request.user)
    if profile is None:
        return render(request, "org/no_role.html", status=403)
    now = timezone.now()
    qs = visible_tasks(request.user).order_by("department__code", "due_at", "id")
    department = request.GET.get("department", "")
    if department and profile.role != Role.DEPARTMENT:
        qs = qs.filter(department__code=department)
    headers = [_("Case"), _("County"), _("Subject"), _("Unified social credit code"),
               _("Department"), _("Task"), _("Due"), _("State"), _("Overdue"), _("Outcome"),
               _("Institution or measure"), _("Amount (yuan)"), _("Effective on")]

    def rows() -> Iterator[list[Any]]:
        for t in qs.iterator(chunk_size=2000):
            yield [t.case.reference, t.case.county.name if t.case.county else "",
                   personal(t.case, profile).name, t.case.uscc, t.department.name,
                   t.kind.name, timezone.localtime(t.due_at).replace(tzinfo=None),
                   t.get_state_display(), _("yes") if t.is_overdue(now) else "", t.outcome,
                   t.institution, t.amount, t.effective_on]

    data = build_xlsx(_("Department tasks"), [str(h) for h in headers], rows())
    audit_record(actor=request.user, action="export", obj=request.user,
                 data={"what": "tasks", "department": department})
    resp = HttpResponse(data, content_type=XLSX)
    resp["Content-Disposition"] = (
        f'attachment; filename="qingling-tasks-{timezone.localtime(now):%Y%m%d-%H%M}.xlsx"')
    return resp


@login_required
@require_POST
def task_bulk(request: HttpRequest) -> HttpResponse:
    ids = [int(v) for v in request.POST.getlist("task") if v.isdigit()]
    n = tasks_bulk_start(task_ids=ids, actor=request.user)
    messages.success(request, _("%(n)d of %(total)d tasks started.") % {"n": n,
                                                                       "total": len(ids)})
    return redirect("task_inbox")


def _back(request: HttpRequest, task: DepartmentTask | None) -> HttpResponse:
    nxt = request.POST.get("next", "")
    if nxt and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        return redirect(nxt)
    if task is not None:
        return redirect("case_detail", case_id=task.case_id)
    return redirect("task_inbox")


@login_required
@require_POST
def task_act(request: HttpRequest, task_id: int, move: str) -> HttpResponse:
    task = visible_tasks(request.user).filter(pk=task_id).first()
    if task is None or move not in MOVES:
        messages.error(request, _("No such task for you."))
        return _back(request, None)
    form = TaskActForm(request.POST, request.FILES)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, _("%(field)s: %(errors)s") % {
                "field": form.fields[field].label if field in form.fields else "",
                "errors": " ".join(str(e) for e in errors)})
        return _back(request, task)
    d = form.cleaned_data
    upload = d["file"]
    try:
        task_move(task_id=task.pk, move=move, actor=request.user, comment=d["comment"],
                  outcome=d["outcome"], institution=d["institution"], amount=d["amount"],
                  effective_on=d["effective_on"], upload=upload,
                  upload_name=(upload.name or "upload") if upload is not None else "")
        messages.success(request, _("Done: %(label)s") % {"label": MOVES[move].label})
    except (TaskError, UploadRejected) as exc:
        messages.error(request, str(exc))
    return _back(request, task)


@login_required
@require_POST
def case_sensitive(request: HttpRequest, case_id: int) -> HttpResponse:
    form = SensitiveForm(request.POST)
    try:
        if not form.is_valid():
            raise TaskError(_("Give the reason for flagging the case."))
        sensitive_mark(case_id=case_id, actor=request.user, reason=form.cleaned_data["reason"])
        messages.success(request, _("Flagged as sensitive."))
    except TaskError as exc:
        messages.error(request, str(exc))
    return redirect("case_detail", case_id=case_id)


@login_required
def check_lists(request: HttpRequest) -> HttpResponse:
    """The power-market and support lists: import (grid, DRC, city) and what they matched."""
    from django import forms

    from qingling.tasks.checks import MAX_BYTES, CheckError, check_import, imports_checks
    from qingling.tasks.models import CheckList

    profile = profile_of(request.user)
    if not (imports_checks(profile) or (profile is not None and profile.role == Role.LEADER)):
        return render(request, "org/no_role.html", status=403)

    class ImportForm(forms.Form):
        kind = forms.ChoiceField(label=gettext_lazy("List"), choices=CheckList.Kind.choices)
        file = forms.FileField(label=gettext_lazy("File (XLSX or CSV)"))

    may_import = imports_checks(profile)
    form = ImportForm(request.POST or None, request.FILES or None) if may_import else None
    if request.method == "POST" and form is not None:
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                cl, made = check_import(actor=request.user, kind=form.cleaned_data["kind"],
                                        data=upload.read(MAX_BYTES + 1),
                                        file_name=upload.name or "upload")
                if made:
                    messages.success(request, _("%(rows)d rows read, %(m)d matched a confirmed "
                                                "mining subject.") % {"rows": cl.rows,
                                                                      "m": cl.matched})
                else:
                    messages.info(request, _("This list was imported already; nothing "
                                             "changed."))
                return redirect("check_detail", list_id=cl.pk)
            except CheckError as exc:
                messages.error(request, str(exc))
    return render(request, "tasks/checks.html", {
        "form": form, "lists": CheckList.objects.select_related("imported_by")[:100]})


def _xlsx(title: str, headers: list[str], rows: Any, stem: str) -> HttpResponse:
    from qingling.common.xlsx import build_xlsx

    resp = HttpResponse(build_xlsx(title, headers, rows), content_type=(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
    resp["Content-Disposition"] = f'attachment; filename="{stem}.xlsx"'
    return resp


@login_required
def check_lists_export(request: HttpRequest) -> HttpResponse:
    from qingling.tasks.checks import imports_checks
    from qingling.tasks.models import CheckList

    profile = profile_of(request.user)
    if not (imports_checks(profile) or (profile is not None and profile.role == Role.LEADER)):
        return render(request, "org/no_role.html", status=403)
    rows = ([cl.get_kind_display(), cl.file_name, cl.rows, cl.matched, cl.imported_at]
            for cl in CheckList.objects.all()[:100])
    audit_record(actor=request.user, action="export", obj=request.user,
                 data={"what": "check lists"})
    return _xlsx(_("Power-market and support checks"), [
        _("List"), _("File name"), _("Rows"), _("Matched"), _("Imported")], rows,
        "qingling-checks")


@login_required
def check_detail_export(request: HttpRequest, list_id: int) -> HttpResponse:
    from qingling.tasks.checks import imports_checks
    from qingling.tasks.models import CheckList

    profile = profile_of(request.user)
    if not (imports_checks(profile) or (profile is not None and profile.role == Role.LEADER)):
        return render(request, "org/no_role.html", status=403)
    cl = CheckList.objects.filter(pk=list_id).first()
    if cl is None:
        raise Http404
    rows = ([r.row_number, r.name, r.uscc, r.address, r.get_rule_display(),
             r.case.reference if r.case else "",
             "、".join(t.department.name for t in r.tasks.all())]
            for r in cl.entries.select_related("case").prefetch_related("tasks__department"))
    audit_record(actor=request.user, action="export", obj=request.user,
                 data={"what": "check list", "list": cl.pk})
    return _xlsx(_("Power-market and support checks"), [
        _("Row"), _("Enterprise"), _("Unified social credit code"), _("Address"), _("Rule"),
        _("Case"), _("Department tasks")], rows, f"qingling-check-{cl.pk}")


@login_required
def check_detail(request: HttpRequest, list_id: int) -> HttpResponse:
    from qingling.tasks.checks import imports_checks
    from qingling.tasks.models import CheckList

    profile = profile_of(request.user)
    if not (imports_checks(profile) or (profile is not None and profile.role == Role.LEADER)):
        return render(request, "org/no_role.html", status=403)
    cl = CheckList.objects.filter(pk=list_id).first()
    if cl is None:
        raise Http404
    rows = cl.entries.select_related("case").prefetch_related("tasks__department")
    return render(request, "tasks/check_detail.html", {"list": cl, "rows": rows})


@login_required
def task_kinds(request: HttpRequest) -> HttpResponse:
    """The routing table as the city keeps it: each kind's due period, whether it holds
    clearance, and the rules that make it."""
    from qingling.tasks.models import TaskKind
    from qingling.tasks.services import task_kind_update

    profile = profile_of(request.user)
    if profile is None or profile.role not in (Role.CITY, Role.LEADER):
        return render(request, "org/no_role.html", status=403)
    if request.method == "POST":
        try:
            days = int(request.POST.get("due_days", ""))
        except ValueError:
            days = 0
        try:
            kind = task_kind_update(actor=request.user, kind_id=int(request.POST.get("kind", 0)),
                                    due_days=days, mandatory=request.POST.get("mandatory") == "1",
                                    is_active=request.POST.get("is_active") == "1")
            messages.success(request, _("Saved: %(kind)s") % {"kind": kind.name})
        except (TaskError, ValueError) as exc:
            messages.error(request, str(exc))
        return redirect("task_kinds")
    kinds = TaskKind.objects.select_related("department").prefetch_related("rules")
    return render(request, "tasks/kinds.html", {"kinds": kinds,
                                                "editable": profile.role == Role.CITY})
