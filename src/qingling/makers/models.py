"""涉矿生产设备有关企业: the register of mining-equipment makers kept by the economy & IT
bureau, with their rectification items (deadline, outcome, evidence). The plan's goal is
100% 整改到位: every maker's every item done."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Maker(models.Model):
    name = models.CharField(_("enterprise"), max_length=200)
    uscc = models.CharField(_("unified social credit code"), max_length=18, unique=True)
    county = models.ForeignKey("geo.Division", on_delete=models.PROTECT, related_name="+",
                               limit_choices_to={"level": "county"}, verbose_name=_("county"))
    products = models.CharField(_("products"), max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("registered by"))
    created_at = models.DateTimeField(_("registered"), default=timezone.now)

    class Meta:
        ordering = ["county__code", "name"]
        verbose_name = _("mining-machine maker")
        verbose_name_plural = _("mining-machine makers")

    def __str__(self) -> str:
        return self.name

    def rectified(self) -> bool:
        """整改到位: it has items and every one is done (a maker with none yet is not)."""
        states = [i.state for i in self.items.all()]
        return bool(states) and all(s == RectificationItem.State.DONE for s in states)


class RectificationItem(models.Model):
    class State(models.TextChoices):
        OPEN = "open", _("Rectifying")
        DONE = "done", _("Rectified")

    maker = models.ForeignKey(Maker, on_delete=models.CASCADE, related_name="items",
                              verbose_name=_("maker"))
    description = models.CharField(_("rectification item"), max_length=300)
    due_on = models.DateField(_("deadline"))
    state = models.CharField(_("state"), max_length=8, choices=State.choices,
                             default=State.OPEN)
    outcome = models.TextField(_("outcome"), blank=True)
    reopened = models.PositiveIntegerField(_("reopened"), default=0)
    done_at = models.DateTimeField(_("finished"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        ordering = ["due_on", "id"]
        verbose_name = _("rectification item")

    def __str__(self) -> str:
        return self.description


class MakerEvidence(models.Model):
    """A document or photo of a rectification, checked by content like a case's evidence."""

    item = models.ForeignKey(RectificationItem, on_delete=models.CASCADE,
                             related_name="evidence", verbose_name=_("rectification item"))
    original_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=80)
    sha256 = models.CharField(max_length=64, verbose_name=_("SHA-256"))
    size = models.PositiveBigIntegerField(verbose_name=_("size"))
    storage_path = models.CharField(max_length=300, verbose_name=_("storage path"))
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+", verbose_name=_("uploaded by"))
    uploaded_at = models.DateTimeField(default=timezone.now, verbose_name=_("uploaded at"))

    class Meta:
        ordering = ["uploaded_at", "id"]
        verbose_name = _("rectification evidence")

    def __str__(self) -> str:
        return self.original_name
