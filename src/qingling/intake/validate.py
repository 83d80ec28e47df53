"""Turn a table's cells into checked rows: every problem named by row, column and reason."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils.translation import gettext as _

from qingling.common.ips import ParsedIP, parse_ip
from qingling.common.weeks import SHANGHAI
from qingling.geo.gazetteer import Gazetteer, Place
from qingling.intake import limits
from qingling.intake.readers import Table, canonical_field

_DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日",
    "%Y%m%d%H%M%S",
    "%Y%m%d",
)
_DATE_SHAPE = re.compile(r"(\d{4})\D{0,2}(\d{1,2})\D{0,2}(\d{1,2})")
EARLIEST = datetime(2009, 1, 3, tzinfo=SHANGHAI)  # the Bitcoin genesis block

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_valid(code: str) -> bool:
    """GB 32100-2015 check character of a 统一社会信用代码."""
    if len(code) != 18 or any(c not in _USCC_CHARS for c in code):
        return False
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(code[:17], _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31] == code[17]


def parse_when(text: str, now: datetime) -> datetime:
    t = text.strip().replace("／", "/")
    if re.fullmatch(r"\d+(\.\d+)?", t) and len(t.split(".")[0]) <= 5:
        # An Excel serial day number that reached us as text.
        moment = datetime(1899, 12, 30, tzinfo=SHANGHAI) + timedelta(days=float(t))
    else:
        parsed = None
        for fmt in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(t, fmt)
                break
            except ValueError:
                continue
        if parsed is None:
            try:
                parsed = datetime.fromisoformat(t)
            except ValueError:
                m = _DATE_SHAPE.match(t)
                if m:
                    raise ValueError(f"impossible date: {text!r}") from None
                raise ValueError(f"not a date or time: {text!r}") from None
        moment = parsed if parsed.tzinfo else parsed.replace(tzinfo=SHANGHAI)
    if moment < EARLIEST:
        raise ValueError(f"impossible date: {text!r} is before any cryptocurrency existed")
    if moment > now + timedelta(days=1):
        raise ValueError(f"impossible date: {text!r} is in the future")
    return moment


@dataclass
class RowError:
    row: int
    column: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "column": self.column, "reason": self.reason}

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.reason}"


@dataclass
class CheckedRow:
    row_number: int
    ip_text: str
    fields: dict[str, str]
    extra: dict[str, str]
    errors: list[RowError] = field(default_factory=list)
    ip: ParsedIP | None = None
    observed_at: datetime | None = None
    place: Place | None = None
    port: int | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def column_map(headers: list[str]) -> dict[int, str]:
    """Column index → canonical field; the first column of each field wins."""
    taken: dict[int, str] = {}
    seen: set[str] = set()
    for i, h in enumerate(headers):
        f = canonical_field(h) if h else None
        if f and f not in seen:
            taken[i] = f
            seen.add(f)
    return taken


def check_rows(table: Table, gazetteer: Gazetteer, now: datetime) -> list[CheckedRow]:
    cmap = column_map(table.headers)
    header_of = {f: table.headers[i] for i, f in cmap.items()}
    city_name = gazetteer.city.name if gazetteer.city else "the city"
    out: list[CheckedRow] = []
    for number, cells in table.rows:
        fields: dict[str, str] = {}
        extra: dict[str, str] = {}
        for i, value in enumerate(cells):
            if i in cmap:
                fields[cmap[i]] = value
            elif value:
                name = table.headers[i] if i < len(table.headers) and table.headers[i] else None
                extra[name or f"column {i + 1}"] = value
        row = CheckedRow(number, fields.get("ip", ""), fields, extra)

        def err(f: str, reason: str, row: CheckedRow = row) -> None:
            row.errors.append(RowError(row.row_number, header_of.get(f, f), reason))

        _check_cells(row, err)

        try:
            row.ip = parse_ip(row.ip_text)
        except ValueError as exc:
            err("ip", str(exc))
        if fields.get("port"):
            p = fields["port"]
            if not p.isdigit() or not 0 <= int(p) <= 65535:
                err("port", f"not a port number (0-65535): {p!r}")
            else:
                row.port = int(p)
        if fields.get("observed_at"):
            try:
                row.observed_at = parse_when(fields["observed_at"], now)
            except ValueError as exc:
                err("observed_at", str(exc))
        uscc = fields.get("uscc", "").strip().upper()
        if uscc:
            fields["uscc"] = uscc
            if not uscc_valid(uscc):
                err("uscc", f"not a valid unified social credit code: {uscc!r}")
        if fields.get("county"):
            row.place = gazetteer.match_county(fields["county"])
            if row.place is None:
                err("county", f"{fields['county']!r} is not a county of {city_name}")
        if fields.get("address"):
            in_address = gazetteer.match_address(fields["address"])
            if row.place is None:
                row.place = in_address
            elif in_address is not None and in_address.county_id == row.place.county_id:
                row.place = in_address  # more specific: the township or zone
        if fields.get("machines") and not fields["machines"].isdigit():
            err("machines", f"not a whole number: {fields['machines']!r}")
        out.append(row)
    return out


def _check_cells(row: CheckedRow, err: Callable[[str, str], None]) -> None:
    """Control characters are removed from what is kept and the row is refused; a value
    longer than its field can hold is refused, never cut."""
    for store in (row.fields, row.extra):
        for name, value in list(store.items()):
            cleaned, removed = limits.clean(value)
            if removed:
                store[name] = cleaned
                err(name, _("contains control characters (%(c)s)") % {"c": removed})
            limit = limits.FIELD_MAX.get(name, limits.EXTRA_MAX) if store is row.fields \
                else limits.EXTRA_MAX
            if len(cleaned) > limit:
                store[name] = cleaned[:limit]
                err(name, _("too long: %(n)s characters, at most %(m)s")
                    % {"n": len(cleaned), "m": limit})
    row.ip_text = row.fields.get("ip", "")
