from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from qingling.common.weeks import IsoWeek
from qingling.supervision.models import Escalation
from qingling.supervision.services import CloseError, weekly_close


class Command(BaseCommand):
    help = ("Freeze a week's figures at its cut-off and propose its escalations (a final "
            "close: running it again changes nothing). With --early before the cut-off, a "
            "draft that each run recomputes.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--week", required=True, help="ISO week, e.g. 2026-W48")
        parser.add_argument("--early", action="store_true",
                            help="a draft close before the cut-off (a drill or a holiday "
                                 "week); it can be redone, and the close at the cut-off is final")
        parser.add_argument("--json", action="store_true", help="print the figures as JSON")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            week = IsoWeek.parse(opts["week"])
            close, made = weekly_close(week, timezone.now(), early=opts["early"])
        except (ValueError, CloseError) as exc:
            raise CommandError(str(exc)) from None
        if opts["json"]:
            self.stdout.write(json.dumps({**close.figures, "final": close.final},
                                         ensure_ascii=False, indent=1))
            return
        c = close.figures["city"]
        rate = "—" if c["on_time_rate"] is None else f"{100 * c['on_time_rate']:.1f}%"
        delta = "" if c["stock_delta"] is None else f" ({c['stock_delta']:+d})"
        escalations = Escalation.objects.filter(week=str(week)).count()
        self.stdout.write(
            f"{week} {'draft ' if not close.final else ''}"
            f"{'closed' if made else 'was already closed'} "
            f"(at {timezone.localtime(close.closed_at):%Y-%m-%d %H:%M}): key list "
            f"{c['key_received']} due, {c['key_on_time']} on time, {c['key_late']} late, "
            f"{c['key_overdue']} overdue ({rate}); stock {c['stock_open']}{delta}; "
            f"escalations: {escalations}"
        )
