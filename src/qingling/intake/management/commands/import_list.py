from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from qingling.cases.models import ListType
from qingling.common.weeks import IsoWeek
from qingling.intake import jobs as import_jobs
from qingling.intake.readers import ListFileError
from qingling.intake.services import ImportSummary, ListRejected
from qingling.jobs.runner import enqueue, run_inline


class Command(BaseCommand):
    help = "Import a province list (CSV or XLSX) and report its diff against the previous one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--list-type", required=True, choices=ListType.values)
        parser.add_argument("--week", required=True, help="ISO week, e.g. 2026-W48")
        parser.add_argument("--issuer", default="", help="who sent the list")
        parser.add_argument(
            "--accept-valid",
            action="store_true",
            help="import the valid rows and keep the rejected ones with their reasons",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument("--preview", action="store_true",
                            help="say what the import would do (rows new, still present, "
                                 "reappeared, absent; rejected rows), write nothing")
        parser.add_argument("--background", action="store_true",
                            help="queue the import for `qingling worker` and return at once")

    def handle(self, *args: Any, **opts: Any) -> None:
        path: Path = opts["file"]
        try:
            week = IsoWeek.parse(opts["week"])
        except ValueError as exc:
            raise CommandError(f"--week: {exc}") from None
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror}") from None

        def progress(line: str) -> None:
            if not opts["json"]:
                sys.stderr.write(f"  … {line}\n")
                sys.stderr.flush()

        if opts["preview"]:
            self._preview(path, data, opts, week)
            return
        params = import_jobs.params_of(
            file_name=path.name, list_type=opts["list_type"], week=week, issuer=opts["issuer"],
            accept_valid=opts["accept_valid"], inline=not opts["background"])
        title = import_jobs.title_of(path.name, opts["list_type"], str(week))
        if opts["background"]:
            job = enqueue(import_jobs.KIND, title=title, params=params, data=data)
            self.stdout.write(json.dumps({"job": job.pk}) if opts["json"] else
                              f"{path.name}: queued as job {job.pk} (see /jobs/{job.pk}/)")
            return
        job = enqueue(import_jobs.KIND, title=title, params=params)
        try:
            job = run_inline(job, progress, data=data, reraise=True)
        except ListRejected as exc:
            if opts["json"]:
                self.stdout.write(json.dumps({
                    "error": str(exc),
                    "rejected_rows": [e.as_dict() for e in exc.errors],
                }, ensure_ascii=False))
            raise CommandError(exc.report()) from None
        except ListFileError as exc:
            raise CommandError(str(exc)) from None
        if job.state != job.State.DONE:
            raise CommandError(f"job {job.pk}: {job.get_state_display()} {job.error}")
        summary = ImportSummary(**{k: v for k, v in job.result.items()
                                   if k in ImportSummary.__dataclass_fields__})
        if opts["json"]:
            self.stdout.write(json.dumps(summary.as_dict(), ensure_ascii=False))
            return
        if summary.duplicate_of is not None:
            self.stdout.write(
                f"{path.name}: already imported as batch {summary.duplicate_of}; nothing changed."
            )
            return
        self.stdout.write(
            f"{path.name}: batch {summary.batch_id}, {summary.rows} rows "
            f"({summary.accepted} accepted, {summary.rejected} rejected)\n"
            f"  vs previous {opts['list_type']} list: new {summary.new}, "
            f"still present {summary.present}, reappeared {summary.reappeared}, "
            f"absent {summary.absent}\n"
            f"  cases created {summary.cases_created}, reopened as rebound "
            f"{summary.cases_reopened}, awaiting dispatch {summary.pending_dispatch}"
        )
        for row in summary.rejected_rows[:50]:
            self.stdout.write(f"  rejected: row {row['row']}, {row['column']}: {row['reason']}")

    def _preview(self, path: Path, data: bytes, opts: dict[str, Any], week: IsoWeek) -> None:
        from qingling.intake.services import preview_list

        try:
            p = preview_list(data=data, file_name=path.name, list_type=opts["list_type"],
                             week=week)
        except ListFileError as exc:
            raise CommandError(str(exc)) from None
        if opts["json"]:
            self.stdout.write(json.dumps(p, ensure_ascii=False, default=str))
            return
        c = p["counts"]
        self.stdout.write(
            f"{path.name} (preview, nothing written): {p['rows']} rows, {p['accepted']} "
            f"importable, {p['rejected']} rejected\n"
            f"  new {c['new']}, still present {c['present']}, reappeared {c['reappeared']}, "
            f"absent {c['absent']}; new cases {p['new_cases']}")
        for w in p["warnings"]:
            self.stdout.write(f"  warning: {w}")
        for e in p["errors"][:50]:
            self.stdout.write(f"  rejected: row {e['row']}: {'; '.join(e['reasons'])}")
        unknown = [c["header"] for c in p["columns"] if c["header"] and not c["known"]]
        if unknown:
            self.stdout.write("  columns not recognised (kept as extra): " + "、".join(unknown))
