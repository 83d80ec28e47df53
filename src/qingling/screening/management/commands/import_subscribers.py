from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from qingling.intake.readers import ListFileError
from qingling.screening.services import subscribers_import


class Command(BaseCommand):
    help = ("Import a carrier's subscriber register (CSV/XLSX: account, name, ID or credit "
            "code, phone, installation address, carrier); personal fields are encrypted.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--carrier", default="", help="when the file has no carrier column")

    def handle(self, *args: Any, **opts: Any) -> None:
        path: Path = opts["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        try:
            s = subscribers_import(data=path.read_bytes(), file_name=path.name,
                                   carrier=opts["carrier"])
        except ListFileError as exc:
            raise CommandError(str(exc)) from None
        if s.rejected:
            raise CommandError(f"{path.name}: nothing imported; " + "; ".join(s.rejected[:20]))
        self.stdout.write(f"{path.name}: {s.rows} rows, {s.added} added, {s.updated} updated, "
                          f"{s.triage} need address triage")
