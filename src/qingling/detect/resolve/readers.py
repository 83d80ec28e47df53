"""Carrier records as carriers export them, read into the canonical tables.

RADIUS/AAA accounting comes as FreeRADIUS ``detail`` files or as CSV whose headers are the
RFC 2866 attribute names (``User-Name``, ``Framed-IP-Address``, ``Acct-Status-Type``,
``Acct-Session-Id``, ``Event-Timestamp``, ``NAS-IP-Address``; Chinese aliases accepted).
CGNAT translation logs, static allocations and observations are CSV (or Parquet with the
canonical column names). A bad record is counted and named (file, row, field), never
guessed; a time without a zone is read in ``assume_tz`` and flagged.
"""

from __future__ import annotations

import csv
import ipaddress
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq

from qingling.detect.readers.common import ReaderError, ReadStats
from qingling.detect.resolve import schema

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_NOTES = 5

RADIUS_ALIASES = {
    "account": ("user-name", "username", "user_name", "account", "用户名", "账号", "宽带账号"),
    "ip": ("framed-ip-address", "framed_ip_address", "ip", "ip地址", "分配ip"),
    "status": ("acct-status-type", "acct_status_type", "status", "记账类型"),
    "session_id": ("acct-session-id", "acct_session_id", "session_id", "会话id"),
    "nas_ip": ("nas-ip-address", "nas_ip_address", "nas_ip", "nas"),
    "ts": ("event-timestamp", "event_timestamp", "timestamp", "ts", "time", "时间"),
}
CGNAT_ALIASES = {
    "private_ip": ("private_ip", "private ip", "inside_ip", "内网ip", "私网ip", "源ip"),
    "public_ip": ("public_ip", "public ip", "outside_ip", "公网ip", "转换后ip"),
    "port_lo": ("port_lo", "port_start", "start_port", "起始端口", "端口起"),
    "port_hi": ("port_hi", "port_end", "end_port", "结束端口", "端口止"),
    "start": ("start", "start_time", "开始时间", "分配时间"),
    "stop": ("stop", "end", "end_time", "结束时间", "释放时间"),
}
STATIC_ALIASES = {
    "network": ("network", "cidr", "ip段", "地址段", "ip"),
    "account": ("account", "账号", "单位", "customer"),
    "kind": ("kind", "type", "类型"),
    "valid_from": ("valid_from", "start", "生效时间"),
    "valid_to": ("valid_to", "end", "失效时间"),
}
OBS_ALIASES = {
    "obs_id": ("obs_id", "id", "编号"),
    "ip": ("ip", "src_ip", "ip地址"),
    "port": ("port", "src_port", "端口"),
    "ts": ("ts", "time", "first_seen", "observed_at", "发现时间", "时间"),
}
STATUS = {"start": "start", "interim-update": "interim", "interim": "interim",
          "alive": "interim", "stop": "stop", "1": "start", "2": "stop", "3": "interim"}
_ZONES = {"CST": SHANGHAI, "UTC": ZoneInfo("UTC"), "GMT": ZoneInfo("UTC")}


