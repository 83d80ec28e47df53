"""Shared by the benchmarks: a throwaway PostgreSQL, and workers in fresh processes (Django
settings are per process, so each database is measured in its own)."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def throwaway_postgres(port: int = 55433) -> Iterator[str | None]:
    """Yield a URL of a fresh PostgreSQL cluster, or None when one cannot be started here."""
    if url := os.environ.get("QINGLING_BENCH_POSTGRES_URL"):
        yield url
        return
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins or os.geteuid() != 0 or shutil.which("su") is None:
        yield None
        return
    pgbin = bins[-1]
    data = tempfile.mkdtemp(prefix="qingling-bench-pg-")
    shutil.chown(data, "postgres")
    run = lambda cmd: subprocess.run(  # noqa: E731
        ["su", "postgres", "-s", "/bin/sh", "-c", cmd], check=True, capture_output=True
    )
    try:
        run(f"{pgbin}/initdb -D {data} -A trust -U postgres")
        run(f"{pgbin}/pg_ctl -D {data} -l {data}/log -w -o '-k /tmp -p {port} "
            "-c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=512MB' start")
        yield f"postgres://postgres@127.0.0.1:{port}/qingling_bench"
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            run(f"{pgbin}/pg_ctl -D {data} -m fast stop")
        shutil.rmtree(data, ignore_errors=True)


def run_worker(script: str, db_url: str, home: str, args: list[str]) -> dict[str, object]:
    env = dict(os.environ, DATABASE_URL=db_url, QINGLING_HOME=home,
               DJANGO_SETTINGS_MODULE="qingling.config.settings")
    out = subprocess.run([sys.executable, script, "--worker", *args], env=env, check=True,
                         capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def fresh_database(url: str) -> None:
    """Drop and create the database named in a PostgreSQL URL (SQLite needs nothing)."""
    if not url.startswith("postgres"):
        return
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def databases(home: str, pg: str | None) -> list[tuple[str, str]]:
    """SQLite always; PostgreSQL when a server could be had (and say so when not)."""
    dbs = [("SQLite", f"sqlite:///{home}/bench.sqlite3")]
    if pg:
        dbs.append(("PostgreSQL", pg))
    else:
        print("  (PostgreSQL: not measured; set QINGLING_BENCH_POSTGRES_URL or run as root)")
    return dbs
