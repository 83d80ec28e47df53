from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


def default_processes() -> int:
    """One web process per core (at least two), at most eight: one Python process is
    bound by its interpreter lock to one core."""
    return max(2, min(8, os.cpu_count() or 2))


class Command(BaseCommand):
    help = ("Serve the web UI: several web processes (gunicorn; waitress on Windows) and a "
            "background worker for imports (`qingling worker`), stopped together.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--processes", type=int,
                            default=int(os.environ.get("QINGLING_SERVE_PROCESSES", "0") or 0),
                            help="web processes (default: one per core, 2 to 8)")
        parser.add_argument("--threads", type=int, default=4,
                            help="threads per web process (default 4)")
        parser.add_argument("--server", choices=["gunicorn", "waitress"],
                            default="waitress" if sys.platform == "win32" else "gunicorn")
        parser.add_argument("--no-worker", action="store_true",
                            help="do not start a background worker (one runs elsewhere)")

    def handle(self, *args: Any, **opts: Any) -> None:
        processes = opts["processes"] or default_processes()
        if processes < 1 or opts["threads"] < 1:
            raise CommandError("--processes and --threads must be at least 1")
        worker = None
        if not opts["no_worker"]:
            worker = subprocess.Popen([sys.executable, "-m", "qingling", "worker"])
        where = f"http://{opts['host']}:{opts['port']}/"
        try:
            if opts["server"] == "gunicorn":
                self.stdout.write(f"Qingling is serving on {where} ({processes} processes × "
                                  f"{opts['threads']} threads; Ctrl-C to stop)")
                self.stdout.flush()
                _gunicorn(opts["host"], opts["port"], processes, opts["threads"])
            else:
                from waitress import serve

                from qingling.config.wsgi import application

                self.stdout.write(f"Qingling is serving on {where} (Ctrl-C to stop)")
                self.stdout.flush()
                serve(application, host=opts["host"], port=opts["port"],
                      threads=opts["threads"] * 2)
        finally:
            if worker is not None:
                worker.terminate()
                try:
                    worker.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    worker.kill()


def _gunicorn(host: str, port: int, processes: int, threads: int) -> None:
    from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in {
                "bind": f"{host}:{port}", "workers": processes, "threads": threads,
                "worker_class": "gthread", "timeout": 300, "graceful_timeout": 30,
                "keepalive": 5, "accesslog": None, "errorlog": "-", "loglevel": "warning",
                # Behind the documented reverse proxy (deploy/nginx.conf) on loopback.
                "forwarded_allow_ips": "127.0.0.1",
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from qingling.config.wsgi import application

            return application

    Server().run()
