"""The bulk-action pages (select → preview → confirm) and the global search box."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from qingling.cases.bulk import ACTIONS, BULK_LIMIT, BulkParams, bulk_apply, bulk_plan
from qingling.cases.presenters import personal
from qingling.cases.selectors import selection
from qingling.cases.services import WorkflowError, assignable_users, case_by_reference
from qingling.geo.models import Division
from qingling.org.scope import profile_of

# Inputs a bulk action carries from the list page through its preview to the confirmation.
CARRIED = ("source", "filter", "next", "comment", "assignee", "into", "category",
           "kind")


def _next(request: HttpRequest, value: str) -> str:
    if value and url_has_allowed_host_and_scheme(value, {request.get_host()},
                                                 require_https=request.is_secure()):
        return value
    return reverse("case_list")


def _ids(request: HttpRequest) -> list[int]:
    """The selected cases: ticked rows, or every case matching the list's filter."""
    data = request.POST
    if ":" in data.get("single", ""):
        one = data["single"].split(":", 1)[1]
        return [int(one)] if one.isdigit() else []
    if data.get("all") == "1":
        qs = selection(request.user, data.get("source", ""),
                       QueryDict(data.get("filter", "")), timezone.now())
        if qs is None:
            return []
        return list(qs.values_list("pk", flat=True)[:BULK_LIMIT + 1])
    raw = data.getlist("ids") + [x for x in data.get("ids_csv", "").split(",") if x]
    return list(dict.fromkeys(int(x) for x in raw if x.strip().isdigit()))


def _params(request: HttpRequest) -> BulkParams:
    data = request.POST
    p = BulkParams(comment=data.get("comment", "").strip(), into=data.get("into", "").strip(),
                   category=data.get("category", ""), kind=data.get("kind", ""))
    if (a := data.get("assignee", "")).isdigit():
        p.assignee = get_user_model().objects.filter(pk=int(a)).select_related("profile").first()
    if (c := data.get("county", "")).isdigit():
        p.county_id = int(c)
    p.counties = {int(k[7:]): int(v) for k in data
                  if k.startswith("county_") and k[7:].isdigit()
                  and (v := str(data.get(k, ""))).isdigit()}
    p.decisions = {int(k[9:]): v for k in data
                   if k.startswith("decision_") and k[9:].isdigit()
                   and (v := str(data.get(k, "")))}
    return p


def _missing(action: Any, p: BulkParams) -> list[str]:
    """What the action needs and the user has not given yet."""
    out = []
    if "comment" in action.needs and not p.comment:
        out.append(_("Give the reason."))
    if "assignee" in action.needs and p.assignee is None:
        out.append(_("Choose the verifier."))
    if "into" in action.needs and not p.into:
        out.append(_("Give the number of the case to merge into."))
    for need, options in action.choices.items():
        if getattr(p, need) not in {v for v, _label in options}:
            out.append(_("Choose the category."))
    return out


@login_required
@require_POST
def bulk_view(request: HttpRequest) -> HttpResponse:
    """Step one shows what the action would do to how many cases and which it skips, and
    why; step two (``confirm``) makes it and says what was done."""
    profile = profile_of(request.user)
    if profile is None:
        return render(request, "org/no_role.html", status=403)
    name = request.POST.get("action", "")
    single = request.POST.get("single", "")
    if ":" in single:  # a row's own button: this action on this one case
        name = single.split(":", 1)[0]
    action = ACTIONS.get(name)
    back = _next(request, request.POST.get("next", ""))
    if action is None:
        messages.error(request, _("Choose an action."))
        return redirect(back)
    ids = _ids(request)
    if not ids:
        messages.error(request, _("Select at least one case."))
        return redirect(back)
    params = _params(request)
    missing = _missing(action, params)
    now = timezone.now()
    try:
        if request.POST.get("confirm") == "1" and not missing:
            plan = bulk_apply(actor=request.user, action=name, ids=ids, params=params, now=now)
            messages.success(request, _("%(action)s: %(done)s done, %(skipped)s skipped.") % {
                "action": action.done_label, "done": len(plan.eligible),
                "skipped": len(plan.skipped)})
            for s in plan.skipped[:10]:
                messages.warning(request, _("%(case)s skipped: %(reason)s") % {
                    "case": s.ref, "reason": s.reason})
            return redirect(back)
        # The preview checks as if the reason were given: it is asked for below.
        checked = BulkParams(**{**params.__dict__, "comment": params.comment or "…"})
        plan = bulk_plan(actor=request.user, action=name, ids=ids, params=checked)
    except WorkflowError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    if request.POST.get("confirm") == "1":
        for m in missing:
            messages.error(request, m)
    target = case_by_reference(request.user, params.into) if params.into else None
    counties = {d.pk: d.name for d in Division.objects.filter(
        pk__in={params.county_for(c) for c in plan.eligible} - {None})}
    moves = {k: str(a.label) for k, a in ACTIONS.items()}
    rows = [(c, personal(c, profile).name, counties.get(params.county_for(c) or 0, ""),
             moves.get(params.decisions.get(c.pk, ""), ""))
            for c in plan.eligible[:500]]
    return render(request, "cases/bulk_preview.html", {
        "action": action, "plan": plan, "rows": rows, "more": len(plan.eligible) - len(rows),
        "ids_csv": ",".join(str(i) for i in ids),
        "carried": [("action", name)] + [(k, request.POST.get(k, "")) for k in CARRIED
                    if k not in ("comment", "assignee", "into", *action.choices)],
        "counties": [(k, v) for k, v in request.POST.items()
                     if k.startswith(("county_", "decision_"))],
        "by_row": bool(params.decisions),
        "params": params, "target": target, "back": back, "missing": missing,
        "verifiers": assignable_users(request.user) if "assignee" in action.needs else None,
        "choices": [(k, options, getattr(params, k)) for k, options in action.choices.items()],
    })


@login_required
def search_view(request: HttpRequest) -> HttpResponse:
    """One box for an IP, a case number, a unit, a credit code or an address: a case number
    opens the case; anything else lists what matches in the user's scope."""
    if profile_of(request.user) is None:
        return render(request, "org/no_role.html", status=403)
    q = request.GET.get("q", "").strip()
    if not q:
        return redirect("case_list")
    case = case_by_reference(request.user, q) if q.upper().startswith("QL") else None
    if case is not None:
        return redirect("case_detail", case_id=case.pk)
    return redirect(f"{reverse('case_list')}?{urlencode({'q': q})}")
