from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qingling.common.fields import BlindIndexField, EncryptedTextField
from qingling.org.models import Behaviour, SubjectType

__all__ = ["Behaviour", "SubjectType"]  # re-exported: the case fields use them


class State(models.TextChoices):
    PENDING = "pending", _("Awaiting dispatch")  # county not yet known: city triage
    DISPATCHED = "dispatched", _("Dispatched")  # 下发
    SIGNED = "signed", _("Signed for")  # 签收
    VERIFYING = "verifying", _("Verifying on site")  # 核查中
    CONFIRMED = "confirmed", _("Mining confirmed")  # 核实挖矿
    RECTIFYING = "rectifying", _("Rectifying")  # 整改中
    CLEARANCE_REQUESTED = "clearance_requested", _("Clearance requested")  # 申请销号
    CLEARED = "cleared", _("Cleared")  # 已销号
    EXCLUDED = "excluded", _("Excluded")  # 排除


OPEN_STATES = (
    State.PENDING,
    State.DISPATCHED,
    State.SIGNED,
    State.VERIFYING,
    State.CONFIRMED,
    State.RECTIFYING,
    State.CLEARANCE_REQUESTED,
)
CLOSED_STATES = (State.CLEARED, State.EXCLUDED)


class Grade(models.TextChoices):
    L1 = "L1", "L1"
    L2 = "L2", "L2"
    L3 = "L3", "L3"


class ListType(models.TextChoices):
    KEY = "key", _("Key list")  # 重点名单
    STOCK = "stock", _("Stock list")  # 存量名单
    FULL = "full", _("Full list")  # 全量
    NEW = "new", _("New list")  # 新增


class IPAddress(models.Model):
    """An observable, stored once, linked to every case and list row that mentions it."""

    value = models.CharField(_("IP address"), max_length=50, unique=True)
    version = models.PositiveSmallIntegerField(verbose_name=_("version"))
    is_range = models.BooleanField(default=False, verbose_name=_("is a range"))
    special = models.CharField(_("special use"), max_length=12, blank=True)
    first_seen_at = models.DateTimeField(verbose_name=_("first seen at"))
    last_seen_at = models.DateTimeField(verbose_name=_("last seen at"))

    class Meta:
        verbose_name = _("IP address")
        verbose_name_plural = _("IP addresses")

    def __str__(self) -> str:
        return self.value


