"""Weekly supervision: the frozen weekly close, escalations, the dated coefficients and
rates, the tariff register, document numbers and the bulletins issued."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qingling.cases.models import Case
from qingling.common.fields import EncryptedTextField
from qingling.geo.models import Division
from qingling.org.models import Department


class WeeklyClose(models.Model):
    """The week's figures frozen at its cut-off. One per week: closing again returns it.

    A close before the cut-off (a drill, a preview) is a draft: it can be recomputed and
    proposes nothing. The close at or after the cut-off is final and never changes."""

    week = models.CharField(_("week"), max_length=8, unique=True)
    final = models.BooleanField(_("final"), default=True)
    cutoff = models.DateTimeField(_("cut-off"))
    closed_at = models.DateTimeField(_("closed at"), default=timezone.now)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+", verbose_name=_("closed by"))
    figures = models.JSONField(default=dict, verbose_name=_("figures"))

    class Meta:
        ordering = ["-week"]
        verbose_name = _("weekly close")

    def __str__(self) -> str:
        return self.week


class Escalation(models.Model):
    class Kind(models.TextChoices):
        INTERVIEW = "interview", _("Interview (约谈)")
        CITY_NOTICE = "city_notice", _("City-wide notice (全市通报)")
        INFORM_LEADERS = "inform_leaders", _("Inform local government leaders")

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Proposed")
        APPROVED = "approved", _("Approved")
        DONE = "done", _("Done")
        DISMISSED = "dismissed", _("Dismissed")

    # week:kind:county:case — one escalation per cause, however often the close runs.
    key = models.CharField(max_length=80, unique=True, verbose_name=_("key"))
    week = models.CharField(_("week"), max_length=8, db_index=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    # None for a city-level member unit's principal (a department's overdue tasks).
    county = models.ForeignKey(Division, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+", verbose_name=_("county"))
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="escalations", verbose_name=_("case"))
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("department"))
    subject = models.CharField(_("who"), max_length=200)
    basis = models.TextField(_("basis"))
    # The overdue items an interview is about: [{"case", "ref", "ip", "due", "weeks"}].
    items = models.JSONField(default=list, blank=True, verbose_name=_("items"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices,
                              default=Status.PROPOSED)
    scheduled_on = models.DateField(_("date"), null=True, blank=True)
    outcome = models.TextField(_("outcome"), blank=True)
    proposed_at = models.DateTimeField(default=timezone.now, verbose_name=_("proposed at"))
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+", verbose_name=_("decided by"))
    decided_at = models.DateTimeField(null=True, blank=True, verbose_name=_("decided at"))
    done_at = models.DateTimeField(null=True, blank=True, verbose_name=_("done at"))

    class Meta:
        ordering = ["-week", "county__code", "kind", "id"]
        verbose_name = _("escalation")

    def __str__(self) -> str:
        return f"{self.week} {self.get_kind_display()} {self.subject}"


class CountyWorkGroup(models.Model):
    """A county's own work group (区县整治工作专班): who is interviewed when the county's
    key-list items are not cleared on time, and when its stock counts as high."""

    county = models.OneToOneField(Division, on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("county"))
    name = models.CharField(_("work group"), max_length=200)
    principal = models.CharField(_("principal"), max_length=200, blank=True)
    # 居高不下: open stock above this counts as high, whatever its trend.
    stock_threshold = models.PositiveIntegerField(_("stock threshold"), null=True, blank=True)

    class Meta:
        ordering = ["county__code"]
        verbose_name = _("county work group")

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def default_name(county: Division) -> str:
        return f"{county.name}整治虚拟货币“挖矿”活动工作专班"


class DoublingRule(models.Model):
    """Whose mining energy counts double in the dual-control assessment, from a date:
    the city plan's reading (counties named for high or rising stock), the national
    notice 1283号's (newly found projects), or all confirmed mining energy."""

    class Rule(models.TextChoices):
        HIGH_STOCK = "high_stock", _("Counties with high or rising stock count double")
        NEW_PROJECTS = "new_projects", _("Newly found projects count double")
        ALL = "all", _("All confirmed mining energy counts double")

    valid_from = models.DateField(_("valid from"), unique=True)
    rule = models.CharField(_("rule"), max_length=16, choices=Rule.choices)
    source = models.CharField(_("source"), max_length=300, blank=True)

    class Meta:
        ordering = ["-valid_from"]
        verbose_name = _("energy doubling rule")

    def __str__(self) -> str:
        return f"{self.valid_from}: {self.get_rule_display()}"


class EnergyFactor(models.Model):
    """Dated conversion coefficients: the assessment uses the one in force at the close."""

    valid_from = models.DateField(_("valid from"), unique=True)
    tce_per_kwh = models.DecimalField(_("tce per kWh"), max_digits=14, decimal_places=10)
    tco2_per_kwh = models.DecimalField(_("tCO2 per kWh"), max_digits=14, decimal_places=10)
    source = models.CharField(_("source"), max_length=300, blank=True)

    class Meta:
        ordering = ["-valid_from"]
        verbose_name = _("energy coefficient")

    def __str__(self) -> str:
        return _("%(day)s: %(tce)s tce, %(tco2)s tCO2 per kWh") % {
            "day": self.valid_from, "tce": self.tce_per_kwh, "tco2": self.tco2_per_kwh}


