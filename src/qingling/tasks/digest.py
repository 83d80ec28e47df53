"""One digest per department per day: its tasks overdue, due within two days, and waiting
for the city's decision on a waiver — across every county. Shown in the app and e-mailed
to the department's officers when e-mail is configured; never one message per task."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction

from qingling.common.weeks import SHANGHAI
from qingling.org.models import Department, Profile, Role
from qingling.tasks.models import DepartmentTask, TaskDigest, TaskState

DUE_SOON = timedelta(days=2)
LISTED = 20


def build(department: Department, now: datetime) -> tuple[dict[str, int], str]:
    mine = (DepartmentTask.objects.filter(department=department)
            .select_related("case", "case__county", "kind").order_by("due_at", "id"))
    active = mine.filter(state__in=(TaskState.TODO, TaskState.DOING))
    groups = [("overdue", "已逾期", active.filter(due_at__lt=now)),
              ("due_soon", "两日内到期", active.filter(due_at__gte=now, due_at__lt=now + DUE_SOON)),
              ("waiting", "豁免待市级审核", mine.filter(state=TaskState.WAIVER_REQUESTED))]
    counts = {key: qs.count() for key, _title, qs in groups}
    lines = [f"{department.name} 部门任务每日提醒（{now.astimezone(SHANGHAI):%Y-%m-%d}）"]
    for key, title, qs in groups:
        if not counts[key]:
            continue
        lines.append(f"{title}：{counts[key]} 项")
        for t in qs[:LISTED]:
            county = t.case.county.name if t.case.county else "未定位"
            lines.append(f"  · {t.case.reference} {county} {t.kind.name} "
                         f"{t.due_at.astimezone(SHANGHAI):%m-%d %H:%M}")
        if counts[key] > LISTED:
            lines.append(f"  · 另有 {counts[key] - LISTED} 项，见系统")
    return counts, "\n".join(lines)


def send_department_digests(day: date, now: datetime | None = None,
                            email: bool | None = None) -> list[TaskDigest]:
    """The day's department digests; a department with nothing to report gets none, and
    running again the same day makes and sends nothing new."""
    now = now or datetime.combine(day, time(8, 0), SHANGHAI)
    email = settings.QINGLING_DIGEST_EMAIL if email is None else email
    made = []
    departments = Department.objects.filter(tasks__isnull=False).distinct().order_by("code")
    for department in departments:
        if TaskDigest.objects.filter(department=department, day=day).exists():
            continue
        counts, body = build(department, now)
        if not any(counts.values()):
            continue
        recipients = sorted({p.user.email for p in Profile.objects.filter(
            role=Role.DEPARTMENT, department=department, user__is_active=True)
            .select_related("user") if p.user.email})
        try:
            with transaction.atomic():
                digest = TaskDigest.objects.create(department=department, day=day,
                                                   counts=counts, body=body,
                                                   recipients=recipients if email else [])
        except IntegrityError:
            continue
        if email and recipients:
            EmailMessage(subject=body.splitlines()[0], body=body, to=recipients).send()
        made.append(digest)
    return made
