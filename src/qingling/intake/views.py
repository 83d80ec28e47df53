from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from qingling.audit.services import audit_record
from qingling.common.xlsx import build_xlsx
from qingling.intake import jobs as import_jobs
from qingling.intake.forms import ImportForm
from qingling.intake.models import ListBatch, ListRow
from qingling.intake.validate import stored_reason
from qingling.jobs.models import Job
from qingling.jobs.runner import discard_spool, enqueue, hand_over_spool, start
from qingling.org.models import Role
from qingling.org.scope import profile_of


def _city_wide(request: HttpRequest) -> bool:
    """Whole list files span every county: only city-wide roles see them."""
    p = profile_of(request.user)
    return p is not None and (p.role == Role.CITY or (p.role == Role.LEADER and not p.county_id))


@login_required
def batch_list(request: HttpRequest) -> HttpResponse:
    if not _city_wide(request):
        return render(request, "org/no_role.html", status=403)
    page = Paginator(ListBatch.objects.select_related("imported_by"), 30).get_page(
        request.GET.get("page")
    )
    return render(request, "intake/batch_list.html", {"page": page})


@login_required
def batch_list_export(request: HttpRequest) -> HttpResponse:
    if not _city_wide(request):
        return render(request, "org/no_role.html", status=403)
    rows = ([b.pk, b.week, b.get_list_type_display(), b.file_name, b.get_status_display(),
             b.row_count, b.rejected_count, b.diff.get("new"), b.diff.get("present"),
             b.diff.get("reappeared"), b.diff.get("absent"), b.imported_at,
             b.imported_by.get_username() if b.imported_by else "CLI"]
            for b in ListBatch.objects.select_related("imported_by").iterator())
    data = build_xlsx(_("Imported lists"), [
        _("Batch"), _("Week"), _("List"), _("File"), _("Status"), _("Rows"), _("Rejected"),
        _("New"), _("Still present"), _("Reappeared"), _("Absent"), _("Imported"),
        _("imported by")], rows)
    audit_record(actor=request.user, action="export", obj=request.user,
                 data={"what": "list batches"})
    resp = HttpResponse(
        data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    resp["Content-Disposition"] = 'attachment; filename="qingling-lists.xlsx"'
    return resp


@login_required
def batch_detail(request: HttpRequest, batch_id: int) -> HttpResponse:
    if not _city_wide(request):
        return render(request, "org/no_role.html", status=403)
    batch = ListBatch.objects.filter(pk=batch_id).first()
    if batch is None:
        raise Http404
    rejected = batch.rows.filter(accepted=False).order_by("row_number")[:500]
    return render(request, "intake/batch_detail.html", {
        "batch": batch,
        "rejected": rejected,
        "sections": _diff_rows(batch),
    })


DIFF_ROWS = 200


def _diff_rows(batch: ListBatch) -> list[dict[str, object]]:
    """Which rows were new, still present, reappeared, and which IPs of the previous
    batch are absent (the first ``DIFF_ROWS`` of each, with their cases)."""
    from qingling.intake.models import Appearance

    out: list[dict[str, object]] = []
    for change in (Appearance.Change.NEW, Appearance.Change.PRESENT,
                   Appearance.Change.REAPPEARED):
        qs = (batch.appearances.filter(change=change).select_related("ip", "row")
              .order_by("row__row_number"))
        out.append({"key": str(change), "count": qs.count(), "rows": [
            {"row": a.row.row_number, "ip": a.ip.value, "case": a.case_id,
             "case_ref": f"QL{a.case_id:07d}"} for a in qs[:DIFF_ROWS]]})
    absent: list[dict[str, object]] = []
    count = 0
    if batch.previous_id is not None:
        here = batch.appearances.values("ip_id")
        qs = (Appearance.objects.filter(batch_id=batch.previous_id).exclude(ip_id__in=here)
              .select_related("ip").order_by("ip__value"))
        count = qs.count()
        absent = [{"row": None, "ip": a.ip.value, "case": a.case_id,
                   "case_ref": f"QL{a.case_id:07d}"} for a in qs[:DIFF_ROWS]]
    out.append({"key": "absent", "count": count, "rows": absent})
    return out


@login_required
def batch_rejected_export(request: HttpRequest, batch_id: int) -> HttpResponse:
    if not _city_wide(request):
        return render(request, "org/no_role.html", status=403)
    batch = ListBatch.objects.filter(pk=batch_id).first()
    if batch is None:
        raise Http404
    # Every original column, in the file's order, beside the reasons: the row can be fixed
    # in the sheet and the sheet imported again.
    ordered = batch.ordered_columns
    by_field = {f: h for h, f in ordered if f}
    headers = [h for h, _f in ordered]

    def cells(r: ListRow) -> list[str]:
        out = []
        for h in headers:
            f = batch.columns.get(h)
            out.append(r.fields.get(f, "") if f and by_field.get(f) == h
                       else r.extra.get(h, ""))
        return out

    rows = (
        [r.row_number, "; ".join(f"{x['column']}: {stored_reason(x)}" for x in r.reasons),
         *cells(r)]
        for r in batch.rows.filter(accepted=False).order_by("row_number")
    )
    data = build_xlsx(_("Rejected rows"), [_("Row"), _("Reasons"), *headers], rows)
    audit_record(actor=request.user, action="export", obj=batch,
                 data={"what": "rejected rows", "personal": True})
    resp = HttpResponse(
        data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    resp["Content-Disposition"] = f'attachment; filename="batch-{batch.pk}-rejected.xlsx"'
    return resp


def _remap_of(request: HttpRequest, preview: dict[str, object]) -> dict[str, str]:
    """The officer's choice of field for each column the aliases did not know."""
    fields = {k for k, _label in preview.get("fields", [])}  # type: ignore[attr-defined]
    out: dict[str, str] = {}
    for col in preview.get("columns", []):  # type: ignore[attr-defined]
        chosen = request.POST.get(f"map-{col['index']}", "")
        if chosen in fields and col["header"] and not col["known"]:
            out[col["header"]] = chosen
    return out


@login_required
@require_POST
def batch_import_confirm(request: HttpRequest, job_id: int) -> HttpResponse:
    """The preview's buttons: import as previewed, preview again with other columns, or
    cancel (the spooled file is deleted)."""
    p = profile_of(request.user)
    if p is None or p.role != Role.CITY:
        return render(request, "org/no_role.html", status=403)
    preview = Job.objects.filter(pk=job_id, kind=import_jobs.PREVIEW,
                                 created_by_id=request.user.pk).first()
    if preview is None:
        raise Http404
    if preview.state != Job.State.DONE or not preview.spool:
        messages.warning(request, _("This preview was used or cancelled already: upload the "
                                    "file again."))
        return redirect("batch_import")
    action = request.POST.get("action", "import")
    if action == "cancel":
        discard_spool(preview)
        audit_record(actor=request.user, action="job_cancel", obj=preview,
                     comment=preview.title)
        messages.info(request, _("The import was cancelled; nothing was written."))
        return redirect("batch_import")
    remap = {**preview.params.get("remap", {}), **_remap_of(request, preview.result)}
    params = {k: v for k, v in preview.params.items()
              if k not in ("keep_spool", "language", "remap")}
    small = int(params.get("size", 0)) <= settings.QINGLING_INLINE_IMPORT_BYTES
    if action == "repreview":
        job = enqueue(import_jobs.PREVIEW, user=request.user, title=preview.title,
                      params={**params, "remap": remap, "keep_spool": True})
        hand_over_spool(preview, job)
        if small:
            start(job)
        return redirect("job_detail", pk=job.pk)
    params["accept_valid"] = request.POST.get("accept_valid") == "1"
    job = enqueue(import_jobs.KIND, user=request.user,
                  title=import_jobs.title_of(params["file_name"], params["list_type"],
                                             params["week"]),
                  params={**params, "remap": remap, "inline": small})
    hand_over_spool(preview, job)
    if not small:
        return redirect("job_detail", pk=job.pk)
    job = start(job)
    if job.state == Job.State.DONE:
        r = job.result
        if r.get("duplicate_of") is not None:
            messages.info(request, _(
                "This file was already imported (batch %(id)s); nothing changed."
            ) % {"id": r["duplicate_of"]})
            return redirect("batch_detail", batch_id=r["duplicate_of"])
        messages.success(request, _(
            "%(rows)s rows read: %(accepted)s imported, %(rejected)s rejected; "
            "%(new)s new, %(present)s still present, %(reappeared)s reappeared, "
            "%(absent)s absent."
        ) % r)
        return redirect("batch_detail", batch_id=r["batch_id"])
    return redirect("job_detail", pk=job.pk)


@login_required
def batch_import(request: HttpRequest) -> HttpResponse:
    p = profile_of(request.user)
    if p is None or p.role != Role.CITY:
        return render(request, "org/no_role.html", status=403)
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > settings.QINGLING_LIST_MAX_BYTES:
                form.add_error("file", _("The file is too large."))
            else:
                data = upload.read()
                name = upload.name or "upload"
                params = import_jobs.params_of(
                    file_name=name, list_type=form.cleaned_data["list_type"],
                    week=form.cleaned_data["week"], issuer=form.cleaned_data["issuer"],
                    accept_valid=form.cleaned_data["accept_valid"])
                job = enqueue(
                    import_jobs.PREVIEW, user=request.user, data=data,
                    title=import_jobs.preview_title(name, params["list_type"], params["week"]),
                    params={**params, "size": len(data), "keep_spool": True})
                if len(data) <= settings.QINGLING_INLINE_IMPORT_BYTES:
                    start(job)  # a small file is previewed while the officer waits
                return redirect("job_detail", pk=job.pk)
    else:
        form = ImportForm()
    return render(request, "intake/import.html", {"form": form})
