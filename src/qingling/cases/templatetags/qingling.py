from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from qingling.audit.labels import action_text, state_text
from qingling.cases.models import ListType, State
from qingling.cases.workflow import TRANSITIONS
from qingling.common.ips import SPECIAL_LABELS

register = template.Library()

# Audit actions of the cases app that are not workflow transitions, as a case timeline
# names them (other apps register theirs in audit.labels).
_ACTIONS = {
    "create": gettext_noop("Created from a list"),
    "create_monitoring": gettext_noop("Opened from a monitoring signal"),
    "rebound": gettext_noop("Rebound: back on a list after clearance"),
    "visit": gettext_noop("On-site visit recorded"),
    "evidence": gettext_noop("Evidence uploaded"),
    "download": gettext_noop("Evidence opened"),
    "reclassify": gettext_noop("Classification recomputed"),
    "correct": gettext_noop("Classification corrected by the city"),
    "assign": gettext_noop("Assigned to a verifier"),
    "merged_into": gettext_noop("A lead was merged into this case"),
}


@register.filter
def state_label(value: str) -> str:
    try:
        return str(State(value).label)
    except ValueError:
        return state_text(value) or value


@register.filter
def action_label(value: str) -> str:
    if value in TRANSITIONS:
        return str(TRANSITIONS[value].label)
    if value in _ACTIONS:
        return _(_ACTIONS[value])
    return action_text(value) or value


def _listed(data: dict[str, Any]) -> str | None:
    """"重点名单 2026-W47" from an entry's data, in the reader's language."""
    try:
        return f"{ListType(data['list_type']).label} {data['week']}"
    except (KeyError, ValueError):
        return None


@register.filter
def entry_label(entry: Any) -> str:
    """What a timeline entry records. A case opened by a list import names its batch in
    its data; one opened by a monitoring signal does not."""
    data = entry.data or {}
    if entry.action == "create" and "batch" not in data:
        return _(_ACTIONS["create_monitoring"])
    return action_label(entry.action)


@register.filter
def entry_comment(entry: Any) -> str:
    """An entry's comment in the reader's language: the list a system entry names is
    kept as codes in its data (older entries have only the words of their time)."""
    listed = _listed(entry.data or {})
    if listed is None:
        return str(entry.comment)
    if entry.action == "reclassify":
        return _("Put on the %(list)s") % {"list": listed}
    return listed


@register.filter
def ip_special(value: str) -> str:
    return str(SPECIAL_LABELS.get(value, value))


@register.filter
def week_label(value: str) -> str:
    """"2026-W49" as "2026年第49周（12月1日—12月7日）"; anything else as it is."""
    from qingling.common.weeks import IsoWeek

    try:
        return IsoWeek.parse(str(value)).label()
    except ValueError:
        return str(value)


# --- list pages: the parts repeated dozens of times, rendered in one pass ------------------
# A page of 50 cases through the template engine cost ~25 ms of variable lookups and
# escaping; the same markup built here costs ~2 ms (bench/load.py measures the list).

_ROW = ('<tr data-case="{pk}">{pick}<td><a href="{url}">{ref}</a> '
        '<span class="badge {grade}">{grade}</span>{rebound}'
        '<div class="small muted">{county} <code>{ip}</code></div></td>'
        '<td>{name}{assignee}</td><td>{township}</td><td class="wide">{address}</td>'
        '<td class="small">{lists}</td><td><span class="badge {state_code}">{state}</span></td>'
        '<td>{due}</td></tr>')


@register.simple_tag
def case_rows_html(rows: Any, bulk: Any, rebound_label: str, empty_label: str) -> str:
    """The ``<tbody>`` rows of a case table (see cases/_case_rows.html for the columns)."""
    from django.urls import reverse
    from django.utils.html import escape
    from django.utils.safestring import mark_safe

    if not rows:
        return format_html('<tr><td colspan="{}" class="muted">{}</td></tr>',
                           8 if bulk else 7, empty_label)
    detail = reverse("case_detail", args=[1])
    prefix, suffix = detail[:detail.rindex("1")], detail[detail.rindex("1") + 1:]
    rebound = format_html(' <span class="badge rebound">{}</span>', rebound_label)
    dash = '<span class="muted">—</span>'
    out = []
    for r in rows:
        c = r.case
        ref = escape(c.reference)
        due: str
        if r.due:
            due = escape(r.due)
            if r.countdown:
                due += format_html('<div class="small{}">{}</div>',
                                   " late" if r.overdue else "", r.countdown)
        else:
            due = dash
        out.append(_ROW.format(
            pk=c.pk, url=f"{prefix}{c.pk}{suffix}", ref=ref,
            pick=(f'<td class="pick"><input type="checkbox" name="ids" value="{c.pk}" '
                  f'form="bulk-form" aria-label="{ref}"></td>') if bulk else "",
            rebound=rebound if c.rebound_count else "",
            county=escape(c.county.name) if c.county_id and c.county else "",
            ip=escape(c.ip_summary), name=escape(r.name) if r.name else "—",
            assignee=format_html('<div class="small muted">→ {}</div>', r.assignee)
            if r.assignee else "",
            township=escape(r.township) if r.township else "—",
            address=escape(r.address) if r.address else "—",
            lists=escape(r.lists) if r.lists else "—", state_code=escape(c.state),
            grade=escape(c.grade),
            state=escape(r.state), due=due))
    return mark_safe("".join(out))  # noqa: S308 - every value above is escaped


@register.simple_tag
def options_html(choices: Any, selected: Any, value: str = "", label: str = "") -> str:
    """``<option>``s of a filter select: ``choices`` are (value, label) pairs, or objects
    whose ``value``/``label`` attributes are named."""
    from django.utils.html import escape
    from django.utils.safestring import mark_safe

    chosen = str(selected or "")
    out = []
    for item in choices:
        v, lab = ((getattr(item, value), getattr(item, label)) if value else item)
        v = str(v)
        out.append(f'<option value="{escape(v)}"{" selected" if v == chosen else ""}>'
                   f'{escape(str(lab))}</option>')
    return mark_safe("".join(out))  # noqa: S308 - escaped above