def parse_time(text: str, assume_tz: ZoneInfo = SHANGHAI) -> tuple[datetime, bool]:
    """(UTC time, zone assumed?). Epoch seconds, ISO 8601 with or without zone, and
    FreeRADIUS's ``Nov 20 2026 10:00:00 CST`` (CST read as China Standard Time)."""
    t = text.strip().strip('"')
    if re.fullmatch(r"\d{9,11}(\.\d+)?", t):
        return datetime.fromtimestamp(float(t), UTC), False
    m = re.fullmatch(r"([A-Z][a-z]{2} +\d{1,2} +\d{4} +\d{2}:\d{2}:\d{2})(?: +([A-Z]{3,4}))?", t)
    if m:
        naive = datetime.strptime(re.sub(" +", " ", m.group(1)), "%b %d %Y %H:%M:%S")
        zone = _ZONES.get(m.group(2) or "")
        return naive.replace(tzinfo=zone or assume_tz).astimezone(UTC), zone is None
    try:
        parsed = datetime.fromisoformat(t.replace("/", "-"))
    except ValueError:
        raise ValueError(f"not a time: {text!r}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=assume_tz).astimezone(UTC), True
    return parsed.astimezone(UTC), False


def _ip(text: str) -> str:
    return str(ipaddress.ip_address(text.strip().strip('"')))


def _columns(header: list[str], aliases: dict[str, tuple[str, ...]], required: tuple[str, ...],
             path: Path) -> dict[str, int]:
    norm = [h.strip().strip("\ufeff").lower() for h in header]
    found = {}
    for field, names in aliases.items():
        for i, h in enumerate(norm):
            if h in names:
                found[field] = i
                break
    missing = [f for f in required if f not in found]
    if missing:
        raise ReaderError(f"{path}: no column for {', '.join(missing)} "
                          f"(accepted names: {'; '.join('/'.join(aliases[m]) for m in missing)})")
    return found


def _csv_rows(path: Path) -> Iterator[list[str]]:
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ReaderError(f"{path}: neither UTF-8 nor GB18030 text")
    yield from csv.reader(text.splitlines())


def _read_csv(path: Path, aliases: dict[str, tuple[str, ...]], required: tuple[str, ...],
              convert: dict[str, Callable[[str], Any]], stats: ReadStats) -> dict[str, list[Any]]:
    rows = _csv_rows(path)
    header = next(rows, None)
    if header is None:
        raise ReaderError(f"{path}: empty file")
    cols = _columns(header, aliases, required, path)
    out: dict[str, list[Any]] = {f: [] for f in cols}
    for n, row in enumerate(rows, start=2):
        if not any(c.strip() for c in row):
            continue
        stats.records += 1
        values: dict[str, Any] = {}
        try:
            for f, i in cols.items():
                cell = row[i] if i < len(row) else ""
                if not cell.strip():
                    if f in required:
                        raise ValueError(f"{f} is empty")
                    values[f] = None
                    continue
                try:
                    values[f] = convert.get(f, str.strip)(cell)
                except ValueError as exc:
                    raise ValueError(f"{f}: {exc}") from None
        except ValueError as exc:
            stats.bad += 1
            if stats.bad <= MAX_NOTES:
                stats.notes.append(f"row {n}: {exc}")
            continue
        for f in cols:
            out[f].append(values[f])
    return out


def _time_converter(stats: ReadStats, assume_tz: ZoneInfo) -> Callable[[str], datetime]:
    def conv(text: str) -> datetime:
        t, assumed = parse_time(text, assume_tz)
        if assumed and "zone assumed" not in " ".join(stats.notes):
            stats.notes.append(f"times without a zone read as {assume_tz.key} (zone assumed)")
        return t
    return conv


def _table(data: dict[str, list[Any]], target: pa.Schema) -> pa.Table:
    n = len(next(iter(data.values()), []))
    return pa.table({f.name: pa.array(data[f.name], f.type) if f.name in data
                     else pa.nulls(n, f.type) for f in target}, schema=target)


def read_radius(path: Path, stats: ReadStats | None = None,
                assume_tz: ZoneInfo = SHANGHAI) -> pa.Table:
    """RADIUS accounting events (CSV with RFC 2866 headers, or a FreeRADIUS detail file)."""
    stats = stats or ReadStats(str(path))
    if path.suffix.lower() == ".parquet":
        return pq.read_table(path).select(schema.EVENTS.names).cast(schema.EVENTS)
    head = path.read_bytes()[:200].decode("utf-8", "replace")
    if re.match(r"[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2} \d{4}", head):
        return _read_detail(path, stats, assume_tz)
    conv = {"ip": _ip, "status": _status, "ts": _time_converter(stats, assume_tz)}
    data = _read_csv(path, RADIUS_ALIASES, ("account", "status", "session_id", "ts"), conv, stats)
    return _table(data, schema.EVENTS)


def _status(text: str) -> str:
    s = STATUS.get(text.strip().strip('"').lower())
    if s is None:
        raise ValueError(f"unknown Acct-Status-Type {text!r}")
    return s


def _read_detail(path: Path, stats: ReadStats, assume_tz: ZoneInfo) -> pa.Table:
    """FreeRADIUS detail: a date line, then tab-indented ``Attribute = value`` lines, records
    separated by a blank line. ``Timestamp`` (epoch) wins over ``Event-Timestamp``."""
    records: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    starts: list[int] = []
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            current = None
            continue
        if not line[0].isspace():
            current = {}
            records.append(current)
            starts.append(n)
            continue
        if current is not None and "=" in line:
            k, v = line.split("=", 1)
            current[k.strip().lower()] = v.strip().strip('"')
    out: dict[str, list[Any]] = {f: [] for f in schema.EVENTS.names}
    conv = _time_converter(stats, assume_tz)
    for n, rec in zip(starts, records, strict=True):
        stats.records += 1
        try:
            ts_text = rec.get("timestamp") or rec.get("event-timestamp")
            if not ts_text:
                raise ValueError("no Timestamp or Event-Timestamp")
            if "acct-status-type" not in rec or "acct-session-id" not in rec:
                raise ValueError("no Acct-Status-Type or Acct-Session-Id")
            row = {"account": rec.get("user-name"),
                   "ip": _ip(rec["framed-ip-address"]) if rec.get("framed-ip-address") else None,
                   "status": _status(rec["acct-status-type"]),
                   "session_id": rec["acct-session-id"], "nas_ip": rec.get("nas-ip-address"),
                   "ts": conv(ts_text)}
        except ValueError as exc:
            stats.bad += 1
            if stats.bad <= MAX_NOTES:
                stats.notes.append(f"record at line {n}: {exc}")
            continue
        for field, value in row.items():
            out[field].append(value)
    return _table(out, schema.EVENTS)


def read_cgnat(path: Path, stats: ReadStats | None = None,
               assume_tz: ZoneInfo = SHANGHAI) -> pa.Table:
    stats = stats or ReadStats(str(path))
    if path.suffix.lower() == ".parquet":
        return pq.read_table(path).select(schema.CGNAT.names).cast(schema.CGNAT)
    t = _time_converter(stats, assume_tz)
    conv = {"private_ip": _ip, "public_ip": _ip, "port_lo": _port, "port_hi": _port,
            "start": t, "stop": t}
    data = _read_csv(path, CGNAT_ALIASES, tuple(CGNAT_ALIASES), conv, stats)
    return _table(data, schema.CGNAT)


def _port(text: str) -> int:
    p = int(text.strip())
    if not 0 <= p <= 65535:
        raise ValueError(f"port {p} outside 0–65535")
    return p


def read_static(path: Path, stats: ReadStats | None = None,
                assume_tz: ZoneInfo = SHANGHAI) -> pa.Table:
    stats = stats or ReadStats(str(path))
    if path.suffix.lower() == ".parquet":
        return pq.read_table(path).select(schema.STATIC.names).cast(schema.STATIC)
    t = _time_converter(stats, assume_tz)
    conv = {"network": lambda s: str(ipaddress.ip_network(s.strip(), strict=False)),
            "valid_from": t, "valid_to": t}
    data = _read_csv(path, STATIC_ALIASES, ("network", "account"), conv, stats)
    return _table(data, schema.STATIC)


def read_observations(path: Path, stats: ReadStats | None = None,
                      assume_tz: ZoneInfo = SHANGHAI) -> pa.Table:
    """Observations to resolve: ip, optional port, time; ``tz_assumed`` marks rows whose
    time had no zone, so the resolver can test the other reading."""
    stats = stats or ReadStats(str(path))
    if path.suffix.lower() == ".parquet":
        t = pq.read_table(path)
        if "tz_assumed" not in t.column_names:
            t = t.append_column("tz_assumed", pa.array([False] * t.num_rows))
        return _table({c: t[c].to_pylist() for c in t.column_names if c in schema.OBSERVATIONS.names},
                      schema.OBSERVATIONS)
    assumed: list[bool] = []

    def when(text: str) -> datetime:
        ts, a = parse_time(text, assume_tz)
        assumed.append(a)
        return ts

    data = _read_csv(path, OBS_ALIASES, ("ip", "ts"), {"ip": _ip, "port": _port, "ts": when},
                     stats)
    n = len(data["ip"])
    if "obs_id" not in data:
        data["obs_id"] = [str(i + 1) for i in range(n)]
    # Rows that failed after their time was parsed leave an extra flag: keep the last n.
    data["tz_assumed"] = assumed[-n:] if n else []
    return _table(data, schema.OBSERVATIONS)


def read_carrier(radius: list[Path], cgnat: list[Path], static: list[Path],
                 stats: list[ReadStats] | None = None
                 ) -> tuple[pa.Table, pa.Table | None, pa.Table | None]:
    """(RADIUS events, CGNAT translations or None, static allocations or None) from files;
    each file's ReadStats is appended to ``stats``."""
    def read(fn: Callable[..., pa.Table], path: Path) -> pa.Table:
        if not path.exists():
            raise ReaderError(f"{path}: no such file")
        st = ReadStats(str(path))
        if stats is not None:
            stats.append(st)
        return fn(path, st)

    events = pa.concat_tables([read(read_radius, p) for p in radius])
    cg = pa.concat_tables([read(read_cgnat, p) for p in cgnat]) if cgnat else None
    st_tab = pa.concat_tables([read(read_static, p) for p in static]) if static else None
    return events, cg, st_tab
