"""Re-sealing personal data: after a data-key rotation (``qingling keys rotate``) and when
encryption first covers a field (the migrations). Works in batches by primary key and skips
rows already sealed with the current key, so an interrupted run resumes where it stopped."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.apps import apps as global_apps
from django.db import models, transaction
from django.db.models.functions import Cast

from qingling.common import crypto
from qingling.common.fields import BlindIndexField, EncryptedJSONField, EncryptedTextField

BATCH = 2000
Progress = Callable[[str], None]


def sealed_fields(model: type[models.Model]) -> list[str]:
    """Fields sealed by the field class, and hand-sealed ``*_enc`` columns."""
    return [f.name for f in model._meta.concrete_fields
            if isinstance(f, (EncryptedTextField, EncryptedJSONField))
            or (isinstance(f, models.TextField) and f.name.endswith("_enc"))]


def index_fields(model: type[models.Model]) -> list[BlindIndexField]:
    return [f for f in model._meta.concrete_fields if isinstance(f, BlindIndexField)]


def models_with_secrets(apps: Any = global_apps) -> list[type[models.Model]]:
    return [m for m in apps.get_models() if sealed_fields(m)]


def _stale(raw: Iterable[str | None], current: int) -> bool:
    return any(v and crypto.version_of(v) != current for v in raw)


def reseal(model: type[models.Model], say: Progress | None = None,
           force: bool = False) -> int:
    """Seal every value of ``model`` with the current data key (and refresh its blind
    indexes); rows already current are skipped unless ``force``. Returns rows rewritten."""
    names = sealed_fields(model)
    indexes = index_fields(model)
    if not names or not model._default_manager.exists():
        return 0
    current = crypto.current_version()
    raw_names = {n: f"_raw_{n}" for n in names}
    qs = model._default_manager.order_by("pk").annotate(
        **{r: Cast(n, models.TextField()) for n, r in raw_names.items()})
    done, last = 0, None
    while True:
        page = qs.filter(pk__gt=last) if last is not None else qs
        rows = list(page[:BATCH])
        if not rows:
            return done
        last = rows[-1].pk
        todo = [r for r in rows if force or
                _stale((getattr(r, raw) for raw in raw_names.values()), current)]
        for r in todo:
            for n in names:
                field = model._meta.get_field(n)
                if n.endswith("_enc") and not isinstance(field, EncryptedTextField):
                    setattr(r, n, crypto.encrypt(crypto.decrypt(getattr(r, n) or "")))
            for f in indexes:
                setattr(r, f.attname, crypto.blind(getattr(r, f.source) or "", f.source))
        if todo:
            with transaction.atomic():
                model._default_manager.bulk_update(
                    todo, [*names, *(f.name for f in indexes)], batch_size=500)
            done += len(todo)
        if say:
            say(f"{model._meta.label}: {done} rows re-sealed")
