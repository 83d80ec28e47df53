from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from qingling.common.weeks import SHANGHAI
from qingling.org.models import Department
from qingling.tasks.models import DepartmentTask, TaskState


class Command(BaseCommand):
    help = "List department tasks (case, department, kind, due, state)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="one JSON array on stdout")
        parser.add_argument("--department", help="only this department's (its code, e.g. psb)")
        parser.add_argument("--state", choices=TaskState.values, help="only tasks in this state")

    def handle(self, *args: Any, **opts: Any) -> None:
        qs = DepartmentTask.objects.select_related("case", "department", "kind").order_by(
            "department__code", "due_at", "id")
        if opts["department"]:
            if not Department.objects.filter(code=opts["department"]).exists():
                raise CommandError(f"unknown department code {opts['department']!r}")
            qs = qs.filter(department__code=opts["department"])
        if opts["state"]:
            qs = qs.filter(state=opts["state"])
        rows: list[dict[str, Any]] = [{"id": t.pk, "case": t.case.reference, "case_id": t.case_id,
                 "department": t.department.code, "kind": t.kind.code,
                 "due": t.due_at.astimezone(SHANGHAI).isoformat(), "state": t.state,
                 "mandatory": t.mandatory} for t in qs.iterator(chunk_size=2000)]
        if opts["json"]:
            self.stdout.write(json.dumps(rows, ensure_ascii=False))
            return
        for r in rows:
            self.stdout.write(f"{r['case']}  {r['department']:<12} {r['kind']:<20} "
                              f"{r['due'][:16]}  {r['state']}")
        self.stdout.write(f"{len(rows)} task(s)")
