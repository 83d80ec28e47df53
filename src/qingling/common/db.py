"""Database housekeeping that the application does itself, so a one-machine deployment
needs no DBA."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connection
from django.db.models import Model


def refresh_planner_statistics(*tables: str) -> None:
    """Update the query planner's statistics after a bulk change.

    Without them SQLite picks the state index for "open cases, newest first" and sorts the
    whole table instead of walking the primary key backwards (250 ms against 1 ms at
    200,000 cases). PostgreSQL's autovacuum would get there eventually; an import should not
    leave the next page view to chance.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            # Bounded sampling: a few milliseconds even on millions of rows.
            cursor.execute("PRAGMA analysis_limit=1000")
            cursor.execute("ANALYZE")
        elif connection.vendor == "postgresql":
            for table in tables:
                cursor.execute(f'ANALYZE "{table}"')


def _adapter() -> Callable[[object], object]:
    from datetime import datetime

    if connection.vendor == "sqlite":
        to_db = connection.ops.adapt_datetimefield_value

        def adapt(v: object) -> object:
            if isinstance(v, datetime):
                return to_db(v)
            if isinstance(v, (dict, list)):
                return json.dumps(v)
            return v

        return adapt

    def adapt_pg(v: object) -> object:
        if isinstance(v, (dict, list)):
            return json.dumps(v)
        return v

    return adapt_pg


def fast_insert(model: type[Model], columns: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """Insert many rows of plain Python values (str, int, bool, None, aware datetime,
    dict/list for JSON columns) without building model instances.

    PostgreSQL gets COPY, SQLite executemany: a 100,000-row list spent most of its import
    in Django's per-value preparation inside bulk_create. Callers that need the new ids read
    them back by a natural key. Runs inside the caller's transaction.
    """
    table = model._meta.db_table
    cols = ", ".join(f'"{c}"' for c in columns)
    adapt = _adapter()
    n = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Rows are made before COPY starts: making one may query the database (a data
            # key for sealing), which cannot happen on a connection in the middle of a COPY.
            rows = list(rows)
            raw = cursor.cursor
            with raw.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
                for r in rows:
                    copy.write_row([adapt(v) for v in r])
                    n += 1
            return n
        marks = ", ".join(["%s"] * len(columns))
        sql = f'INSERT INTO "{table}" ({cols}) VALUES ({marks})'  # noqa: S608 - our own names
        buf: list[list[Any]] = []
        for r in rows:
            buf.append([adapt(v) for v in r])
            if len(buf) >= 5000:
                cursor.executemany(sql, buf)
                n += len(buf)
                buf = []
        if buf:
            cursor.executemany(sql, buf)
            n += len(buf)
    return n
