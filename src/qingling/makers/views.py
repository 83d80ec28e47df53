"""The makers register pages. Every view starts from ``visible_makers``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from qingling.audit.services import audit_record
from qingling.cases.uploads import UploadRejected
from qingling.geo.models import Division
from qingling.makers.models import MakerEvidence
from qingling.makers.services import (
    MakerError,
    item_add,
    item_done,
    item_reopen,
    keeps_makers,
    maker_add,
    visible_makers,
)
from qingling.org.models import Role
from qingling.org.scope import profile_of


class MakerForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Enterprise"), max_length=200)
    uscc = forms.CharField(label=gettext_lazy("Unified social credit code"), max_length=18)
    county = forms.ModelChoiceField(label=gettext_lazy("County"), queryset=Division.objects
                                    .filter(level=Division.Level.COUNTY,
                                            parent__code=settings.QINGLING_CITY_CODE))
    products = forms.CharField(label=gettext_lazy("Products"), max_length=300, required=False)


class ItemForm(forms.Form):
    description = forms.CharField(label=gettext_lazy("Rectification item"), max_length=300)
    due_on = forms.DateField(label=gettext_lazy("Deadline"),
                             widget=forms.DateInput(attrs={"type": "date"}))


@login_required
def maker_list(request: HttpRequest) -> HttpResponse:
    profile = profile_of(request.user)
    makers = visible_makers(request.user)
    if profile is None or not (keeps_makers(profile)
                               or profile.role in (Role.CITY, Role.LEADER, Role.COUNTY)):
        return render(request, "org/no_role.html", status=403)
    form = MakerForm(request.POST or None) if keeps_makers(profile) else None
    if request.method == "POST" and form is not None:
        if form.is_valid():
            d = form.cleaned_data
            try:
                maker = maker_add(actor=request.user, name=d["name"], uscc=d["uscc"],
                                  county_code=d["county"].code, products=d["products"])
                return redirect("maker_detail", maker_id=maker.pk)
            except MakerError as exc:
                messages.error(request, str(exc))
    return render(request, "makers/list.html", {"makers": makers, "form": form})


@login_required
def maker_list_export(request: HttpRequest) -> HttpResponse:
    """The register as the page shows it (the user's scope), formula cells escaped."""
    from qingling.common.xlsx import build_xlsx

    profile = profile_of(request.user)
    if profile is None or not (keeps_makers(profile)
                               or profile.role in (Role.CITY, Role.LEADER, Role.COUNTY)):
        return render(request, "org/no_role.html", status=403)
    rows = ([m.name, m.uscc, m.county.name if m.county else "", m.products,
             _("Rectified") if m.rectified() else _("Rectifying")]
            for m in visible_makers(request.user))
    data = build_xlsx(_("Mining-machine makers"), [
        _("Enterprise"), _("Unified social credit code"), _("County"), _("Products"),
        _("Status")], rows)
    audit_record(actor=request.user, action="export", obj=request.user,
                 data={"what": "makers"})
    resp = HttpResponse(
        data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    resp["Content-Disposition"] = 'attachment; filename="qingling-makers.xlsx"'
    return resp


@login_required
def maker_detail(request: HttpRequest, maker_id: int) -> HttpResponse:
    maker = visible_makers(request.user).filter(pk=maker_id).first()
    if maker is None:
        raise Http404
    keeper = keeps_makers(profile_of(request.user))
    return render(request, "makers/detail.html", {
        "maker": maker, "items": maker.items.prefetch_related("evidence"),
        "item_form": ItemForm() if keeper else None, "keeper": keeper,
        "today": date.today()})


def _fail(request: HttpRequest, exc: Exception) -> None:
    messages.error(request, str(exc))


@login_required
@require_POST
def maker_item_new(request: HttpRequest, maker_id: int) -> HttpResponse:
    form = ItemForm(request.POST)
    if form.is_valid():
        try:
            item_add(actor=request.user, maker_id=maker_id, **form.cleaned_data)
        except MakerError as exc:
            _fail(request, exc)
    else:
        messages.error(request, _("Describe the rectification item and its deadline."))
    return redirect("maker_detail", maker_id=maker_id)


@login_required
@require_POST
def maker_item_act(request: HttpRequest, item_id: int, move: str) -> HttpResponse:
    maker_id = request.POST.get("maker", "")
    try:
        if move == "done":
            upload = request.FILES.get("file")
            if upload is None:
                raise MakerError(_("Attach the evidence of what was done (photo or document)."))
            item_done(actor=request.user, item_id=item_id,
                      outcome=request.POST.get("outcome", ""), upload=upload,  # type: ignore[arg-type]
                      upload_name=upload.name or "upload")
        elif move == "reopen":
            try:
                due = date.fromisoformat(request.POST.get("due_on", ""))
            except ValueError:
                raise MakerError(_("Give the new deadline.")) from None
            item_reopen(actor=request.user, item_id=item_id,
                        reason=request.POST.get("reason", ""), due_on=due)
        else:
            raise Http404
    except (MakerError, UploadRejected) as exc:
        _fail(request, exc)
    if maker_id.isdigit():
        return redirect("maker_detail", maker_id=int(maker_id))
    return redirect("maker_list")


@login_required
def maker_evidence(request: HttpRequest, evidence_id: int) -> FileResponse:
    ev = (MakerEvidence.objects.filter(pk=evidence_id,
                                       item__maker__in=visible_makers(request.user)).first())
    if ev is None:
        raise Http404
    path = Path(settings.MEDIA_ROOT) / ev.storage_path
    if not path.is_file():
        raise Http404
    audit_record(actor=request.user, action="download", obj=ev, data={"sha256": ev.sha256})
    resp = FileResponse(path.open("rb"), content_type=ev.content_type)
    resp["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'"
    resp["Content-Disposition"] = f'attachment; filename="evidence-{ev.pk}{path.suffix}"'
    return resp
