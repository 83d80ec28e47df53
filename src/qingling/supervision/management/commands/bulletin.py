from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from qingling.common.weeks import IsoWeek
from qingling.supervision.bulletin import issue


class Command(BaseCommand):
    help = "Write a closed week's bulletin: .docx (GB/T 9704), .xlsx annex, and PDF if possible."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--week", required=True, help="ISO week, e.g. 2026-W48")
        parser.add_argument("--out", required=True, type=Path, help="output folder")
        parser.add_argument("--no-pdf", action="store_true", help="skip the PDF")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            week = IsoWeek.parse(opts["week"])
            files = issue(week, opts["out"], timezone.now(), pdf=not opts["no_pdf"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{files.doc_number}: {files.docx}")
        self.stdout.write(f"annex: {files.xlsx}")
        self.stdout.write(f"pdf: {files.pdf}" if files.pdf else files.pdf_message)
