"""Carrier subscriber records (personal fields encrypted at rest)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qingling.geo.models import Division
from qingling.screening.crypto import decrypt


class Subscriber(models.Model):
    """An account in a carrier's subscriber register. Name, ID or credit code, phone and
    installation address are stored encrypted; the county and township found from the
    address are kept in clear, because scope and routing depend on them."""

    carrier = models.CharField(_("carrier"), max_length=40)
    account = models.CharField(_("account"), max_length=80)
    name_enc = models.TextField(blank=True)
    id_enc = models.TextField(blank=True)
    phone_enc = models.TextField(blank=True)
    address_enc = models.TextField(blank=True)
    county = models.ForeignKey(Division, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+", verbose_name=_("county"))
    township = models.ForeignKey(Division, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+", verbose_name=_("township"))
    # 1.0: a township named; 0.6: the county only; 0: outside the city or not found.
    address_confidence = models.FloatField(_("address confidence"), default=0.0)
    needs_triage = models.BooleanField(_("needs triage"), default=False)
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["carrier", "account"]
        constraints = [models.UniqueConstraint(fields=["carrier", "account"],
                                               name="subscriber_once_per_carrier")]
        verbose_name = _("subscriber")

    def __str__(self) -> str:
        return f"{self.carrier}:{self.account}"

    @property
    def name(self) -> str:
        return decrypt(self.name_enc)

    @property
    def id_number(self) -> str:
        return decrypt(self.id_enc)

    @property
    def phone(self) -> str:
        return decrypt(self.phone_enc)

    @property
    def address(self) -> str:
        return decrypt(self.address_enc)
