"""The `qingling` command: the one entry point for operators.

Each subcommand is a Django management command; hyphenated names on the command line
(`import-list`) map to the command modules (`import_list`).
"""

from __future__ import annotations

import os
import sys

COMMANDS = {
    "init": "Create or migrate the database and load the reference data (idempotent).",
    "import-list": "Import a province list file (CSV or XLSX) for a week.",
    "demo": "Set up a demo week (and with --serve, serve the UI).",
    "serve": "Serve the web UI (several processes) and start a background worker.",
    "worker": "Run background jobs (imports queued from the pages); `serve` starts one.",
    "screen": "Screen network data into cases: `screen network INPUT... --radius F`.",
    "import-subscribers": "Import a carrier subscriber register (personal data encrypted).",
    "digest": "Make (and e-mail) one daily reminder per county: `digest [--date D]`.",
    "weekly-close": "Freeze a week's figures and propose escalations: `--week 2026-W48`.",
    "bulletin": "Write a closed week's bulletin (.docx, .xlsx, PDF): `--week W --out DIR`.",
    "tasks": "List department tasks: `tasks [--json] [--department CODE] [--state S]`.",
    "project-list": "Write the project list (项目清单) of a week: `--week W --out FILE.xlsx`.",
    "detect": "Run a detection engine: `detect network INPUT... --out FILE`.",
    "synth": "Write synthetic data: `synth flows|meters|carrier …`.",
    "resolve": "Resolve IP observations to subscriber accounts: `resolve --observations F "
               "--radius F [--cgnat F] [--static F] --out F`.",
    "keys": "Personal-data keys: `keys rotate` re-seals everything with a new data key.",
    "audit": "The audit log: `audit verify` checks its hash chain (tampering fails it).",
    "manage": "Any Django management command (advanced).",
}


def usage() -> str:
    lines = ["usage: qingling <command> [options]", "", "commands:"]
    lines += [f"  {name:<12} {text}" for name, text in COMMANDS.items()]
    lines.append("\nRun `qingling <command> --help` for a command's options.")
    return "\n".join(lines)


def _pending_migrations() -> int:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if args[0] == "detect":
        # The engine runs without Django (and without a database).
        from qingling.detect.cli import main as detect_main

        return detect_main(args[1:])
    if args[0] == "resolve":
        from qingling.detect.cli import resolve_main

        return resolve_main(args[1:])
    if args[0] == "synth":
        from qingling.detect.cli import synth_main

        return synth_main(args[1:])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qingling.config.settings")
    # Everything this process writes (database, WAL, keys, uploads, bulletins) is for the
    # service account only.
    os.umask(0o077)
    import django
    from django.core.management import CommandError, call_command, execute_from_command_line

    name = args.pop(0)
    if name == "manage":
        try:
            execute_from_command_line(["qingling", *(args or ["help"])])
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 1
        return 0
    if name not in COMMANDS:
        print(f"qingling: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    django.setup()
    from django.conf import settings

    home = settings.QINGLING_HOME
    if home.is_dir() and home.stat().st_uid == os.getuid():
        home.chmod(0o700)
    if name not in ("init", "demo") and (pending := _pending_migrations()):
        print(f"qingling {name}: the database is behind this version of Qingling "
              f"({pending} migration(s) to apply): run `qingling init` first", file=sys.stderr)
        return 1
    # call_command rather than run_from_argv: the latter closes every database connection
    # when it returns, which a caller in the same process (a test, a batch job) still needs.
    try:
        call_command(name.replace("-", "_"), *args)
    except CommandError as exc:
        print(f"qingling {name}: {exc}", file=sys.stderr)
        return exc.returncode or 1
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except Exception as exc:
        from qingling.common.busy import is_lock_timeout

        if not is_lock_timeout(exc):
            raise
        print(f"qingling {name}: the database is busy (another import or screening is "
              "writing to it); nothing was written — run the command again when it has "
              "finished", file=sys.stderr)
        return 75  # EX_TEMPFAIL
    return 0
