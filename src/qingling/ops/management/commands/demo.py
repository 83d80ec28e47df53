from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from qingling.common.weeks import IsoWeek
from qingling.intake.services import import_list
from qingling.ops.demo import (
    DEMO_PASSWORD,
    DEMO_USERS,
    demo_files,
    demo_makers,
    demo_tariff_accounts,
    demo_walk,
)
from qingling.org.services import user_provision
from qingling.supervision.bulletin import bulletin_dir, issue
from qingling.supervision.services import weekly_close


class Command(BaseCommand):
    help = "Load a demo week (lists, cases, a week half-walked) and optionally serve the UI."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--serve", action="store_true", help="serve the UI afterwards")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args: Any, **opts: Any) -> None:
        call_command("init", stdout=self.stdout)
        for username, role, county, dept, name in DEMO_USERS:
            user_provision(username=username, password=DEMO_PASSWORD, role=role,
                           county_code=county, department_code=dept, display_name=name)
        home = Path(settings.QINGLING_HOME) / "demo"
        marker = home / ".loaded"
        if marker.exists():
            self.stdout.write(f"demo data already loaded ({home}); nothing to do.")
        else:
            now = timezone.now()
            this = IsoWeek.of(now)
            last = this.shift(-1)
            files = demo_files(home, now, opts["seed"])
            plan = [("key_last", "key", last), ("stock_last", "stock", last)]
            for name, list_type, week in plan:
                self._import(files[name], list_type, week)
            n = demo_walk(last, now, share=1.0, clear_every=1)
            self.stdout.write(f"  walked {n} of last week's key-list cases")
            demo_tariff_accounts(now)
            demo_makers(now)
            close, _ = weekly_close(last, timezone.now())
            self.stdout.write(f"  closed {last}: {close.figures['city']['key_on_time']} of "
                              f"{close.figures['city']['key_received']} key-list items on time")
            for name, list_type, week in [("key_this", "key", this), ("stock_this", "stock", this)]:
                self._import(files[name], list_type, week)
            n = demo_walk(this, now, share=0.7, clear_every=5)
            self.stdout.write(f"  walked {n} of this week's key-list cases part-way")
            files_out = issue(last, bulletin_dir(), timezone.now())
            self.stdout.write(f"  bulletin {files_out.doc_number}: {files_out.docx}")
            self.stdout.write(f"  annex: {files_out.xlsx}")
            self.stdout.write(f"  PDF: {files_out.pdf}" if files_out.pdf
                              else f"  {files_out.pdf_message}")
            marker.write_text(now.isoformat())
        self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
        for username, _role, _county, _dept, name in DEMO_USERS:
            self.stdout.write(f"  {username:<16} {name}")
        if opts["serve"]:
            call_command("serve", port=opts["port"])

    def _import(self, path: Path, list_type: str, week: IsoWeek) -> None:
        s = import_list(data=path.read_bytes(), file_name=path.name, list_type=list_type,
                        week=week, issuer="省整治办（演示）")
        self.stdout.write(
            f"  imported {path.name}: {s.rows} rows, new {s.new}, present {s.present}, "
            f"reappeared {s.reappeared}, absent {s.absent}"
        )
