"""Model fields for personal data: sealed at rest, readable in Python as plain text.

``EncryptedTextField`` seals on the way to the database and opens on the way back; never
filter on it (each sealing differs) — filter on a ``BlindIndexField`` beside it, which
keeps an SM3-HMAC of the normalised value, computed on every save and bulk create.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import models

from qingling.common import crypto


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    description = "Text sealed at rest (SM4-GCM envelope encryption)"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return crypto.decrypt(value) if isinstance(value, str) else value

    def to_python(self, value: Any) -> Any:
        return crypto.decrypt(value) if isinstance(value, str) else value

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "" or not isinstance(value, str):
            return value
        return value if crypto.is_sealed(value) else crypto.encrypt(value)


class EncryptedJSONField(models.TextField):  # type: ignore[type-arg]
    """A JSON object sealed at rest (list rows' cells)."""

    description = "JSON sealed at rest"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return self.to_python(value)

    def to_python(self, value: Any) -> Any:
        if value is None or isinstance(value, (dict, list)):
            return value
        if value == "":
            return {}
        return json.loads(crypto.decrypt(value))

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return value
        if isinstance(value, str) and crypto.is_sealed(value):
            return value
        return crypto.encrypt(json.dumps(value, ensure_ascii=False))

    def value_to_string(self, obj: Any) -> str:
        return json.dumps(self.value_from_object(obj), ensure_ascii=False)


def seal_json(value: Any) -> str:
    """What ``EncryptedJSONField`` stores, for raw bulk inserts."""
    return crypto.encrypt(json.dumps(value, ensure_ascii=False))


class BlindIndexField(models.CharField):  # type: ignore[type-arg]
    """An exact-match index of another field of the same model, kept up to date on save."""

    def __init__(self, *args: Any, source: str = "", **kwargs: Any) -> None:
        self.source = source
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("db_index", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        for k, v in (("max_length", 32), ("blank", True), ("editable", False),
                     ("db_index", True)):
            if kwargs.get(k) == v:
                kwargs.pop(k)
        return name, path, args, kwargs

    def pre_save(self, model_instance: Any, add: bool) -> Any:
        value = crypto.blind(getattr(model_instance, self.source) or "", self.source)
        setattr(model_instance, self.attname, value)
        return value
