from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from qingling.common.weeks import IsoWeek
from qingling.supervision.figures import week_projects
from qingling.supervision.projects import projects_xlsx, shown_rows


class Command(BaseCommand):
    help = ("Write the project list (项目清单) of a week: one row per confirmed mining site "
            "with its subject (a person's name masked), scale, hash rate, energy and status; "
            "from the week's close when it was closed, else as it stands now.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--week", required=True, help="ISO week, e.g. 2026-W48")
        parser.add_argument("--out", required=True, type=Path, help="the .xlsx to write")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            week = IsoWeek.parse(opts["week"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        out: Path = opts["out"]
        if out.suffix.lower() != ".xlsx":
            raise CommandError(f"--out {out}: the project list is written as .xlsx")
        if not out.parent.is_dir():
            raise CommandError(f"--out {out}: folder {out.parent} does not exist")
        rows, close = week_projects(week, timezone.now())
        data = projects_xlsx(shown_rows(rows, None), str(week),
                             None if close is None else close.final)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, out)
        source = ("its final close" if close and close.final else
                  "its draft close" if close else "the data as it stands (not closed yet)")
        self.stdout.write(f"{out}: {len(rows)} site(s) of {week}, from {source}")
