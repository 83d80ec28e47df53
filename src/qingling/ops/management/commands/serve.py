from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve the web UI with a multi-threaded WSGI server (waitress)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)

    def handle(self, *args: Any, **opts: Any) -> None:
        from waitress import serve

        from qingling.config.wsgi import application

        self.stdout.write(f"Qingling is serving on http://{opts['host']}:{opts['port']}/ "
                          "(Ctrl-C to stop)")
        self.stdout.flush()
        serve(application, host=opts["host"], port=opts["port"], threads=opts["threads"])