class Case(models.Model):
    """One subject or site with everything that points at it."""

    subject_key = models.CharField(max_length=200, db_index=True, verbose_name=_("subject key"))
    # Personal data is sealed at rest (common/fields.py); find it by the blind indexes.
    subject_name = EncryptedTextField(_("subject"), max_length=200, blank=True)
    uscc = models.CharField(_("unified social credit code"), max_length=18, blank=True)
    id_number = EncryptedTextField(_("ID number"), max_length=18, blank=True)
    phone = EncryptedTextField(_("phone"), max_length=30, blank=True)
    address = EncryptedTextField(_("address"), max_length=300, blank=True)
    name_index = BlindIndexField(source="subject_name", verbose_name=_("name index"))
    id_index = BlindIndexField(source="id_number", verbose_name=_("ID number index"))
    phone_index = BlindIndexField(source="phone", verbose_name=_("phone index"))
    county = models.ForeignKey(
        "geo.Division",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cases",
        verbose_name=_("county"),
    )
    township = models.ForeignKey(
        "geo.Division",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="township_cases",
        verbose_name=_("township"),
    )
    zone = models.ForeignKey(
        "geo.ResponsibilityArea", null=True, blank=True, on_delete=models.PROTECT, verbose_name=_("zone"))
    carrier = models.CharField(_("carrier"), max_length=40, blank=True)
    # The list's own 类型 column, as given: classification is recomputed from it and from
    # what the visits found.
    listed_type = models.CharField(_("type as listed"), max_length=100, blank=True)
    coin = models.CharField(_("coin"), max_length=40, blank=True)
    pool = models.CharField(_("pool"), max_length=200, blank=True)

    subject_type = models.CharField(
        _("subject type"), max_length=20, choices=SubjectType.choices, default=SubjectType.UNKNOWN
    )
    behaviour = models.CharField(
        _("behaviour"), max_length=20, choices=Behaviour.choices, default=Behaviour.UNDETERMINED
    )
    grade = models.CharField(_("grade"), max_length=2, choices=Grade.choices, default=Grade.L3)
    classification = models.JSONField(default=list, blank=True,
        verbose_name=_("classification"))  # the rules that matched
    lead_department = models.ForeignKey(
        "org.Department",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="led_cases",
        verbose_name=_("lead department"),
    )
    co_departments = models.ManyToManyField(
        "org.Department", blank=True, related_name="co_cases", verbose_name=_("co-responsible")
    )

    state = models.CharField(
        _("state"), max_length=20, choices=State.choices, default=State.DISPATCHED, db_index=True
    )
    on_key_list = models.BooleanField(_("key list"), default=False)
    on_stock_list = models.BooleanField(_("stock list"), default=False)
    on_full_list = models.BooleanField(_("full list"), default=False)
    on_new_list = models.BooleanField(_("new list"), default=False)
    # 监测发现: found by the network or electricity screening, not by a province list.
    found_by_monitoring = models.BooleanField(_("found by monitoring"), default=False)
    # A site found mining again after its rebound watch ended is a new case linked here.
    previous_case = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="later_cases",
                                      verbose_name=_("previous case"))
    first_week = models.CharField(_("first week"), max_length=8, blank=True)
    last_week = models.CharField(_("latest week"), max_length=8, blank=True, db_index=True)
    # The key-list cut-off this case must be cleared by; derived from the list's week when
    # a key list names it. "Overdue" is never stored: it is this compared with now.
    due_at = models.DateTimeField(_("due"), null=True, blank=True, db_index=True)
    rebound_count = models.PositiveIntegerField(_("rebounds"), default=0)
    # The earliest evidence of mining (list 发现时间, first signal, electricity onset, site
    # visit): estimated energy counts from here, never from when the case was typed in.
    first_evidence_at = models.DateTimeField(_("first evidence"), null=True, blank=True)
    # Attributes the city corrected by hand (subject_type, behaviour, grade, lead): the
    # rules no longer change them.
    overrides = models.JSONField(default=list, blank=True, verbose_name=_("overrides"))
    ips = models.ManyToManyField(IPAddress, related_name="cases", blank=True, verbose_name=_("IP addresses"))
    ip_summary = models.CharField(_("IP"), max_length=120, blank=True)

    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    cleared_at = models.DateTimeField(_("cleared"), null=True, blank=True)
    closed_reason = models.TextField(_("reason"), blank=True)
    # The verifier a county officer named for the on-site work: the case is in their inbox.
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="assigned_cases",
                                 verbose_name=_("assigned to"))
    # When the city last sent the case back (退回: a clearance or an exclusion refused);
    # cleared by the next move, so "已退回" is what still waits on the county.
    sent_back_at = models.DateTimeField(_("sent back"), null=True, blank=True)

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["county", "state"]),
            models.Index(fields=["state", "due_at"]),
            models.Index(fields=["lead_department", "state"]),
            models.Index(fields=["updated_at"]),
            # State first: "open key-list cases" counts from the index alone.
            models.Index(fields=["state", "on_key_list"]),
            models.Index(fields=["assignee", "state"]),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        return f"QL{self.pk:07d}" if self.pk else "QL(new)"

    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def is_overdue(self, now: datetime | None = None) -> bool:
        # Only a key-list obligation has a due date; a cleared or excluded case is never late.
        if self.due_at is None or not self.is_open():
            return False
        return (now or timezone.now()) > self.due_at

    def cleared_on_time(self) -> bool | None:
        if self.due_at is None or self.cleared_at is None:
            return None
        return self.cleared_at <= self.due_at


