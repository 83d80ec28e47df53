"""Turn a table's cells into checked rows: every problem named by row, column and reason."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils.safestring import SafeString
from django.utils.translation import gettext, gettext_noop

from qingling.common.ips import ParsedIP, parse_ip
from qingling.common.problems import Problem, problem_html, problem_text
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
                    raise Problem(gettext_noop("impossible date: %(value)s"),
                                  value=repr(text)) from None
                raise Problem(gettext_noop("not a date or time: %(value)s"),
                              value=repr(text)) from None
        moment = parsed if parsed.tzinfo else parsed.replace(tzinfo=SHANGHAI)
    if moment < EARLIEST:
        raise Problem(gettext_noop("impossible date: %(value)s is before any cryptocurrency "
                                   "existed"), value=repr(text))
    if moment > now + timedelta(days=1):
        raise Problem(gettext_noop("impossible date: %(value)s is in the future"),
                      value=repr(text))
    return moment


@dataclass
class RowError:
    """One problem of one row. Kept as a msgid and its parameters (``stored``), put into
    words in the reader's language (``reason``); ``english`` is the same words in English."""

    row: int
    column: str
    message: str  # a msgid marked with gettext_noop
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, row: int, column: str, problem: ValueError) -> RowError:
        if isinstance(problem, Problem):
            return cls(row, column, problem.message, problem.params)
        return cls(row, column, "%(detail)s", {"detail": str(problem)})

    @property
    def reason(self) -> str:
        return problem_text(self.message, self.params)

    @property
    def reason_html(self) -> SafeString:
        return problem_html(self.message, self.params)

    @property
    def english(self) -> str:
        return self.message % self.params if self.params else self.message

    def stored(self) -> dict[str, object]:
        return {"column": self.column, "reason": self.english, "message": self.message,
                "params": self.params}

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, **self.stored()}

    def __str__(self) -> str:
        return gettext("row %(row)s, column %(column)s: %(reason)s") % {
            "row": self.row, "column": self.column, "reason": self.reason}


def stored_reason(stored: dict[str, object], html: bool = False) -> str:
    """A reason as an import batch keeps it, in the reader's language (batches imported
    before reasons were kept as msgids have only the English words)."""
    message = stored.get("message")
    if isinstance(message, str):
        params = stored.get("params")
        said = problem_html if html else problem_text
        return said(message, params if isinstance(params, dict) else None)
    return str(stored.get("reason", ""))


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


def column_map(headers: list[str], remap: dict[str, str] | None = None) -> dict[int, str]:
    """Column index → canonical field; the first column of each field wins. ``remap`` names
    the field of a header the aliases do not know (chosen by the officer on the preview)."""
    taken: dict[int, str] = {}
    seen: set[str] = set()
    remap = remap or {}
    for i, h in enumerate(headers):
        f = (remap.get(h) or canonical_field(h)) if h else None
        if f and f not in seen:
            taken[i] = f
            seen.add(f)
    return taken


def check_rows(table: Table, gazetteer: Gazetteer, now: datetime,
               remap: dict[str, str] | None = None) -> list[CheckedRow]:
    cmap = column_map(table.headers, remap)
    header_of = {f: table.headers[i] for i, f in cmap.items()}
    city_name = gazetteer.city.name if gazetteer.city else gettext("the city")
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

        def err(f: str, problem: ValueError, row: CheckedRow = row) -> None:
            row.errors.append(RowError.of(row.row_number, header_of.get(f, f), problem))

        _check_cells(row, err)

        try:
            row.ip = parse_ip(row.ip_text)
        except ValueError as exc:
            err("ip", exc)
        if fields.get("port"):
            p = fields["port"]
            if not p.isdigit() or not 0 <= int(p) <= 65535:
                err("port", Problem(gettext_noop("not a port number (0-65535): %(value)s"),
                                    value=repr(p)))
            else:
                row.port = int(p)
        if fields.get("observed_at"):
            try:
                row.observed_at = parse_when(fields["observed_at"], now)
            except ValueError as exc:
                err("observed_at", exc)
        uscc = fields.get("uscc", "").strip().upper()
        if uscc:
            fields["uscc"] = uscc
            if not uscc_valid(uscc):
                err("uscc", Problem(gettext_noop("not a valid unified social credit code: "
                                                 "%(value)s"), value=repr(uscc)))
        if fields.get("county"):
            row.place = gazetteer.match_county(fields["county"])
            if row.place is None:
                err("county", Problem(gettext_noop("%(value)s is not a county of %(city)s"),
                                      value=repr(fields["county"]), city=city_name))
        if fields.get("address"):
            in_address = gazetteer.match_address(fields["address"])
            if row.place is None:
                row.place = in_address
            elif in_address is not None and in_address.county_id == row.place.county_id:
                row.place = in_address  # more specific: the township or zone
        if fields.get("machines") and not fields["machines"].isdigit():
            err("machines", Problem(gettext_noop("not a whole number: %(value)s"),
                                    value=repr(fields["machines"])))
        out.append(row)
    return out


def _check_cells(row: CheckedRow, err: Callable[[str, ValueError], None]) -> None:
    """Control characters are removed from what is kept and the row is refused; a value
    longer than its field can hold is refused, never cut."""
    for store in (row.fields, row.extra):
        for name, value in list(store.items()):
            cleaned, removed = limits.clean(value)
            if removed:
                store[name] = cleaned
                err(name, Problem(gettext_noop("contains control characters (%(c)s)"),
                                  c=removed))
            limit = limits.FIELD_MAX.get(name, limits.EXTRA_MAX) if store is row.fields \
                else limits.EXTRA_MAX
            if len(cleaned) > limit:
                store[name] = cleaned[:limit]
                err(name, Problem(gettext_noop("too long: %(n)s characters, at most %(m)s"),
                                  n=len(cleaned), m=limit))
    row.ip_text = row.fields.get("ip", "")
