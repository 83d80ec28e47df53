"""Bounds on what a list file may make the server do, checked while reading: uncompressed
workbook size, rows, columns, field size, and the length and characters of each cell.

A province file is trusted for its content, never for its size or shape: a small XLSX can
expand to gigabytes (a zip bomb), a CSV can hold a megabyte in one field, a header can
have a million columns. Each limit fails early with a message naming what was exceeded.
"""

from __future__ import annotations

import re
import zipfile

from django.conf import settings
from django.utils.translation import gettext as _

# Header width: real lists have 5–30 columns.
MAX_COLUMNS = 200
# One CSV field (the csv module's own default is 128 KiB; no real cell comes near it).
MAX_FIELD_CHARS = 32 * 1024
# Characters no list cell should hold; NUL cannot even be stored by PostgreSQL.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Longest accepted value per field: what the case and its keys can hold without cutting.
FIELD_MAX = {
    "ip": 100, "port": 5, "observed_at": 40, "carrier": 40, "unit_name": 180, "uscc": 18,
    "address": 280, "county": 60, "township": 100, "coin": 40, "pool": 200, "type": 100,
    "phone": 30, "id_number": 18, "machines": 9,
}
EXTRA_MAX = 1000  # an unknown column's cell, kept as it came


class LimitExceeded(ValueError):
    pass


def max_rows() -> int:
    return int(settings.QINGLING_LIST_MAX_ROWS)


def check_workbook(zf: zipfile.ZipFile) -> None:
    """Refuse a workbook whose parts would expand beyond ``QINGLING_LIST_MAX_UNCOMPRESSED``
    (the sizes a ZIP declares bound what Python will ever inflate from it)."""
    limit = int(settings.QINGLING_LIST_MAX_UNCOMPRESSED)
    total = sum(i.file_size for i in zf.infolist())
    if total > limit:
        raise LimitExceeded(
            _("the workbook expands to %(n)s MB, more than the limit of %(m)s MB: save the "
              "list as CSV or split it") % {"n": f"{total / 2**20:,.0f}",
                                            "m": f"{limit / 2**20:,.0f}"})


def too_many_rows(n: int) -> LimitExceeded:
    return LimitExceeded(_("more than %(n)s rows: split the list into several files")
                         % {"n": f"{max_rows():,}"})


def too_wide(n: int) -> LimitExceeded:
    return LimitExceeded(_("the header has %(n)s columns; at most %(m)s are accepted")
                         % {"n": n, "m": MAX_COLUMNS})


def clean(value: str) -> tuple[str, str]:
    """(the value without control characters, the characters removed as U+XXXX, or "")."""
    found = CONTROL.findall(value)
    if not found:
        return value, ""
    names = ", ".join(sorted({f"U+{ord(c):04X}" for c in found}))
    return CONTROL.sub("", value), names
