"""Writes of the city's configuration: each change one transaction with one audit entry
holding the row before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import models, transaction
from django.forms import ModelForm

from qingling.audit.services import audit_record
from qingling.org.models import CitySetting
from qingling.supervision.models import TextTemplate


def snapshot(obj: models.Model | None) -> dict[str, Any]:
    """A row as the audit keeps it: its fields, many-to-many as sorted primary keys."""
    if obj is None or obj.pk is None:
        return {}
    out: dict[str, Any] = {}
    for f in obj._meta.concrete_fields:
        out[f.name] = f.value_from_object(obj)
    for m in obj._meta.many_to_many:
        out[m.name] = sorted(o.pk for o in getattr(obj, m.name).all())
    return out


def config_save(*, table: str, form: ModelForm[Any], actor: Any, now: datetime) -> models.Model:
    """Save a validated configuration form (a new row or an edit), audited before/after."""
    with transaction.atomic():
        model = form._meta.model
        old = model._default_manager.filter(pk=form.instance.pk).first() \
            if form.instance.pk else None
        before = snapshot(old)
        obj = form.save()
        after = snapshot(obj)
        audit_record(actor=actor, action="config_change", obj=obj, at=now,
                     data={"table": table, "before": before, "after": after})
    return obj


def text_save(*, key: str, body: str, actor: Any, now: datetime) -> TextTemplate:
    """The city's wording of one bulletin text (checked by the form), audited."""
    from qingling.supervision.bulletin import text_body

    with transaction.atomic():
        before = text_body(key)
        row, _made = TextTemplate.objects.update_or_create(
            key=key, defaults={"body": body, "updated_at": now})
        audit_record(actor=actor, action="config_change", obj=row, at=now,
                     data={"table": "texts", "key": key, "before": {"body": before},
                           "after": {"body": body}})
    return row


def cutoff_save(*, weekday: int | None, at: Any, actor: Any, now: datetime) -> CitySetting:
    """The city's weekly cut-off (empty: the installation's default), audited."""
    with transaction.atomic():
        row, _made = CitySetting.objects.select_for_update().get_or_create(pk=1)
        before = {"cutoff_weekday": row.cutoff_weekday, "cutoff_time": row.cutoff_time}
        row.cutoff_weekday, row.cutoff_time, row.updated_at = weekday, at, now
        row.save(update_fields=["cutoff_weekday", "cutoff_time", "updated_at"])
        audit_record(actor=actor, action="config_change", obj=row, at=now,
                     data={"table": "cutoff", "before": before,
                           "after": {"cutoff_weekday": weekday, "cutoff_time": at}})
    return row
