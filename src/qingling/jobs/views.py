from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from qingling.jobs import registry, runner
from qingling.jobs.models import Job


def _mine(request: HttpRequest) -> Any:
    """A user sees the jobs they started (an administrator sees all)."""
    qs = Job.objects.select_related("created_by")
    if not request.user.is_superuser:
        qs = qs.filter(created_by_id=request.user.pk)
    return qs


def _job(request: HttpRequest, pk: int) -> Job:
    job = _mine(request).filter(pk=pk).first()
    if job is None:
        raise Http404
    return job


def _status(job: Job) -> dict[str, Any]:
    return {"id": job.pk, "state": job.state, "state_label": str(job.get_state_display()),
            "stage": job.stage, "done": job.done, "total": job.total, "percent": job.percent,
            "finished": job.finished, "error": job.error,
            "url": job.result.get("url", "") if job.state == Job.State.DONE else ""}


@login_required
def job_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(_mine(request), 30).get_page(request.GET.get("page"))
    return render(request, "jobs/job_list.html", {"page": page})


@login_required
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    waiting = job.state == Job.State.QUEUED and not runner.worker_alive()
    return render(request, registry.template(job.kind), {
        "job": job, "status": _status(job), "no_worker": waiting,
        "refresh": not job.finished})


@login_required
def job_status(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse(_status(_job(request, pk)))


@login_required
@require_POST
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    if runner.cancel(job, request.user):
        messages.success(request, _("The job was cancelled."))
    else:
        messages.warning(request, _("Only a job that has not started can be cancelled."))
    return redirect("job_detail", pk=job.pk)
