from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from qingling.cases.reference import rules_load
from qingling.geo.services import DATA_DIR, divisions_load
from qingling.org.services import departments_load
from qingling.supervision.services import reference_load
from qingling.tasks.services import tasks_load


class Command(BaseCommand):
    help = "Create or migrate the database and load the reference data. Safe to run again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--divisions",
            type=Path,
            default=DATA_DIR,
            help="folder with city.csv, *counties*.csv, *townships*.csv (default: Jiaxing)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        Path(settings.QINGLING_HOME).mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        div = divisions_load(opts["divisions"])
        dep = departments_load()
        rules = rules_load()
        ref = reference_load()
        tasks = tasks_load()
        self.stdout.write(
            f"database ready ({settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}); "
            f"divisions: {div['counties']} counties, {div['townships']} townships, "
            f"{div['zones']} zones; departments added: {dep['departments']}, "
            f"routes added: {dep['routes']}; classification rules added: {rules}; "
            f"energy coefficients added: {ref['factors']}, surcharge rates added: {ref['rates']}; "
            f"task kinds added: {tasks['kinds']}, task routes added: {tasks['rules']}"
        )
