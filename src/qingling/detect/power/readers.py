"""Meter data → one long table of interval energy: meter_id, ts (UTC), kwh, minutes.

Accepts interval readings in long form (15, 30 or 60 min; CSV or Parquet), the grid's
96-point wide daily format (meter_id, date, p1..p96; kWh or kW, stated by a flag), daily
kWh, and monthly bills (meter_id, month as 2026-03 or a date in it, kWh): a bill is one
reading covering its whole month. Duplicates keep the first reading, negative values and
meter resets are dropped and counted; gaps stay gaps (never filled: a filled gap is a flat
line, which is what a miner looks like).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from qingling.detect.readers.common import ReaderError

# ts is UTC without a zone attached: engines then do day arithmetic on plain integers
# (3× faster in DuckDB than on zoned timestamps, which it converts through ICU).
LONG_SCHEMA = pa.schema([("meter_id", pa.string()), ("ts", pa.timestamp("us")),
                         ("kwh", pa.float64()), ("minutes", pa.int32())])
FORMATS = ("auto", "long", "wide96", "daily", "monthly")


@dataclass
class PowerStats:
    path: str
    rows: int = 0
    duplicates: int = 0
    negative: int = 0
    missing: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.path}: {self.rows} readings, {self.duplicates} duplicates dropped, "
                f"{self.negative} negative or reset dropped, {self.missing} empty")


def _load(path: Path) -> pa.Table:
    try:
        if path.suffix.lower() == ".parquet":
            return pq.read_table(path)
        return pacsv.read_csv(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ReaderError(f"{path}: {exc}") from None


def sniff(table: pa.Table, path: Path) -> str:
    cols = set(table.column_names)
    if {"p1", "p96"} <= cols:
        return "wide96"
    if {"meter_id", "ts", "kwh"} <= cols:
        return "long"
    if {"meter_id", "date", "kwh"} <= cols:
        return "daily"
    if {"meter_id", "month", "kwh"} <= cols:
        return "monthly"
    raise ReaderError(f"{path}: expected columns meter_id, ts, kwh (long), meter_id, date, "
                      "p1..p96 (wide96), meter_id, date, kwh (daily) or meter_id, month, kwh "
                      "(monthly)")


def _utc(col: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_timestamp(col.type):
        if col.type.tz is None:
            # Meter clocks in China are local time; stored times are UTC.
            col = pc.assume_timezone(col, "Asia/Shanghai")
        return col.cast(pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us"))
    if pa.types.is_date(col.type):
        return _utc(col.cast(pa.timestamp("us")))
    return _utc(pc.strptime(col, "%Y-%m-%d %H:%M:%S", "us"))


def read_meters(path: Path, fmt: str = "auto", *, wide_unit: str = "kwh",
                stats: PowerStats | None = None) -> pa.Table:
    stats = stats or PowerStats(str(path))
    if not path.exists():
        raise ReaderError(f"{path}: no such file")
    table = _load(path)
    fmt = sniff(table, path) if fmt == "auto" else fmt
    minutes: int | np.ndarray
    if fmt == "long":
        long = pa.table({"meter_id": table["meter_id"].cast(pa.string()), "ts": _utc(table["ts"]),
                         "kwh": table["kwh"].cast(pa.float64())})
        minutes = _interval_minutes(long)
    elif fmt == "wide96":
        n = table.num_rows
        day0 = _utc(table["date"]).cast(pa.int64()).to_numpy()  # UTC microseconds
        meters = np.repeat(table["meter_id"].cast(pa.string()).to_numpy(zero_copy_only=False), 96)
        ts = (np.repeat(day0, 96) + np.tile(np.arange(96) * 15 * 60 * 1_000_000, n))
        vals = np.column_stack([table[f"p{i}"].cast(pa.float64()).to_numpy(zero_copy_only=False)
                                for i in range(1, 97)]).reshape(-1)
        if wide_unit == "kw":
            vals = vals / 4.0  # kW averaged over 15 minutes → kWh
        long = pa.table({"meter_id": pa.array(meters, pa.string()),
                         "ts": pa.array(ts, pa.timestamp("us")),
                         "kwh": pa.array(vals, pa.float64())})
        minutes = 15
    elif fmt == "daily":
        long = pa.table({"meter_id": table["meter_id"].cast(pa.string()),
                         "ts": _utc(table["date"]), "kwh": table["kwh"].cast(pa.float64())})
        minutes = 1440
    elif fmt == "monthly":
        long, minutes = _monthly(table, path)
    else:
        raise ReaderError(f"{path}: unknown meter format {fmt!r} (one of {', '.join(FORMATS)})")
    return clean(long, minutes, stats)


def _monthly(table: pa.Table, path: Path) -> tuple[pa.Table, np.ndarray]:
    """Bills: each month one reading from its first local midnight, as long as the month."""
    months = []
    for row, v in enumerate(table["month"].to_pylist(), start=2):
        text = str(v or "").strip()[:7]
        try:
            months.append(np.datetime64(text, "M"))
        except ValueError:
            raise ReaderError(f"{path}: row {row}: month {v!r} is not a month (2026-03)"
                              ) from None
    start = np.array(months, dtype="datetime64[M]")
    days = ((start + 1).astype("datetime64[D]") - start.astype("datetime64[D]")).astype(int)
    local = pa.array(start.astype("datetime64[D]").astype("datetime64[us]"))
    long = pa.table({"meter_id": table["meter_id"].cast(pa.string()),
                     "ts": _utc(pa.chunked_array([local])),
                     "kwh": table["kwh"].cast(pa.float64())})
    return long, days * 1440


def _interval_minutes(t: pa.Table) -> int:
    sample = t.slice(0, min(t.num_rows, 5000)).sort_by([("meter_id", "ascending"),
                                                        ("ts", "ascending")])
    ts = sample["ts"].cast(pa.int64()).to_numpy()
    same = sample["meter_id"].to_numpy(zero_copy_only=False)
    diffs = np.diff(ts)[same[1:] == same[:-1]]
    diffs = diffs[diffs > 0]
    if not len(diffs):
        return 60
    minutes = round(float(np.median(diffs)) / 60e6)
    return minutes if minutes in (15, 30, 60, 1440) else max(1, minutes)


def clean(t: pa.Table, minutes: int | np.ndarray, stats: PowerStats) -> pa.Table:
    """``minutes``: the interval of every reading, or of each (an array, for bills)."""
    stats.rows += t.num_rows
    t = t.append_column("minutes", pa.array(np.broadcast_to(
        np.asarray(minutes, np.int32), (t.num_rows,)).copy()))
    valid = pc.is_valid(t["kwh"])
    stats.missing += t.num_rows - pc.sum(valid).as_py() if t.num_rows else 0
    t = t.filter(valid)
    nonneg = pc.greater_equal(t["kwh"], 0)
    stats.negative += t.num_rows - (pc.sum(nonneg).as_py() or 0)
    t = t.filter(nonneg)
    t = t.sort_by([("meter_id", "ascending"), ("ts", "ascending")])
    meter = t["meter_id"].to_numpy(zero_copy_only=False)
    ts = t["ts"].cast(pa.int64()).to_numpy()
    dup = np.zeros(len(ts), dtype=bool)
    if len(ts) > 1:
        dup[1:] = (meter[1:] == meter[:-1]) & (ts[1:] == ts[:-1])
    stats.duplicates += int(dup.sum())
    t = t.filter(pa.array(~dup))
    # A reading far above what the connection could carry is a meter reset or a register
    # dump, not consumption: more than 2 MW for the interval.
    sane = pc.less_equal(t["kwh"], pc.multiply(pc.cast(t["minutes"], pa.float64()),
                                               2000.0 / 60.0))
    stats.negative += t.num_rows - (pc.sum(sane).as_py() or 0)
    t = t.filter(sane)
    return pa.table({"meter_id": t["meter_id"], "ts": t["ts"], "kwh": t["kwh"],
                     "minutes": t["minutes"]}, schema=LONG_SCHEMA)
