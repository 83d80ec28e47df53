from __future__ import annotations

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from qingling.cases.models import State
from qingling.cases.workflow import TRANSITIONS

register = template.Library()

_ACTIONS = {
    "create": N_("Created from a list"),
    "rebound": N_("Rebound: back on a list after clearance"),
    "visit": N_("On-site visit recorded"),
    "evidence": N_("Evidence uploaded"),
    "download": N_("Evidence opened"),
}


@register.filter
def state_label(value: str) -> str:
    try:
        return str(State(value).label)
    except ValueError:
        return value


@register.filter
def action_label(value: str) -> str:
    if value in TRANSITIONS:
        return str(TRANSITIONS[value].label)
    return _(_ACTIONS[value]) if value in _ACTIONS else value
