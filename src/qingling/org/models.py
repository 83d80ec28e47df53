from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class SubjectType(models.TextChoices):
    PARTY_GOV = "party_gov", _("Party or government body")
    STATE_OWNED = "state_owned", _("State-owned enterprise or institution")
    SCHOOL = "school", _("School or university")
    HOSPITAL = "public_inst", _("Hospital or other public institution")
    IDC = "idc", _("Data centre / IDC / cloud")
    CAFE = "cafe", _("Internet café")
    ENTERPRISE = "enterprise", _("Enterprise or industrial park")
    RESIDENTIAL = "residential", _("Individual / home broadband")
    UNKNOWN = "unknown", _("Unknown")


class Behaviour(models.TextChoices):
    ACTIVE = "active", _("Active mining")  # 主动
    HIJACKED = "hijacked", _("Hijacked (trojan)")  # 被控(木马)
    FALSE_POSITIVE = "false_positive", _("False positive (shared egress)")  # 误报(共享出口)
    UNLOCATABLE = "unlocatable", _("Cannot be located (dynamic IP)")  # 无法定位
    UNDETERMINED = "undetermined", _("Undetermined")  # 待定


class Department(models.Model):
    """A responsible department from the work plan's section 四."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=80)
    remit = models.TextField(_("remit"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class RoutingRule(models.Model):
    """Subject type → the lead department and the co-responsible ones. Editable by an admin."""

    # A rule names a subject type (it gives the lead and co-responsible departments), or a
    # behaviour (its departments join whatever the subject type gives: 被控 → public
    # security), or both.
    subject_type = models.CharField(
        _("subject type"), max_length=20, choices=SubjectType.choices, blank=True
    )
    behaviour = models.CharField(_("behaviour"), max_length=20, choices=Behaviour.choices,
                                 blank=True)
    lead = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.PROTECT, related_name="leads",
        verbose_name=_("lead"),
    )
    co_departments = models.ManyToManyField(
        Department, blank=True, related_name="co_routes", verbose_name=_("co-responsible")
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        ordering = ["subject_type", "behaviour"]
        constraints = [models.UniqueConstraint(fields=["subject_type", "behaviour"],
                                               name="routing_rule_once")]

    def __str__(self) -> str:
        return (f"{self.get_subject_type_display()}{self.get_behaviour_display()} → "
                f"{self.lead or '—'}")


class Role(models.TextChoices):
    CITY = "city", _("City coordinator")
    COUNTY = "county", _("County officer")
    DEPARTMENT = "department", _("Department officer")
    VERIFIER = "verifier", _("On-site verifier")
    LEADER = "leader", _("Leader (read-only)")


class Profile(models.Model):
    """What a user may see and do. No profile means no access at all."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile", verbose_name=_("user"))
    role = models.CharField(_("role"), max_length=12, choices=Role.choices)
    county = models.ForeignKey(
        "geo.Division",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        limit_choices_to={"level": "county"},
        verbose_name=_("county"),
    )
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.PROTECT, verbose_name=_("department")
    )

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.role in (Role.COUNTY, Role.VERIFIER) and self.county_id is None:
            raise ValidationError({"county": _("County officers and verifiers need a county.")})
        if self.role == Role.DEPARTMENT and self.department_id is None:
            raise ValidationError({"department": _("Department officers need a department.")})


class CitySetting(models.Model):
    """The city's own settings, set by its coordinator on the configuration pages. One row;
    an empty value falls back to the installation's default (QINGLING_CUTOFF_*)."""

    # ISO weekday, 1 (Monday) to 7 (Sunday), and Beijing time of the weekly cut-off.
    cutoff_weekday = models.PositiveSmallIntegerField(
        _("cut-off weekday"), null=True, blank=True,
        choices=[(1, _("Monday")), (2, _("Tuesday")), (3, _("Wednesday")), (4, _("Thursday")),
                 (5, _("Friday")), (6, _("Saturday")), (7, _("Sunday"))])
    cutoff_time = models.TimeField(_("cut-off time (Beijing)"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("city setting")
        verbose_name_plural = _("city settings")

    def __str__(self) -> str:
        return str(_("city setting"))

    @classmethod
    def current(cls) -> CitySetting:
        """The one row (never written here: a read must not create it)."""
        return cls.objects.filter(pk=1).first() or cls(pk=1)
