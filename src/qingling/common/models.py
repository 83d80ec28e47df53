from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class DataKey(models.Model):
    """A data key of the envelope encryption, stored only wrapped by the key-encryption key
    (which never enters the database). The highest version seals new values."""

    version = models.PositiveIntegerField(_("version"), unique=True)
    algorithm = models.CharField(_("algorithm"), max_length=20)
    wrapped = models.TextField()
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["version"]
        verbose_name = _("data key")

    def __str__(self) -> str:
        return f"v{self.version} ({self.algorithm})"
