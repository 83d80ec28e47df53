"""The city's configuration in Chinese pages, for the city coordinator only."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from qingling.audit.services import audit_record
from qingling.cases.identity import current_cutoff, cutoff_rule
from qingling.cityconfig.forms import CutoffForm, TextForm
from qingling.cityconfig.services import config_save, cutoff_save, text_save
from qingling.cityconfig.tables import TABLES, Table
from qingling.common.weeks import SHANGHAI
from qingling.common.xlsx import build_xlsx, xlsx_response
from qingling.org.models import CitySetting, Role
from qingling.org.scope import profile_of
from qingling.supervision.bulletin import DEFAULT_TEXTS, PLACEHOLDERS, text_body

TEXT_TITLES = {
    "title": "标题", "recipients": "主送", "opening": "开头", "overall": "总体情况",
    "key": "重点名单", "overdue": "逾期事项", "stock": "存量名单", "energy": "能耗双控",
    "next_steps": "下步工作",
}


def _render(request: HttpRequest, template: str, context: dict[str, Any],
            status: int = 200) -> HttpResponse:
    """A configuration page, with the tabs that lead to the others."""
    return render(request, template, {
        **context, "config_tabs": [(t.slug, t.title) for t in TABLES.values()]}, status=status)


def _denied(request: HttpRequest) -> HttpResponse | None:
    p = profile_of(request.user)
    if p is None or p.role != Role.CITY:
        return render(request, "org/no_role.html", status=403)
    return None


def _table(slug: str) -> Table:
    if slug not in TABLES:
        raise Http404
    return TABLES[slug]


@login_required
def index(request: HttpRequest) -> HttpResponse:
    if (denied := _denied(request)) is not None:
        return denied
    weekday, at = cutoff_rule()
    return _render(request, "cityconfig/index.html", {
        "tables": [(t, t.model._default_manager.count()) for t in TABLES.values()],
        "texts": len(DEFAULT_TEXTS), "cutoff_day": _weekday_name(weekday), "cutoff_time": at,
        "next_cutoff": _next_cutoff()})


def _weekday_name(weekday: int) -> str:
    days = dict(CitySetting._meta.get_field("cutoff_weekday").choices or [])
    return str(days.get(weekday, weekday))


def _next_cutoff() -> str:
    local = current_cutoff(timezone.now()).astimezone(SHANGHAI)
    return f"{local:%Y-%m-%d %H:%M}"


def _form_page(request: HttpRequest, table: Table, form: object, obj: object) -> HttpResponse:
    return _render(request, "cityconfig/edit.html", {"table": table, "form": form, "obj": obj},
                   status=400 if request.method == "POST" else 200)


@login_required
def table_list(request: HttpRequest, slug: str) -> HttpResponse:
    if (denied := _denied(request)) is not None:
        return denied
    table = _table(slug)
    rows = [(o, table.shown(o)) for o in table.rows()]
    return _render(request, "cityconfig/table.html", {"table": table, "rows": rows})


@login_required
def table_edit(request: HttpRequest, slug: str, pk: int | None = None) -> HttpResponse:
    if (denied := _denied(request)) is not None:
        return denied
    table = _table(slug)
    obj = get_object_or_404(table.model, pk=pk) if pk is not None else None
    if request.method == "POST":
        form = table.form(request.POST, instance=obj)
        if form.is_valid():
            saved = config_save(table=slug, form=form, actor=request.user, now=timezone.now())
            messages.success(request, _("Saved %(row)s.") % {"row": saved})
            return redirect("config_table", slug=slug)
        return _form_page(request, table, form, obj)
    return _form_page(request, table, table.form(instance=obj), obj)


@login_required
def table_export(request: HttpRequest, slug: str) -> HttpResponse:
    if (denied := _denied(request)) is not None:
        return denied
    table = _table(slug)
    audit_record(actor=request.user, action="export", obj=request.user,
                 data={"what": f"config_{slug}", "personal": False})
    return xlsx_response(build_xlsx(str(table.title), table.headers(),
                                    [table.cells(o) for o in table.rows()]),
                         f"qingling-config-{slug}", timezone.now())


@login_required
def texts(request: HttpRequest) -> HttpResponse:
    if (denied := _denied(request)) is not None:
        return denied
    return _render(request, "cityconfig/texts.html", {
        "texts": [(k, TEXT_TITLES.get(k, k), text_body(k)) for k in DEFAULT_TEXTS]})


@login_required
def text_edit(request: HttpRequest, key: str) -> HttpResponse:
    if (denied := _denied(request)) is not None:
        return denied
    if key not in DEFAULT_TEXTS:
        raise Http404
    form = TextForm(request.POST or None, initial={"body": text_body(key)})
    if request.method == "POST" and form.is_valid():
        text_save(key=key, body=form.cleaned_data["body"], actor=request.user,
                  now=timezone.now())
        messages.success(request, _("Saved %(row)s.") % {"row": TEXT_TITLES.get(key, key)})
        return redirect("config_texts")
    return _render(request, "cityconfig/text_edit.html", {
        "key": key, "title": TEXT_TITLES.get(key, key), "form": form,
        "placeholders": sorted(PLACEHOLDERS.items()), "default": DEFAULT_TEXTS[key],
        "hint": _("Write a placeholder in double braces, for example %(example)s; a part that "
                  "depends on the figures goes between %(if)s and %(endif)s. An unknown "
                  "placeholder is refused.") % {"example": "{{ week_label }}",
                                                "if": "{% if … %}", "endif": "{% endif %}"}},
        status=400 if request.method == "POST" else 200)


@login_required
def texts_export(request: HttpRequest) -> HttpResponse:
    if (denied := _denied(request)) is not None:
        return denied
    audit_record(actor=request.user, action="export", obj=request.user,
                 data={"what": "config_texts", "personal": False})
    rows = [[k, TEXT_TITLES.get(k, k), text_body(k)] for k in DEFAULT_TEXTS]
    return xlsx_response(build_xlsx(_("Bulletin texts"), [_("key"), _("Part"), _("text")], rows),
                         "qingling-config-texts", timezone.now())


@login_required
def cutoff(request: HttpRequest) -> HttpResponse:
    if (denied := _denied(request)) is not None:
        return denied
    form = CutoffForm(request.POST or None, instance=CitySetting.current())
    if request.method == "POST" and form.is_valid():
        cutoff_save(weekday=form.cleaned_data["cutoff_weekday"],
                    at=form.cleaned_data["cutoff_time"], actor=request.user, now=timezone.now())
        messages.success(request, _("The weekly cut-off is saved: next one %(at)s (Beijing "
                                    "time).") % {"at": _next_cutoff()})
        return redirect("config_index")
    return _render(request, "cityconfig/cutoff.html", {"form": form, "next_cutoff": _next_cutoff()},
                   status=400 if request.method == "POST" else 200)


@login_required
def cutoff_export(request: HttpRequest) -> HttpResponse:
    if (denied := _denied(request)) is not None:
        return denied
    weekday, at = cutoff_rule()
    audit_record(actor=request.user, action="export", obj=request.user,
                 data={"what": "config_cutoff", "personal": False})
    return xlsx_response(build_xlsx(_("Weekly cut-off"), [
        str(CitySetting._meta.get_field("cutoff_weekday").verbose_name),
        str(CitySetting._meta.get_field("cutoff_time").verbose_name), _("Next cut-off")],
        [[_weekday_name(weekday), at.strftime("%H:%M"), _next_cutoff()]]),
        "qingling-config-cutoff", timezone.now())
