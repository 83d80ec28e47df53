from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from qingling.screening.screen import input_digest, resolve_lists, screen_network


class Command(BaseCommand):
    help = ("Screen monitoring data into cases (监测发现) for the city to confirm: "
            "`screen network INPUT... --radius F` (detect, resolve hosts to subscribers), "
            "`screen power INPUT... --register F` (electricity leads on meters' sites), "
            "`screen lists --week W --radius F` (place list addresses). Each input runs once.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=["network", "power", "lists"])
        parser.add_argument("inputs", nargs="*", type=Path,
                            help="network: flow files (pcap, NetFlow, Zeek, …)")
        parser.add_argument("--week", help="lists: the week whose list addresses to resolve")
        parser.add_argument("--radius", nargs="+", type=Path, default=[],
                            help="network and lists: RADIUS accounting files")
        parser.add_argument("--register", type=Path,
                            help="power: meter register (meter_id/表号, address/用电地址, 户名…)")
        parser.add_argument("--cgnat", nargs="*", type=Path, default=[])
        parser.add_argument("--static", nargs="*", type=Path, default=[])
        parser.add_argument("--input-format", default="auto")
        parser.add_argument("--engine", default="duckdb", choices=["duckdb", "spark"])

    def _power(self, opts: dict[str, Any]) -> None:
        import pyarrow.csv as pacsv

        from qingling.detect.power.readers import read_meters
        from qingling.detect.readers.common import ReaderError
        from qingling.screening.screen import screen_power

        files = [*opts["inputs"], *([opts["register"]] if opts["register"] else [])]
        for p in files:
            if not p.is_file():
                raise CommandError(f"{p}: no such file")
        try:
            readings = pa.concat_tables([read_meters(p) for p in opts["inputs"]])
            register = pacsv.read_csv(opts["register"]) if opts["register"] else None
            s = screen_power(readings=readings, register=register,
                             digest=input_digest([p.read_bytes() for p in files]),
                             names=[p.name for p in files], now=timezone.now(),
                             engine_name=opts["engine"])
        except (ReaderError, ValueError, pa.ArrowInvalid) as exc:
            raise CommandError(str(exc)) from None
        if s.duplicate:
            self.stdout.write(f"these inputs were screened before (run {s.run}): nothing changed")
            return
        self.stdout.write(
            f"run {s.run}: {s.flagged} electricity leads; cases created {s.cases_created}, "
            f"updated {s.cases_updated}, reopened as 反弹 {s.rebounds}, new after the watch "
            f"{s.new_after_watch}; signals {s.signals}")

    def handle(self, *args: Any, **opts: Any) -> None:
        """Screening creates and updates cases like a list import: it runs as a job in the
        imports' lane (never beside an import; visible on the jobs page)."""
        from qingling.jobs.runner import enqueue, run_inline

        names = " ".join(p.name for p in opts["inputs"]) or opts.get("week") or ""
        job = enqueue("screen", lane="lists", title=f"screen {opts['kind']} {names}"[:300],
                      params={"kind": opts["kind"], "inline": True})

        def work(job: Any, data: bytes | None, report: Any) -> dict[str, Any]:
            report(f"screen {opts['kind']}")
            self._screen(**opts)
            return {}

        run_inline(job, lambda line: self.stderr.write(f"  … {line}"), fn=work, reraise=True)

    def _screen(self, **opts: Any) -> None:
        from qingling.detect.readers import read_many
        from qingling.detect.readers.common import ReaderError
        from qingling.detect.resolve.engine import build_sessions
        from qingling.detect.resolve.readers import read_carrier

        if opts["kind"] in ("network", "power") and not opts["inputs"]:
            raise CommandError(f"screen {opts['kind']} needs at least one input file")
        if opts["kind"] in ("network", "lists") and not opts["radius"]:
            raise CommandError(f"screen {opts['kind']} needs --radius (carrier accounting)")
        if opts["kind"] == "power":
            self._power(opts)
            return
        if opts["kind"] == "lists" and not opts["week"]:
            raise CommandError("screen lists needs --week (e.g. 2026-W48)")
        files = [*opts["inputs"], *opts["radius"], *opts["cgnat"], *opts["static"]]
        for p in files:
            if not p.is_file():
                raise CommandError(f"{p}: no such file")
        try:
            flows = read_many(opts["inputs"], opts["input_format"]) if opts["inputs"] else None
            from qingling.detect.engines import connect

            events, cgnat, static = read_carrier(opts["radius"], opts["cgnat"], opts["static"])
            sessions = build_sessions(events, connect(opts["engine"]))
        except (ReaderError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        digest = input_digest([p.read_bytes() for p in files])
        if opts["kind"] == "lists":
            from qingling.common.weeks import IsoWeek

            week = str(IsoWeek.parse(opts["week"]))
            r = resolve_lists(week=week, digest=input_digest([week.encode(), digest.encode()]),
                              names=[p.name for p in files], sessions=sessions, cgnat=cgnat,
                              static=static, now=timezone.now(), engine_name=opts["engine"])
            if r.duplicate:
                self.stdout.write(f"{week} was resolved with these files before (run {r.run})")
                return
            self.stdout.write(
                f"run {r.run}: {r.appearances} list addresses of {week}; resolution "
                f"{r.resolution}; cases placed in their county {r.placed}; county conflicts "
                f"{r.conflicts}; signals {r.signals}")
            return
        assert flows is not None
        s = screen_network(flows=flows, digest=digest,
                           names=[p.name for p in files], sessions=sessions, cgnat=cgnat,
                           static=static, now=timezone.now(), engine_name=opts["engine"])
        if s.duplicate:
            self.stdout.write(f"these inputs were screened before (run {s.run}): nothing changed")
            return
        self.stdout.write(
            f"run {s.run}: {s.flagged} flagged host–endpoint pairs; resolution {s.resolution}; "
            f"cases created {s.cases_created}, updated {s.cases_updated}, reopened as 反弹 "
            f"{s.rebounds}, new after the watch {s.new_after_watch}; signals {s.signals}")
