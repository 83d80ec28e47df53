from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from qingling.jobs.runner import worker_loop


class Command(BaseCommand):
    help = ("Run background jobs (list imports and other long work) queued by the pages; "
            "`qingling serve` starts one. Stops after the current job on SIGTERM/Ctrl-C.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true",
                            help="run the queued jobs, then exit")
        parser.add_argument("--poll", type=float, default=1.0,
                            help="seconds between looks at the queue (default 1)")

    def handle(self, *args: Any, **opts: Any) -> None:
        stop = threading.Event()

        def on_signal(signum: int, frame: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        def echo(line: str) -> None:
            self.stdout.write(line)
            self.stdout.flush()

        ran = worker_loop(once=opts["once"], poll=opts["poll"], stop=stop, echo=echo)
        self.stdout.write(f"worker stopped after {ran} job(s)")
