"""One digest per county per day: what is due soon, what is overdue, what rebounded and
which escalations wait. Shown in the app and e-mailed to the county's officers when e-mail
is configured; never one message per item (a tracker that did that once sent 430,000
notifications overnight)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Q

from qingling.audit.models import AuditEntry
from qingling.cases.models import OPEN_STATES, Case
from qingling.common.weeks import SHANGHAI
from qingling.geo.models import Division
from qingling.org.models import Profile, Role
from qingling.supervision.figures import counties
from qingling.supervision.models import Digest, Escalation

DUE_SOON = timedelta(days=2)
LISTED = 20  # items named in the text; the counts are always complete


def _lines(title: str, cases: list[Case], total: int) -> list[str]:
    if not total:
        return []
    out = [f"{title}：{total} 条"]
    for c in cases[:LISTED]:
        due = c.due_at.astimezone(SHANGHAI).strftime("%m-%d %H:%M") if c.due_at else ""
        out.append(f"  · 案件 {c.pk} {c.ip_summary} {c.get_state_display()} {due}")
    if total > LISTED:
        out.append(f"  · 另有 {total - LISTED} 条，见系统")
    return out


def build(county: Division, now: datetime) -> tuple[dict[str, int], str]:
    open_cases = Case.objects.filter(county=county, state__in=OPEN_STATES).order_by("due_at", "id")
    overdue = open_cases.filter(due_at__lt=now)
    due_soon = open_cases.filter(due_at__gte=now, due_at__lt=now + DUE_SOON)
    rebounds = Case.objects.filter(
        pk__in=AuditEntry.objects.filter(Q(action="rebound") | Q(action="reopen"),
                                         at__gte=now - timedelta(days=1), at__lt=now,
                                         case__county=county).values("case_id"))
    escalations = Escalation.objects.filter(
        county=county, status__in=(Escalation.Status.PROPOSED, Escalation.Status.APPROVED))
    counts = {"overdue": overdue.count(), "due_soon": due_soon.count(),
              "rebounds": rebounds.count(), "escalations": escalations.count()}
    lines = [f"{county.name} 每日提醒（{now.astimezone(SHANGHAI):%Y-%m-%d}）"]
    lines += _lines("已逾期", list(overdue[:LISTED]), counts["overdue"])
    lines += _lines("两日内到期", list(due_soon[:LISTED]), counts["due_soon"])
    lines += _lines("近一日反弹", list(rebounds[:LISTED]), counts["rebounds"])
    if counts["escalations"]:
        lines.append(f"待办约谈/通报：{counts['escalations']} 项")
        lines += [f"  · {e.get_kind_display()}：{e.subject}（{e.get_status_display()}）"
                  for e in escalations[:LISTED]]
    return counts, "\n".join(lines)


def send_digests(day: date, now: datetime | None = None,
                 email: bool | None = None) -> list[Digest]:
    """Make (and mail) the day's digests; a county with nothing to report gets none, and
    running again on the same day makes and sends nothing new."""
    now = now or datetime.combine(day, time(8, 0), SHANGHAI)
    email = settings.QINGLING_DIGEST_EMAIL if email is None else email
    made = []
    for county in counties():
        if Digest.objects.filter(county=county, day=day).exists():
            continue
        counts, body = build(county, now)
        if not any(counts.values()):
            continue
        recipients = sorted({p.user.email for p in Profile.objects.filter(
            role=Role.COUNTY, county=county, user__is_active=True).select_related("user")
            if p.user.email})
        try:
            with transaction.atomic():
                digest = Digest.objects.create(county=county, day=day, counts=counts, body=body,
                                               recipients=recipients if email else [])
        except IntegrityError:
            continue  # another run made it first
        if email and recipients:
            EmailMessage(subject=body.splitlines()[0], body=body, to=recipients).send()
        made.append(digest)
    return made
