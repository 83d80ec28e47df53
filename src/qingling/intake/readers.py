"""Read a list file (CSV in UTF-8/UTF-8-BOM/GBK/GB18030, or XLSX) into header + rows.

Province lists come from many hands: a title row above the header, merged title cells,
Chinese or English header names, Excel dates. This module only turns bytes into cells
with their source row numbers; validation is in ``validate``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from qingling.intake import limits

csv.field_size_limit(limits.MAX_FIELD_CHARS)

# Canonical field → header names seen in real lists. Matching ignores case, spaces and
# anything in brackets, so "IP地址（公网）" and "ip address" both find "ip".
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "ip": (
        "ip", "ip地址", "ipaddress", "ipaddr", "公网ip", "互联网ip", "源ip", "用户ip",
        "疑似挖矿ip", "挖矿ip", "ip段", "ip地址段", "srcip", "地址ip",
    ),
    "port": ("端口", "端口号", "port", "源端口", "srcport"),
    "observed_at": (
        "发现时间", "观测时间", "时间", "监测时间", "活跃时间", "最后活跃时间", "首次发现时间",
        "日期", "observedat", "observed", "time", "timestamp", "firstseen", "lastseen", "date",
    ),
    "carrier": ("运营商", "所属运营商", "carrier", "isp", "operator"),
    "unit_name": (
        "单位名称", "用户名称", "使用单位", "客户名称", "主体名称", "企业名称", "单位", "用户",
        "名称", "客户", "unit", "unitname", "subject", "name", "customer", "organization",
    ),
    "uscc": ("统一社会信用代码", "社会信用代码", "信用代码", "uscc", "creditcode"),
    "address": (
        "地址", "装机地址", "安装地址", "详细地址", "用户地址", "机房地址", "单位地址", "address",
    ),
    "county": (
        "所属区县", "区县", "县市区", "县(市、区)", "县（市、区）", "县市", "所属地区", "属地",
        "地区", "county", "district",
    ),
    "township": ("乡镇", "乡镇街道", "街道", "所属乡镇", "township", "town"),
    "coin": ("币种", "挖矿币种", "币种类型", "coin", "currency"),
    "pool": ("矿池", "矿池地址", "矿池域名", "矿池ip", "pool"),
    "type": ("类型", "类别", "单位类型", "主体类型", "用户类型", "性质", "type", "category"),
    "phone": ("联系电话", "电话", "手机", "手机号", "phone", "mobile"),
    "id_number": ("身份证号", "身份证号码", "证件号码", "证件号", "idnumber"),
    "machines": ("矿机数量", "矿机数", "机器数量", "machines"),
}

# What each canonical field is called on a page (batch pages show how columns were read).
FIELD_LABELS = {
    "ip": gettext_lazy("IP address"),
    "port": gettext_lazy("port"),
    "observed_at": gettext_lazy("observed at"),
    "carrier": gettext_lazy("carrier"),
    "unit_name": gettext_lazy("unit name"),
    "uscc": gettext_lazy("unified social credit code"),
    "address": gettext_lazy("address"),
    "county": gettext_lazy("county"),
    "township": gettext_lazy("township"),
    "coin": gettext_lazy("coin"),
    "pool": gettext_lazy("mining pool"),
    "type": gettext_lazy("type"),
    "phone": gettext_lazy("phone"),
    "id_number": gettext_lazy("ID number"),
    "machines": gettext_lazy("machines"),
}

_BRACKETS = re.compile(r"[（(\[【].*?[）)\]】]")


def norm_header(text: str) -> str:
    t = _BRACKETS.sub("", text).strip().lower()
    return re.sub(r"[\s_\-:：*]", "", t)


_ALIAS_INDEX = {norm_header(a): f for f, names in HEADER_ALIASES.items() for a in names}
# "县(市、区)" loses its brackets in norm_header; keep the literal too.
_ALIAS_INDEX.update({"县市区": "county"})


def canonical_field(header: str) -> str | None:
    return _ALIAS_INDEX.get(norm_header(header))


class ListFileError(ValueError):
    """The file cannot be read as a list at all (not a row problem)."""


@dataclass
class Table:
    file_format: str
    encoding: str
    header_row: int
    headers: list[str]
    rows: list[tuple[int, list[str]]] = field(default_factory=list)

    @property
    def digest(self) -> str:
        """The list's content, whatever its bytes: the same cells give the same digest
        with or without a BOM, in CSV or XLSX, in UTF-8 or GBK, with or without title rows."""
        h = hashlib.sha256()
        h.update(json.dumps(self.headers, ensure_ascii=False).encode("utf-8"))
        for _n, cells in self.rows:
            end = len(cells)
            while end and not cells[end - 1]:
                end -= 1
            h.update(b"\n" + json.dumps(cells[:end], ensure_ascii=False).encode("utf-8"))
        return h.hexdigest()


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def sniff_format(data: bytes) -> str:
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                if any(n.startswith("xl/") for n in z.namelist()):
                    return "xlsx"
        except zipfile.BadZipFile:
            pass
        raise ListFileError(_("a ZIP file that is not an XLSX workbook"))
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ListFileError(_("an old .xls workbook: save it as .xlsx or CSV and import again"))
    if b"\x00" in data[:4096]:
        raise ListFileError(_("a binary file, neither CSV nor XLSX"))
    return "csv"


def decode_text(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gbk"), "gbk"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise ListFileError(
            _("text is neither UTF-8 nor GBK/GB18030 (bad byte at offset %(offset)s)")
            % {"offset": exc.start}
        ) from None


def _iter_csv(text: str) -> Iterator[tuple[int, list[str]]]:
    sample = text[:8192]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, ",\t;|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise ListFileError(
                    _("line %(n)s: a field is longer than %(m)s characters (is a quote left "
                      "open?)") % {"n": reader.line_num, "m": f"{limits.MAX_FIELD_CHARS:,}"}
                ) from None
            raise ListFileError(_("line %(n)s: %(e)s") % {"n": reader.line_num, "e": exc}) from None
        yield start, [c.strip() for c in cells]
        start = reader.line_num + 1


def _iter_xlsx(data: bytes) -> Iterator[tuple[int, list[str]]]:
    import openpyxl

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            limits.check_workbook(zf)
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except limits.LimitExceeded as exc:
        raise ListFileError(str(exc)) from None
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise ListFileError(_("the workbook cannot be opened: %(error)s") % {"error": exc}) from None
    try:
        ws = wb.worksheets[0]
        # One column past the limit is read, so that a too-wide header is seen and refused.
        rows = ws.iter_rows(values_only=True, max_col=limits.MAX_COLUMNS + 1)
        for number, values in enumerate(rows, start=1):
            yield number, [cell_text(v) for v in values]
    finally:
        wb.close()


def find_header(rows: list[tuple[int, list[str]]], limit: int = 30) -> int:
    """Index in ``rows`` of the header: the first row with an IP column and one other
    known column. A title row above it (merged cells, "2026年第48周重点名单") is skipped."""
    for i, (_n, cells) in enumerate(rows[:limit]):
        fields = [canonical_field(c) for c in cells if c]
        if "ip" in fields and sum(1 for f in fields if f) >= 2:
            return i
    for i, (_n, cells) in enumerate(rows[:limit]):
        if any(canonical_field(c) == "ip" for c in cells if c):
            return i
    raise ListFileError(
        _("no header row with an IP column in the first %(n)s rows (expected a column named "
          "e.g. IP地址, IP or ip)") % {"n": limit}
    )


def read_rows(data: bytes) -> tuple[str, str, list[tuple[int, list[str]]]]:
    """(format, encoding, non-empty rows with their 1-based numbers) of a CSV or XLSX file."""
    fmt = sniff_format(data)
    if fmt == "xlsx":
        encoding = ""
        source = _iter_xlsx(data)
    else:
        text, encoding = decode_text(data)
        source = _iter_csv(text)
    # Counted while streaming: a file over the limit stops here, not after filling memory.
    cap = limits.max_rows() + 30  # title rows and the header above the data
    rows: list[tuple[int, list[str]]] = []
    for n, cells in source:
        if any(cells):
            rows.append((n, cells))
            if len(rows) > cap:
                raise ListFileError(str(limits.too_many_rows(len(rows))))
    return fmt, encoding, rows


def read_table(data: bytes) -> Table:
    fmt, encoding, rows = read_rows(data)
    if not rows:
        raise ListFileError(_("the file has no rows"))
    h = find_header(rows)
    header_number, headers = rows[h]
    width = len(headers)
    while width and not headers[width - 1]:
        width -= 1
    headers = headers[:width]
    if width > limits.MAX_COLUMNS:
        raise ListFileError(str(limits.too_wide(width)))
    ip_columns = [h for h in headers if h and canonical_field(h) == "ip"]
    if len(ip_columns) > 1:
        raise ListFileError(
            _("%(n)s columns hold IP addresses (%(names)s): keep one IP column per list")
            % {"n": len(ip_columns), "names": "、".join(ip_columns)})
    if len(body_rows := rows[h + 1:]) > limits.max_rows():
        raise ListFileError(str(limits.too_many_rows(len(body_rows))))
    # Cells beyond the header are kept (validation names them by column number), never cut.
    body = [(n, cells + [""] * (width - len(cells))) for n, cells in rows[h + 1 :]]
    return Table(fmt, encoding, header_number, headers, body)
