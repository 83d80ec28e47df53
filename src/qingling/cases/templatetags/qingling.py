from __future__ import annotations

from typing import Any

from django import template
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
