from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from qingling.common.xlsx import build_xlsx
from qingling.intake import jobs as import_jobs
from qingling.intake.forms import ImportForm
from qingling.intake.models import ListBatch
from qingling.intake.validate import stored_reason
from qingling.jobs.models import Job
from qingling.jobs.runner import enqueue, start
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
        "changes": batch.appearances.values_list("change", flat=True),
    })


@login_required
def batch_rejected_export(request: HttpRequest, batch_id: int) -> HttpResponse:
    if not _city_wide(request):
        return render(request, "org/no_role.html", status=403)
    batch = ListBatch.objects.filter(pk=batch_id).first()
    if batch is None:
        raise Http404
    rows = (
        [r.row_number, r.ip_text,
         "; ".join(f"{x['column']}: {stored_reason(x)}" for x in r.reasons)]
        for r in batch.rows.filter(accepted=False).order_by("row_number")
    )
    data = build_xlsx(_("Rejected rows"), [_("Row"), _("IP address"), _("Reasons")], rows)
    resp = HttpResponse(
        data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    resp["Content-Disposition"] = f'attachment; filename="batch-{batch.pk}-rejected.xlsx"'
    return resp


@login_required
def batch_import(request: HttpRequest) -> HttpResponse:
    p = profile_of(request.user)
    if p is None or p.role != Role.CITY:
        return render(request, "org/no_role.html", status=403)
    report: Job | None = None
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > settings.QINGLING_LIST_MAX_BYTES:
                form.add_error("file", _("The file is too large."))
            else:
                data = upload.read()
                name = upload.name or "upload"
                big = len(data) > settings.QINGLING_INLINE_IMPORT_BYTES
                job = enqueue(
                    import_jobs.KIND, user=request.user,
                    title=import_jobs.title_of(name, form.cleaned_data["list_type"],
                                               str(form.cleaned_data["week"])),
                    params=import_jobs.params_of(
                        file_name=name, list_type=form.cleaned_data["list_type"],
                        week=form.cleaned_data["week"], issuer=form.cleaned_data["issuer"],
                        accept_valid=form.cleaned_data["accept_valid"], inline=not big),
                    data=data if big else None)
                if big:  # the worker imports it; its page follows the progress
                    return redirect("job_detail", pk=job.pk)
                job = start(job, data=data)
                if job.state != Job.State.DONE:
                    if job.state == Job.State.FAILED and job.result.get("rejected"):
                        report = job
                    elif job.state == Job.State.FAILED:
                        form.add_error("file", job.error)
                    else:  # another import is running: this one waits its turn
                        return redirect("job_detail", pk=job.pk)
                else:
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
    else:
        form = ImportForm()
    return render(request, "intake/import.html", {"form": form, "report": report})