class CaseKey(models.Model):
    """A key a case is known by (``uscc:…``, ``id:…``, ``account:…``, ``meter:…``,
    ``name:county:…``, ``addr:…``, ``ip:…``): see ``cases.identity``."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="keys", verbose_name=_("case"))
    key = models.CharField(max_length=200, db_index=True, verbose_name=_("key"))

    class Meta:
        verbose_name = _("case key")
        verbose_name_plural = _("case keys")
        constraints = [models.UniqueConstraint(fields=["case", "key"], name="case_key_once")]

    def __str__(self) -> str:
        return self.key


class SiteVisit(models.Model):
    """What a verifier found on site."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="visits", verbose_name=_("case"))
    visited_at = models.DateTimeField(_("visited at"))
    verifier = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
        verbose_name=_("verifier"))
    found_mining = models.BooleanField(_("mining found"))
    subject_name = EncryptedTextField(_("subject"), max_length=200, blank=True)
    subject_id = EncryptedTextField(
        _("unified social credit code or ID number"), max_length=18, blank=True
    )
    phone = EncryptedTextField(_("phone"), max_length=30, blank=True)
    address = EncryptedTextField(_("address"), max_length=300, blank=True)
    behaviour = models.CharField(_("behaviour"), max_length=20, choices=Behaviour.choices,
                                 blank=True)
    machine_count = models.PositiveIntegerField(_("machines"), default=0)
    machine_model = models.CharField(_("machine model"), max_length=100, blank=True)
    power_kw = models.DecimalField(
        _("power (kW)"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    machines_seized = models.PositiveIntegerField(_("machines seized"), default=0)
    power_cut = models.BooleanField(_("power cut"), default=False)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("site visit")
        verbose_name_plural = _("site visits")
        ordering = ["visited_at", "id"]

    def __str__(self) -> str:
        return _("%(case)s visit of %(day)s") % {
            "case": self.case, "day": f"{timezone.localtime(self.visited_at):%Y-%m-%d}"}


class Evidence(models.Model):
    """A photo or document. Stored under QINGLING_HOME by its sha256, served only in scope."""

    class Kind(models.TextChoices):
        PHOTO = "photo", _("Photo")
        DOCUMENT = "document", _("Document")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="evidence", verbose_name=_("case"))
    visit = models.ForeignKey(
        SiteVisit, null=True, blank=True, on_delete=models.SET_NULL, related_name="evidence",
            verbose_name=_("visit"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    content_type = models.CharField(max_length=80, verbose_name=_("content type"))
    original_name = models.CharField(_("file name"), max_length=200)
    sha256 = models.CharField(max_length=64, db_index=True, verbose_name=_("SHA-256"))
    size = models.PositiveBigIntegerField(verbose_name=_("size"))
    storage_path = models.CharField(max_length=300, verbose_name=_("storage path"))
    caption = models.CharField(_("caption"), max_length=200, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
        verbose_name=_("uploaded by"))
    uploaded_at = models.DateTimeField(default=timezone.now, verbose_name=_("uploaded at"))

    class Meta:
        verbose_name = _("evidence file")
        verbose_name_plural = _("evidence files")
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.original_name


class ClassificationRule(models.Model):
    """One configurable rule of 分类分级. Rules run in priority order; for each attribute
    (subject type, behaviour, grade) the first matching rule that sets it wins.

    A condition is a field of the list row or the case-in-making (``unit_name``,
    ``address``, ``type``, ``carrier``, ``list_type``, ``subject_type``, ``special``,
    ``machines``) tested with ``regex`` (a regular expression searched in the text),
    ``in`` (one of the values) or ``gte`` (a number at least this)."""

    class Operator(models.TextChoices):
        REGEX = "regex", _("matches pattern")
        IN = "in", _("is one of")
        GTE = "gte", _("is at least")
        ALWAYS = "always", _("always")

    priority = models.PositiveIntegerField(_("priority"), default=100)
    name = models.CharField(_("name"), max_length=100, unique=True)
    field = models.CharField(_("field"), max_length=30, blank=True)
    operator = models.CharField(_("operator"), max_length=10, choices=Operator.choices)
    value = models.CharField(_("value"), max_length=500, blank=True)
    set_subject_type = models.CharField(
        _("sets subject type"), max_length=20, choices=SubjectType.choices, blank=True
    )
    set_behaviour = models.CharField(
        _("sets behaviour"), max_length=20, choices=Behaviour.choices, blank=True
    )
    set_grade = models.CharField(_("sets grade"), max_length=2, choices=Grade.choices, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("classification rule")
        verbose_name_plural = _("classification rules")
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        import re

        from django.core.exceptions import ValidationError

        if self.operator == self.Operator.REGEX:
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValidationError({"value": _("not a valid regular expression (%(error)s)")
                                                % {"error": exc}}) from None
        if self.operator == self.Operator.GTE:
            try:
                float(self.value)
            except ValueError:
                raise ValidationError({"value": _("Enter a number.")}) from None
        if not (self.set_subject_type or self.set_behaviour or self.set_grade):
            raise ValidationError(_("A rule must set at least one attribute."))


class WarningEntry(models.Model):
    """A known shared egress (MISP-style warning list): government network exits, campus
    gateways, carrier CGNAT pools. A hit does not blame the organisation behind it: the item
    becomes a 误报(共享出口) candidate that needs host-level evidence."""

    class Kind(models.TextChoices):
        GOV_EXIT = "gov_exit", _("Government network exit")
        CAMPUS = "campus", _("Campus gateway")
        CGNAT = "cgnat", _("Carrier CGNAT pool")
        OTHER = "other", _("Other shared egress")

    network = models.CharField(_("address or network"), max_length=50)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=120)
    note = models.CharField(_("note"), max_length=300, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+", verbose_name=_("added by"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        ordering = ["network"]
        verbose_name = _("warning-list entry")

    def __str__(self) -> str:
        return f"{self.network} {self.name}"
