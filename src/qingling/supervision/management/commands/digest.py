from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from qingling.common.weeks import SHANGHAI
from qingling.supervision.digest import send_digests
from qingling.tasks.digest import send_department_digests


class Command(BaseCommand):
    help = ("Make today's digest for each county (due soon, overdue, rebounds, escalations) "
            "and for each department (its tasks overdue, due soon, waiting for a waiver) "
            "and e-mail it when QINGLING_DIGEST_EMAIL is on. Run it once a day (cron or a "
            "systemd timer); running it again the same day sends nothing twice.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="the day (YYYY-MM-DD, Asia/Shanghai); default today")
        parser.add_argument("--email", action="store_true", help="e-mail even if not configured")

    def handle(self, *args: Any, **opts: Any) -> None:
        now = timezone.now()
        try:
            day = date.fromisoformat(opts["date"]) if opts["date"] else now.astimezone(SHANGHAI).date()
        except ValueError:
            raise CommandError(f"--date {opts['date']!r}: expected YYYY-MM-DD") from None
        made = send_digests(day, now if not opts["date"] else None,
                            email=True if opts["email"] else None)
        for d in made:
            sent = f", e-mailed to {len(d.recipients)}" if d.recipients else ""
            self.stdout.write(f"{d.county.name}: {d.counts}{sent}")
        self.stdout.write(f"{len(made)} digest(s) for {day}")
        by_department = send_department_digests(day, now if not opts["date"] else None,
                                                email=True if opts["email"] else None)
        for t in by_department:
            sent = f", e-mailed to {len(t.recipients)}" if t.recipients else ""
            self.stdout.write(f"{t.department.name}: {t.counts}{sent}")
        self.stdout.write(f"{len(by_department)} department digest(s) for {day}")
