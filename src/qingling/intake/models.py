from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qingling.cases.models import ListType
from qingling.common.fields import EncryptedJSONField


class ListBatch(models.Model):
    """One imported list file: the province's weekly key, stock, full or new list."""

    class Status(models.TextChoices):
        COMPLETE = "complete", _("Imported")
        PARTIAL = "partial", _("Imported with rejected rows")
        IMPORTING = "importing", _("Importing")

    list_type = models.CharField(_("list type"), max_length=8, choices=ListType.choices)
    week = models.CharField(_("week"), max_length=8, db_index=True)
    issuer = models.CharField(_("issuer"), max_length=100, blank=True)
    file_name = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(max_length=64, db_index=True, verbose_name=_("SHA-256"))
    # The same cells in other bytes (a BOM added, re-saved as XLSX) are the same list.
    content_sha = models.CharField(max_length=64, blank=True, db_index=True,
                                   verbose_name=_("content digest"))
    size = models.PositiveBigIntegerField(verbose_name=_("size"))
    file_format = models.CharField(max_length=8, verbose_name=_("file format"))
    encoding = models.CharField(max_length=20, blank=True, verbose_name=_("encoding"))
    header_row = models.PositiveIntegerField(default=1, verbose_name=_("header row"))
    columns = models.JSONField(default=dict, verbose_name=_("columns"))  # source header → canonical field
    # The headers in the file's order (PostgreSQL's jsonb does not keep a dict's key order).
    headers = models.JSONField(default=list, blank=True, verbose_name=_("headers"))
    status = models.CharField(max_length=10, choices=Status.choices, verbose_name=_("status"))
    row_count = models.PositiveIntegerField(default=0, verbose_name=_("row count"))
    rejected_count = models.PositiveIntegerField(default=0, verbose_name=_("rejected count"))
    # While importing: the slices committed so far and their counts (an import that stopped
    # resumes from here).
    progress = models.JSONField(default=dict, blank=True, verbose_name=_("progress"))
    diff = models.JSONField(default=dict, verbose_name=_("diff"))  # counts: new, present, reappeared, absent
    previous = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
        verbose_name=_("previous"))
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
            verbose_name=_("imported by"))
    imported_at = models.DateTimeField(default=timezone.now, verbose_name=_("imported at"))

    class Meta:
        verbose_name = _("list batch")
        verbose_name_plural = _("list batches")
        ordering = ["-imported_at", "-id"]
        indexes = [models.Index(fields=["list_type", "week"])]
        # The same file is the same list only for the same list type and week: an unchanged
        # stock list sent again next week is a new batch (everything "still present").
        constraints = [
            models.UniqueConstraint(fields=["sha256", "list_type", "week"], name="batch_once"),
            models.UniqueConstraint(fields=["content_sha", "list_type", "week"],
                                    condition=~models.Q(content_sha=""),
                                    name="batch_content_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_list_type_display()} {self.week} ({self.file_name})"

    @property
    def ordered_columns(self) -> list[tuple[str, str | None]]:
        """(header, canonical field) in the file's order."""
        order = self.headers or list(self.columns)
        return [(h, self.columns.get(h)) for h in order if h]


class ListRow(models.Model):
    """One row of a list file, exactly as read, with its source row number."""

    batch = models.ForeignKey(ListBatch, on_delete=models.CASCADE, related_name="rows",
        verbose_name=_("batch"))
    row_number = models.PositiveIntegerField(_("row"))
    accepted = models.BooleanField(default=True, verbose_name=_("accepted"))
    reasons = models.JSONField(default=list, blank=True,
        verbose_name=_("reasons"))  # [{"column":…, "reason":…}]
    ip_text = models.CharField(_("IP address"), max_length=100, blank=True)
    # The cells as they came (personal data among them): sealed at rest.
    fields = EncryptedJSONField(default=dict, verbose_name=_("fields"))  # field → cell text
    extra = EncryptedJSONField(default=dict, blank=True,
                               verbose_name=_("extra"))  # unknown columns, kept

    class Meta:
        verbose_name = _("list row")
        verbose_name_plural = _("list rows")
        ordering = ["batch", "row_number"]
        indexes = [models.Index(fields=["batch", "accepted"])]

    def __str__(self) -> str:
        return _("batch %(batch)s row %(row)s") % {"batch": self.batch_id, "row": self.row_number}


class Appearance(models.Model):
    """An IP named by a list row, and the case it went to."""

    class Change(models.TextChoices):
        NEW = "new", _("New")
        PRESENT = "present", _("Still present")
        REAPPEARED = "reappeared", _("Reappeared after clearance")

    batch = models.ForeignKey(ListBatch, on_delete=models.CASCADE, related_name="appearances",
        verbose_name=_("batch"))
    row = models.OneToOneField(ListRow, on_delete=models.CASCADE, related_name="appearance",
        verbose_name=_("row"))
    ip = models.ForeignKey("cases.IPAddress", on_delete=models.PROTECT, related_name="appearances",
        verbose_name=_("IP address"))
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="appearances",
        verbose_name=_("case"))
    change = models.CharField(max_length=12, choices=Change.choices, verbose_name=_("change"))
    observed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("observed at"))

    class Meta:
        verbose_name = _("list appearance")
        verbose_name_plural = _("list appearances")
        indexes = [models.Index(fields=["ip", "batch"])]

    def __str__(self) -> str:
        return _("%(ip)s in batch %(batch)s") % {"ip": self.ip_id, "batch": self.batch_id}
