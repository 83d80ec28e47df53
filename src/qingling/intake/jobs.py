"""The list import as a background job (registered in IntakeConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from qingling.common.weeks import IsoWeek
from qingling.intake.readers import ListFileError
from qingling.intake.services import ListRejected, import_list, preview_list
from qingling.intake.validate import stored_reason
from qingling.jobs.models import Job
from qingling.jobs.runner import JobFailed, Reporter

KIND = "import_list"
PREVIEW = "import_preview"
SHOWN_ERRORS = 500


def title_of(file_name: str, list_type: str, week: str) -> str:
    from qingling.cases.models import ListType

    return _("Import %(list)s %(week)s: %(file)s") % {
        "list": ListType(list_type).label, "week": week, "file": file_name}


def params_of(*, file_name: str, list_type: str, week: IsoWeek, issuer: str,
              accept_valid: bool, inline: bool = False,
              remap: dict[str, str] | None = None) -> dict[str, Any]:
    return {"file_name": file_name, "list_type": list_type, "week": str(week),
            "issuer": issuer, "accept_valid": accept_valid, "inline": inline,
            "remap": remap or {}}


def preview_title(file_name: str, list_type: str, week: str) -> str:
    from qingling.cases.models import ListType

    return _("Preview %(list)s %(week)s: %(file)s") % {
        "list": ListType(list_type).label, "week": week, "file": file_name}


def run_preview(job: Job, data: bytes | None, report: Reporter) -> dict[str, Any]:
    """What importing the file would do; the file stays spooled for the confirmation."""
    if data is None:
        raise JobFailed(_("The uploaded file is no longer available; upload it again."))
    p = job.params
    try:
        return preview_list(data=data, file_name=p["file_name"], list_type=p["list_type"],
                            week=IsoWeek.parse(p["week"]), remap=p.get("remap") or {},
                            progress=report)
    except ListFileError as exc:
        raise JobFailed(str(exc)) from exc


def run_import(job: Job, data: bytes | None, report: Reporter) -> dict[str, Any]:
    if data is None:
        raise JobFailed(_("The uploaded file is no longer available; upload it again."))
    p = job.params
    try:
        summary = import_list(
            data=data, file_name=p["file_name"], list_type=p["list_type"],
            week=IsoWeek.parse(p["week"]), issuer=p.get("issuer", ""),
            accept_valid=bool(p.get("accept_valid")), actor=job.created_by, progress=report,
            remap=p.get("remap") or {})
    except ListRejected as exc:
        raise JobFailed(exc.summary(), {
            "rejected": True, "rows": exc.rows, "bad_rows": exc.bad_rows,
            "errors": [{"row": e.row, "column": e.column, "reason": e.reason}
                       for e in exc.errors[:SHOWN_ERRORS]],
            "more": max(0, len(exc.errors) - SHOWN_ERRORS)}) from exc
    except ListFileError as exc:
        raise JobFailed(str(exc)) from exc
    result = summary.as_dict()
    result["rejected_rows"] = [
        {"row": e["row"], "column": e["column"], "reason": stored_reason(e)}
        for e in result["rejected_rows"][:SHOWN_ERRORS]]
    batch = summary.duplicate_of or summary.batch_id
    result["url"] = reverse("batch_detail", args=[batch]) if batch else ""
    return result
