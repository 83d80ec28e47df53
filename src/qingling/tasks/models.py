"""Department tasks: what each member unit of the work group (section 四) must do about a
confirmed mining case, from an editable routing table, with due dates, outcomes and
evidence."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qingling.cases.models import Case, Evidence
from qingling.org.models import Behaviour, Department, SubjectType


class TaskKind(models.Model):
    """One kind of work for one department (e.g. the tax bureau stops tax preferences),
    with its due period and whether the case waits for it before 销号."""

    class Outcome(models.TextChoices):
        TEXT = "text", _("What was done")
        SUPPORT = "support", _("Support stopped: what, amount, date")
        CREDIT = "credit", _("Credit stopped: institution, amount, date")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="task_kinds",
                                   verbose_name=_("department"))
    due_days = models.PositiveSmallIntegerField(_("due within (days)"), default=14)
    mandatory = models.BooleanField(_("holds clearance"), default=True)
    outcome_kind = models.CharField(_("outcome recorded"), max_length=10,
                                    choices=Outcome.choices, default=Outcome.TEXT)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("department task kind")
        verbose_name_plural = _("department task kinds")
        ordering = ["department__code", "code"]

    def __str__(self) -> str:
        return self.name


class TaskRule(models.Model):
    """The routing table: a confirmed case whose facts match gets a task of this kind.
    Empty conditions match anything; every filled one must hold."""

    kind = models.ForeignKey(TaskKind, on_delete=models.CASCADE, related_name="rules",
                             verbose_name=_("task kind"))
    subject_type = models.CharField(_("subject type"), max_length=20,
                                    choices=SubjectType.choices, blank=True)
    behaviour = models.CharField(_("behaviour"), max_length=20, choices=Behaviour.choices,
                                 blank=True)
    # The carrier as the list names it (电信, 移动, 联通): each carrier shuts its own lines.
    carrier = models.CharField(_("carrier"), max_length=40, blank=True)
    when_sensitive = models.BooleanField(_("only when flagged sensitive"), default=False)
    note = models.CharField(_("note"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("task routing rule")
        verbose_name_plural = _("task routing rules")
        ordering = ["kind__department__code", "kind__code", "id"]
        constraints = [models.UniqueConstraint(
            fields=["kind", "subject_type", "behaviour", "carrier", "when_sensitive"],
            name="task_rule_once")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.note}"


class TaskState(models.TextChoices):
    TODO = "todo", _("To do")  # 待办
    DOING = "doing", _("In progress")  # 办理中
    DONE = "done", _("Done")  # 已办结
    WAIVER_REQUESTED = "waiver_requested", _("Waiver requested")  # 申请豁免
    WAIVED = "waived", _("Waived")  # 已豁免
    CANCELLED = "cancelled", _("Withdrawn")  # the facts no longer call for it


OPEN_TASK_STATES = (TaskState.TODO, TaskState.DOING, TaskState.WAIVER_REQUESTED)


class DepartmentTask(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="department_tasks",
                             verbose_name=_("case"))
    kind = models.ForeignKey(TaskKind, on_delete=models.PROTECT, related_name="tasks",
                             verbose_name=_("task kind"))
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="tasks",
                                   verbose_name=_("department"))
    mandatory = models.BooleanField(_("holds clearance"), default=True)
    state = models.CharField(_("state"), max_length=20, choices=TaskState.choices,
                             default=TaskState.TODO, db_index=True)
    due_at = models.DateTimeField(_("due"), db_index=True)
    basis = models.CharField(_("why"), max_length=300, blank=True)  # the rule that made it
    # "rule": the routing table made it (and withdraws it when the facts no longer call for
    # it); "check": a match in an imported list made it (only a person withdraws that).
    source = models.CharField(_("made by"), max_length=8, default="rule")
    outcome = models.TextField(_("outcome"), blank=True)
    institution = models.CharField(_("institution or measure"), max_length=200, blank=True)
    amount = models.DecimalField(_("amount (yuan)"), max_digits=16, decimal_places=2, null=True,
                                 blank=True)
    effective_on = models.DateField(_("effective on"), null=True, blank=True)
    waiver_reason = models.TextField(_("reason for the waiver"), blank=True)
    evidence = models.ManyToManyField(Evidence, blank=True, related_name="tasks",
                                      verbose_name=_("evidence"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    done_at = models.DateTimeField(_("finished"), null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+",
                                verbose_name=_("finished by"))

    class Meta:
        verbose_name = _("department task")
        verbose_name_plural = _("department tasks")
        ordering = ["due_at", "id"]
        constraints = [models.UniqueConstraint(fields=["case", "kind"], name="task_once_per_case")]
        indexes = [models.Index(fields=["department", "state", "due_at"])]

    def __str__(self) -> str:
        return f"{self.case} {self.kind}"

    def is_open(self) -> bool:
        return self.state in OPEN_TASK_STATES

    def is_overdue(self, now: datetime | None = None) -> bool:
        return self.is_open() and (now or timezone.now()) > self.due_at


class SensitiveMark(models.Model):
    """The city flags a case as sensitive for public opinion: propaganda and the
    cyberspace office then get a note to prepare."""

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="sensitive_mark",
                                verbose_name=_("case"))
    reason = models.CharField(_("reason"), max_length=300)
    marked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                  related_name="+", verbose_name=_("marked by"))
    marked_at = models.DateTimeField(_("marked at"), default=timezone.now)

    class Meta:
        verbose_name = _("sensitive case mark")

    def __str__(self) -> str:
        return str(self.case)


class TaskDigest(models.Model):
    """One daily reminder per department for its tasks, however many lie behind it."""

    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("department"))
    day = models.DateField(_("day"))
    counts = models.JSONField(default=dict, verbose_name=_("counts"))
    body = models.TextField(_("text"))
    recipients = models.JSONField(default=list, blank=True, verbose_name=_("recipients"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        ordering = ["-day", "department__code"]
        constraints = [models.UniqueConstraint(fields=["department", "day"],
                                               name="task_digest_once_a_day")]
        verbose_name = _("department digest")

    def __str__(self) -> str:
        return f"{self.day} {self.department_id}"


class CheckList(models.Model):
    """A list the grid company or the DRC imports to be matched against confirmed mining
    subjects: the power-market trading participants, or the enterprises receiving fiscal,
    tax or land preferences."""

    class Kind(models.TextChoices):
        POWER_MARKET = "power_market", _("Power-market trading participants")
        PREFERENCES = "preferences", _("Enterprises receiving fiscal, tax or land preferences")

    kind = models.CharField(_("list"), max_length=16, choices=Kind.choices)
    file_name = models.CharField(_("file name"), max_length=200)
    digest = models.CharField(max_length=64, verbose_name=_("content digest"))
    rows = models.PositiveIntegerField(_("rows"), default=0)
    matched = models.PositiveIntegerField(_("matched"), default=0)
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+", verbose_name=_("imported by"))
    imported_at = models.DateTimeField(_("imported"), default=timezone.now)

    class Meta:
        ordering = ["-imported_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["kind", "digest"], name="check_list_once")]
        verbose_name = _("check list")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.file_name}"


class CheckRow(models.Model):
    """One row of a check list and what it matched, by which rule."""

    class Rule(models.TextChoices):
        USCC = "uscc", _("same credit code")
        NAME = "name", _("same name")
        ADDRESS = "address", _("same address")
        NONE = "", _("no match")

    check_list = models.ForeignKey(CheckList, on_delete=models.CASCADE, related_name="entries",
                                   verbose_name=_("check list"))
    row_number = models.PositiveIntegerField(_("row"))
    name = models.CharField(_("enterprise"), max_length=200, blank=True)
    uscc = models.CharField(_("unified social credit code"), max_length=18, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", verbose_name=_("case"))
    rule = models.CharField(_("rule"), max_length=8, choices=Rule.choices, blank=True)
    tasks = models.ManyToManyField(DepartmentTask, blank=True, related_name="+",
                                   verbose_name=_("department tasks"))

    class Meta:
        ordering = ["check_list", "row_number"]
        verbose_name = _("check list row")

    def __str__(self) -> str:
        return f"{self.check_list_id}:{self.row_number}"
