"""XLSX export that is safe to open: cells starting with = + - @ are written as text."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Control characters a workbook cannot hold (openpyxl refuses them): dropped on export, so
# one odd cell from a province file never breaks a whole export.
_ILLEGAL = re.compile(r"[\000-\010\013\014\016-\037]")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str):
        value = _ILLEGAL.sub("", value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        # A leading apostrophe is how a spreadsheet user types literal text; Excel and
        # LibreOffice never evaluate it.
        return "'" + value
    if isinstance(value, datetime) and value.tzinfo is not None:
        from qingling.common.weeks import SHANGHAI

        return value.astimezone(SHANGHAI).replace(tzinfo=None)
    return value


def build_xlsx(title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    return build_workbook([(title, headers, rows)])


def build_workbook(sheets: Iterable[tuple[str, Sequence[str], Iterable[Sequence[Any]]]]) -> bytes:
    """Several sheets, each (title, headers, rows), with bold headers and safe cells."""
    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    for title, headers, rows in sheets:
        ws = wb.create_sheet(title=title[:31])
        header_cells = []
        for h in headers:
            c = WriteOnlyCell(ws, value=h)
            c.font = bold
            header_cells.append(c)
        ws.append(header_cells)
        for row in rows:
            ws.append([safe_cell(v) for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def xlsx_response(data: bytes, stem: str, now: datetime) -> Any:
    """A workbook as a download named ``stem-YYYYmmdd-HHMM.xlsx`` (Beijing time)."""
    from django.http import HttpResponse
    from django.utils import timezone

    resp = HttpResponse(
        data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    stamp = timezone.localtime(now)
    resp["Content-Disposition"] = f'attachment; filename="{stem}-{stamp:%Y%m%d-%H%M}.xlsx"'
    return resp
