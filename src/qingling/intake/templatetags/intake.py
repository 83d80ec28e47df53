"""Filters the list pages use: kept reasons and canonical fields, in the reader's language."""

from __future__ import annotations

from typing import Any

from django import template

from qingling.intake.readers import FIELD_LABELS
from qingling.intake.validate import stored_reason

register = template.Library()


@register.filter
def row_reason(stored: dict[str, Any]) -> str:
    return stored_reason(stored, html=True)


@register.filter
def field_label(name: str) -> str:
    return str(FIELD_LABELS.get(name, name))
