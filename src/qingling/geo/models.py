from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Division(models.Model):
    """An administrative division with its GB/T 2260 (NBS) code: city → county → township."""

    class Level(models.TextChoices):
        PROVINCE = "province", _("province")
        CITY = "city", _("city")
        COUNTY = "county", _("county")
        TOWNSHIP = "township", _("township")

    code = models.CharField(_("code"), max_length=12, unique=True)
    name = models.CharField(_("name"), max_length=40)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
            verbose_name=_("parent"))
    aliases = models.JSONField(_("aliases"), default=list, blank=True)
    source = models.CharField(_("source"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("division")
        verbose_name_plural = _("divisions")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    @property
    def short_name(self) -> str:
        # "南湖区" → "南湖", "桐乡市" → "桐乡": list files often drop the suffix.
        for suffix in ("街道", "区", "县", "市", "镇", "乡"):
            if self.name.endswith(suffix) and len(self.name) > len(suffix) + 1:
                return self.name[: -len(suffix)]
        return self.name


class ResponsibilityArea(models.Model):
    """A functional zone (经开区, 港区 …) whose items a county answers for."""

    name = models.CharField(_("name"), max_length=60, unique=True)
    aliases = models.JSONField(_("aliases"), default=list, blank=True)
    county = models.ForeignKey(Division, on_delete=models.PROTECT, related_name="zones",
        verbose_name=_("county"))

    class Meta:
        verbose_name = _("responsibility area")
        verbose_name_plural = _("responsibility areas")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
