"""Carrier subscriber records (personal fields encrypted at rest)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qingling.common.crypto import decrypt
from qingling.geo.models import Division


class Subscriber(models.Model):
    """An account in a carrier's subscriber register. Name, ID or credit code, phone and
    installation address are stored encrypted; the county and township found from the
    address are kept in clear, because scope and routing depend on them."""

    carrier = models.CharField(_("carrier"), max_length=40)
    account = models.CharField(_("account"), max_length=80)
    name_enc = models.TextField(blank=True, verbose_name=_("name (encrypted)"))
    id_enc = models.TextField(blank=True, verbose_name=_("ID number (encrypted)"))
    phone_enc = models.TextField(blank=True, verbose_name=_("phone (encrypted)"))
    address_enc = models.TextField(blank=True, verbose_name=_("address (encrypted)"))
    # What the carrier calls the account (家庭宽带, 企业专线, 网吧…): read by the same
    # classification rules as a list's 类型 column. A category, not personal data.
    kind = models.CharField(_("subscriber type"), max_length=40, blank=True)
    county = models.ForeignKey(Division, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+", verbose_name=_("county"))
    township = models.ForeignKey(Division, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+", verbose_name=_("township"))
    # 1.0: a township named; 0.6: the county only; 0: outside the city or not found.
    address_confidence = models.FloatField(_("address confidence"), default=0.0)
    needs_triage = models.BooleanField(_("needs triage"), default=False)
    triage_reason = models.CharField(_("triage reason"), max_length=200, blank=True)
    imported_at = models.DateTimeField(default=timezone.now, verbose_name=_("imported at"))

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


class ScreeningRun(models.Model):
    """One screening of a set of inputs. The same inputs (by content) are screened once."""

    class Kind(models.TextChoices):
        NETWORK = "network", _("Network")
        POWER = "power", _("Electricity")
        LISTS = "lists", _("List addresses")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    input_sha256 = models.CharField(max_length=64, verbose_name=_("input SHA-256"))
    inputs = models.JSONField(default=list, verbose_name=_("inputs"))  # file names
    stats = models.JSONField(default=dict, verbose_name=_("stats"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("screening run")
        verbose_name_plural = _("screening runs")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["kind", "input_sha256"],
                                               name="screening_once_per_input")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {timezone.localtime(self.created_at):%Y-%m-%d %H:%M}"


class Signal(models.Model):
    """One piece of evidence about a site: a network verdict, an electricity lead, an
    on-site finding or a public report, with its source, time and confidence."""

    class Kind(models.TextChoices):
        LIST = "list", _("List appearance")
        NETWORK = "network", _("Network verdict")
        POWER = "power", _("Electricity lead")
        REPORT = "report", _("Public report")
        SITE = "site", _("On-site finding")

    key = models.CharField(max_length=300, unique=True,
        verbose_name=_("key"))  # the same evidence is stored once
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="signals",
        verbose_name=_("case"))
    subscriber = models.ForeignKey(Subscriber, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="signals", verbose_name=_("subscriber"))
    run = models.ForeignKey(ScreeningRun, null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="signals", verbose_name=_("run"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    observed_at = models.DateTimeField(_("observed"))
    confidence = models.FloatField(_("confidence"))
    summary = models.CharField(_("summary"), max_length=500)
    payload = models.JSONField(default=dict, verbose_name=_("payload"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("signal")
        verbose_name_plural = _("signals")
        ordering = ["observed_at", "id"]
        indexes = [models.Index(fields=["case", "observed_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {timezone.localtime(self.observed_at):%Y-%m-%d %H:%M}"


class ExcludedEndpoint(models.Model):
    """A remote endpoint (address, port) the city found benign at triage (排除: an IoT
    cloud's heartbeat, a P2P tracker): later network screenings no longer make a lead of a
    flow to it by its shape alone (payload or a pool name still do)."""

    class Category(models.TextChoices):
        IOT = "iot", _("IoT heartbeat")
        P2P = "p2p", _("P2P download or sharing")
        SHARED_EGRESS = "shared_egress", _("Shared egress")
        CLOUD = "cloud", _("Cloud service or CDN")
        GAME = "game", _("Game or video streaming")
        OTHER = "other", _("Other benign traffic")

    ip = models.CharField(_("address"), max_length=45)
    port = models.PositiveIntegerField(_("port"))
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    reason = models.CharField(_("reason"), max_length=500)
    case = models.ForeignKey("cases.Case", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", verbose_name=_("excluded lead"))
    is_active = models.BooleanField(_("active"), default=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+", verbose_name=_("added by"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        ordering = ["ip", "port"]
        verbose_name = _("excluded endpoint")
        verbose_name_plural = _("excluded endpoints")
        constraints = [models.UniqueConstraint(fields=["ip", "port"],
                                               name="excluded_endpoint_once")]

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"