class TariffRate(models.Model):
    province_code = models.CharField(_("province code"), max_length=6)
    province_name = models.CharField(_("province"), max_length=40)
    yuan_per_kwh = models.DecimalField(_("yuan per kWh"), max_digits=6, decimal_places=3)
    valid_from = models.DateField(_("valid from"))
    source = models.CharField(_("source"), max_length=300, blank=True)

    class Meta:
        ordering = ["province_code", "valid_from"]
        constraints = [models.UniqueConstraint(fields=["province_code", "valid_from"],
                                               name="tariff_rate_once_per_day")]
        verbose_name = _("surcharge rate")

    def __str__(self) -> str:
        return _("%(province)s %(rate)s yuan/kWh from %(day)s") % {
            "province": self.province_name, "rate": self.yuan_per_kwh, "day": self.valid_from}


class TariffAccount(models.Model):
    """A confirmed mining electricity account (户号) in the surcharge register."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="tariff_accounts",
        verbose_name=_("case"))
    account_no = models.CharField(_("account number (户号)"), max_length=40)
    holder = EncryptedTextField(_("account holder"), max_length=200, blank=True)
    address = EncryptedTextField(_("address"), max_length=300, blank=True)
    province_code = models.CharField(_("province code"), max_length=6, default="330000")
    mining_from = models.DateField(_("mining from"))
    mining_to = models.DateField(_("mining until"), null=True, blank=True)
    mixed_use = models.BooleanField(_("mixed use"), default=False)
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        ordering = ["case__county__code", "account_no"]
        constraints = [models.UniqueConstraint(fields=["account_no"], name="tariff_account_once")]
        verbose_name = _("surcharge account")

    def __str__(self) -> str:
        return self.account_no


class BillingCycle(models.Model):
    account = models.ForeignKey(TariffAccount, on_delete=models.CASCADE, related_name="cycles",
        verbose_name=_("account"))
    start = models.DateField(_("from"))
    end = models.DateField(_("to (inclusive)"))
    kwh = models.DecimalField(_("kWh"), max_digits=14, decimal_places=2)

    class Meta:
        verbose_name = _("billing cycle")
        verbose_name_plural = _("billing cycles")
        ordering = ["account", "start"]
        constraints = [models.UniqueConstraint(fields=["account", "start"],
                                               name="billing_cycle_once")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.start}..{self.end}: {self.kwh} kWh"


class DocumentSequence(models.Model):
    """Document numbers such as 嘉挖专班〔2026〕3号: one counter per organ prefix and year."""

    prefix = models.CharField(max_length=40, verbose_name=_("prefix"))
    year = models.PositiveIntegerField(verbose_name=_("year"))
    last = models.PositiveIntegerField(default=0, verbose_name=_("last number"))

    class Meta:
        verbose_name = _("document number sequence")
        verbose_name_plural = _("document number sequences")
        constraints = [models.UniqueConstraint(fields=["prefix", "year"], name="docseq_once")]

    def __str__(self) -> str:
        return f"{self.prefix}〔{self.year}〕{self.last}"


class Bulletin(models.Model):
    """An issued bulletin. Its content (texts, tables, escalations decided by then, the
    trend) is frozen when it is first issued: issuing it again writes the same document
    under the same number, whatever was decided or edited since."""

    week = models.CharField(_("week"), max_length=8, unique=True)
    doc_number = models.CharField(_("document number"), max_length=60)
    content = models.JSONField(default=dict, blank=True, verbose_name=_("content"))
    issued_at = models.DateTimeField(_("issued"), default=timezone.now)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+", verbose_name=_("issued by"))

    class Meta:
        ordering = ["-week"]
        verbose_name = _("bulletin")

    def __str__(self) -> str:
        return f"{self.week} {self.doc_number}"


class TextTemplate(models.Model):
    """Bulletin wording an administrator can edit (Django template syntax)."""

    key = models.CharField(_("key"), max_length=40, unique=True)
    body = models.TextField(_("text"))
    updated_at = models.DateTimeField(default=timezone.now, verbose_name=_("updated at"))

    class Meta:
        ordering = ["key"]
        verbose_name = _("bulletin text")

    def __str__(self) -> str:
        return self.key


class Digest(models.Model):
    """One daily reminder per county, whatever the number of items behind it."""

    county = models.ForeignKey(Division, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("county"))
    day = models.DateField(_("day"))
    counts = models.JSONField(default=dict, verbose_name=_("counts"))
    body = models.TextField(_("text"))
    recipients = models.JSONField(default=list, blank=True,
        verbose_name=_("recipients"))  # e-mailed to, if any
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        ordering = ["-day", "county__code"]
        constraints = [models.UniqueConstraint(fields=["county", "day"], name="digest_once_a_day")]
        verbose_name = _("daily digest")

    def __str__(self) -> str:
        return f"{self.day} {self.county_id}"


class MachineModel(models.Model):
    """A mining machine model as found on site: its hash rate and rated power, so that a
    site's 算力 is estimated from the models its visit recorded (项目清单)."""

    name = models.CharField(_("model"), max_length=80, unique=True)
    # Other spellings seen on site records (蚂蚁S19, S19), separated by "|".
    aliases = models.CharField(_("aliases"), max_length=300, blank=True)
    algorithm = models.CharField(_("algorithm"), max_length=20, blank=True)
    hashrate = models.DecimalField(_("hash rate per machine"), max_digits=12, decimal_places=3)
    unit = models.CharField(_("hash rate unit"), max_length=8, default="TH/s")
    kw = models.DecimalField(_("rated power (kW)"), max_digits=8, decimal_places=3)
    source = models.CharField(_("source"), max_length=300, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("mining machine model")

    def __str__(self) -> str:
        return self.name
