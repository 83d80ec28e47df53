"""ISO weeks and the weekly cut-off, both in Asia/Shanghai.

Times are stored in UTC; the week a list belongs to and its cut-off are a local notion
(the work group's Friday afternoon), so they are computed in Asia/Shanghai.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils.translation import gettext

SHANGHAI = ZoneInfo("Asia/Shanghai")
_WEEK_RE = re.compile(r"(\d{4})-?W(\d{2})")


@dataclass(frozen=True, order=True)
class IsoWeek:
    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        m = _WEEK_RE.fullmatch(text.strip().upper())
        if not m:
            raise ValueError(gettext("%(text)s is not an ISO week such as 2026-W48")
                             % {"text": repr(text)})
        year, week = int(m.group(1)), int(m.group(2))
        try:
            date.fromisocalendar(year, week, 1)
        except ValueError:
            raise ValueError(gettext("%(text)s: %(year)s has no week %(week)s")
                             % {"text": repr(text), "year": year, "week": week}) from None
        return cls(year, week)

    @classmethod
    def of(cls, moment: datetime) -> IsoWeek:
        local = moment.astimezone(SHANGHAI) if moment.tzinfo else moment
        iso = local.isocalendar()
        return cls(iso.year, iso.week)

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    def start(self) -> datetime:
        return datetime.combine(self.monday(), time(0, 0), SHANGHAI)

    def cutoff(self, weekday: int, at: time) -> datetime:
        """The moment key-list items of this week fall due (aware, Asia/Shanghai)."""
        day = date.fromisocalendar(self.year, self.week, weekday)
        return datetime.combine(day, at, SHANGHAI)

    def label(self) -> str:
        """"2026年第49周（12月1日—12月7日）": the week as the work group writes it."""
        monday = self.monday()
        sunday = monday + timedelta(days=6)

        def day(d: date) -> str:
            return gettext("%(month)s/%(day)s") % {"month": d.month, "day": d.day}

        return gettext("Week %(week)s of %(year)s (%(start)s – %(end)s)") % {
            "year": self.year, "week": self.week, "start": day(monday), "end": day(sunday)}

    def shift(self, weeks: int) -> IsoWeek:
        return IsoWeek.of(self.start() + timedelta(weeks=weeks, hours=12))


def current_week(now: datetime) -> IsoWeek:
    return IsoWeek.of(now)
