"""Electricity screening: rank meters by the likelihood of hidden mining, with the kW and
unit count behind each lead.

Per-day and per-meter indicators are one Ibis expression (exact aggregates only, so DuckDB
and Spark agree); the step search on the daily minimum is vectorised numpy over the
meters × days matrix; every reason in the output is backed by a sub-score column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from qingling.detect.engines import Engine
from qingling.detect.power.devices import Device, fit_units

HOUSE_BASE_KW = 0.15  # a household's night base load (fridge, standby)
HOUSE_P95_DAILY_KWH = 13.0


@dataclass(frozen=True)
class PowerConfig:
    w_base: float = 0.35
    w_flat: float = 0.2
    w_stable: float = 0.15
    w_night: float = 0.1
    w_level: float = 0.1
    w_step: float = 0.1
    suspect_at: float = 0.5
    min_base_kw: float = 0.5  # below this no lead, whatever the shape
    min_days: int = 7

    def __post_init__(self) -> None:
        total = (self.w_base + self.w_flat + self.w_stable + self.w_night + self.w_level
                 + self.w_step)
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"power weights must sum to 1 (they sum to {total:.3f})")
        if not 0 < self.suspect_at < 1:
            raise ValueError("suspect_at must be within (0, 1)")


def daily_expr(t: ibis.Table) -> ibis.Table:
    """Per meter and local (Asia/Shanghai) day.

    Energy is summed as whole watt-hours and power kept as whole watts: integer sums are
    exact in any order, so every engine (and every parallel plan) gives the same numbers to
    the last bit. Day and hour come from integer arithmetic on epoch seconds."""
    local = t.ts.epoch_seconds() + 8 * 3600
    wh = (t.kwh * 1000.0).round().cast("int64")
    w = (t.kwh * 60_000.0 / t.minutes.cast("float64")).round().cast("int64")
    t = t.mutate(day=(local // 86_400).cast("int32"), hour=((local % 86_400) // 3600), wh=wh,
                 w=w)
    night = (t.hour < 8) | (t.hour >= 22)
    return t.group_by(["meter_id", "day"]).aggregate(
        wh=t.wh.sum(),
        readings=t.count(),
        minutes=t.minutes.max(),
        w_min=t.w.min(),
        w_max=t.w.max(),
        night_wh=ibis.ifelse(night, t.wh, 0).sum(),
        night_n=ibis.ifelse(night, 1, 0).sum(),
        # The lowest power over the whole 22:00–08:00 window: a valley-only miner keeps it
        # up all night; storage heaters and night EV charging switch off within it.
        night_w_min=t.w.min(where=night),
    )


def meter_expr(d: ibis.Table, cfg: PowerConfig) -> ibis.Table:
    # Only complete days: a gap must not read as a low day (or a flat one).
    full = d.filter(d.readings * d.minutes >= 1440 * 0.9)
    day_n = full.readings - full.night_n
    # Mean watts at night and by day, whole watts (integer division keeps it exact).
    night_w = (full.night_wh * 60) // ibis.greatest(full.night_n * full.minutes, 1)
    day_w = ((full.wh - full.night_wh) * 60) // ibis.greatest(day_n * full.minutes, 1)
    full = full.mutate(night_w=night_w, day_w=day_w, wh2=full.wh * full.wh)
    m = full.group_by("meter_id").aggregate(
        days=full.count(),
        first_day=full.day.min(),
        last_day=full.day.max(),
        sum_wh=full.wh.sum(),
        sum_wh2=full.wh2.sum(),
        sum_min=full.w_min.sum(),
        sum_max=full.w_max.sum(),
        sum_night=full.night_w.sum(),
        sum_day=full.day_w.sum(),
    )
    n = m.days.cast("float64")
    mean_wh = m.sum_wh.cast("float64") / n
    var = ibis.greatest(m.sum_wh2.cast("float64") / n - mean_wh * mean_wh, 0.0)
    daily_kwh = mean_wh / 1000.0
    cv = var.sqrt() / ibis.greatest(mean_wh, 1.0)
    flat = m.sum_min.cast("float64") / ibis.greatest(m.sum_max.cast("float64"), 1.0)
    night_ratio = m.sum_night.cast("float64") / ibis.greatest(m.sum_day.cast("float64"), 1.0)

    def clamp(x: ibis.Value) -> ibis.Value:
        return ibis.greatest(ibis.least(x, 1.0), 0.0)

    return m.select(
        "meter_id", "days", "first_day", "last_day",
        daily_kwh=daily_kwh.round(6), cv=cv.round(6), flatness=flat.round(6),
        night_ratio=night_ratio.round(6),
        s_flat=clamp((flat - 0.3) / 0.5).round(6),
        s_stable=clamp((0.5 - cv) / 0.4).round(6),
        s_night=clamp((night_ratio - 0.5) / 0.4).round(6),
        s_level=clamp((daily_kwh - HOUSE_P95_DAILY_KWH) / 27.0).round(6),
    )


@dataclass(frozen=True)
class Loads:
    """Per meter (aligned with the meters list), all in kW unless named otherwise."""

    base_kw: np.ndarray  # median over days of the (de-spiked) daily minimum
    step_kw: np.ndarray  # best two-segment split of that series: after minus before
    step_day: np.ndarray  # index of the first day after the step
    strength: np.ndarray  # step over the within-segment spread
    after_kw: np.ndarray  # base load since the step
    after_cv: np.ndarray  # day-to-day spread of that base load since the step
    night_kw: np.ndarray  # median over days of the lowest power in 22:00–08:00
    weekend_kw: np.ndarray  # median over Saturdays and Sundays of the daily minimum
    step_kwh: np.ndarray  # rise of the mean daily energy across the step (kWh/day)
    held: np.ndarray  # share of the days since the step on which the base stayed up


def base_loads(daily: pa.Table, meters: list[str], first_day: int,
               n_days: int) -> Loads:
    """Robust base load and its step, vectorised over the meters × days matrix.

    Daily minima are taken through a 3-day running median first: one reboot dip or one
    holiday must neither hide a miner nor fake a step."""
    index = {m: i for i, m in enumerate(meters)}
    grid = np.full((len(meters), n_days), np.nan)
    rows = np.array([index[m] for m in daily["meter_id"].to_pylist()], dtype=np.int64)
    cols = daily["day"].to_numpy() - first_day
    grid[rows, cols] = daily["w_min"].to_numpy() / 1000.0
    energy = np.full((len(meters), n_days), np.nan)
    energy[rows, cols] = daily["wh"].to_numpy() / 1000.0
    night = np.full((len(meters), n_days), np.nan)
    night[rows, cols] = pc.fill_null(daily["night_w_min"], 0).to_numpy() / 1000.0
    padded = np.pad(grid, ((0, 0), (1, 1)), constant_values=np.nan)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            smooth = np.nanmedian(np.stack([padded[:, :-2], padded[:, 1:-1], padded[:, 2:]]),
                                  axis=0)
            smooth[np.isnan(grid)] = np.nan
            base = np.nanmedian(smooth, axis=1)
            night_base = np.nan_to_num(np.nanmedian(night, axis=1))
            # Day 0 of the epoch was a Thursday: (day + 3) % 7 is 0 on Mondays.
            weekend = ((np.arange(n_days) + first_day + 3) % 7) >= 5
            weekend_base = (np.nan_to_num(np.nanmedian(grid[:, weekend], axis=1))
                            if weekend.sum() >= 2 else np.zeros(len(meters)))
            filled = np.where(np.isnan(smooth), 0.0, smooth)
            have = (~np.isnan(smooth)).astype(float)
            c_sum, c_n = np.cumsum(filled, axis=1), np.cumsum(have, axis=1)
            tot_sum, tot_n = c_sum[:, -1:], c_n[:, -1:]
            before = c_sum[:, :-1] / c_n[:, :-1]
            after = (tot_sum - c_sum[:, :-1]) / (tot_n - c_n[:, :-1])
            ok = (c_n[:, :-1] >= 5) & ((tot_n - c_n[:, :-1]) >= 5)
            jump = np.where(ok, after - before, 0.0)
            # The best split of every meter at once: k is the last day before the step.
            has_step = np.any(jump != 0, axis=1) if n_days >= 2 else np.zeros(len(meters), bool)
            k = np.argmax(np.abs(jump), axis=1) if n_days >= 2 else np.zeros(len(meters), int)
            rows_i = np.arange(len(meters))
            jump_k = jump[rows_i, k] if n_days >= 2 else np.zeros(len(meters))
            before_k = before[rows_i, k] if n_days >= 2 else np.zeros(len(meters))
            after_k = after[rows_i, k] if n_days >= 2 else np.zeros(len(meters))
            day_i = np.arange(n_days)[None, :]
            later = day_i > k[:, None]
            seg = np.where(~later, before_k[:, None], after_k[:, None])
            spread = np.nanmedian(np.abs(smooth - seg), axis=1) * 1.4826
            strength = np.abs(jump_k) / np.maximum(np.nan_to_num(spread), 0.05)
            # Robust (MAD) spread since the step: a reboot day or two must not make a steady
            # base look unsteady.
            tail = np.where(later, smooth, np.nan)
            tail_n = np.sum(~np.isnan(tail), axis=1)
            tail_med = np.nanmedian(tail, axis=1)
            tail_mad = np.nanmedian(np.abs(tail - tail_med[:, None]), axis=1)
            after_cv = np.where(tail_n > 0, 1.4826 * tail_mad / np.maximum(tail_med, 0.05), 1.0)
            # How much of the time since the step the base stayed up: a miner keeps running;
            # a heater or a visitor's week lifts the base and lets it fall back.
            up = later & ~np.isnan(smooth)
            risen = up & (smooth >= (before_k + 0.5 * jump_k)[:, None])
            held = np.where(up.sum(axis=1) > 0, risen.sum(axis=1) / np.maximum(up.sum(axis=1), 1),
                            0.0)
            e_before = np.where(~later, energy, np.nan)
            e_after = np.where(later, energy, np.nan)
            both = (np.any(~np.isnan(e_before), axis=1) & np.any(~np.isnan(e_after), axis=1))
            step_kwh = np.where(both, np.nanmean(e_after, axis=1) - np.nanmean(e_before, axis=1),
                                0.0)
    base0 = np.nan_to_num(base)
    r6 = _round_each(6)
    return Loads(
        base_kw=r6(np.where(has_step, base, base0)),
        step_kw=r6(np.where(has_step, jump_k, 0.0)),
        step_day=np.where(has_step, k + 1, 0),
        strength=r6(np.where(has_step, strength, 0.0)),
        after_kw=r6(np.where(has_step, after_k, base0)),
        after_cv=r6(np.where(has_step, after_cv, 1.0)),
        night_kw=r6(night_base), weekend_kw=r6(weekend_base),
        step_kwh=r6(np.where(has_step, step_kwh, 0.0)),
        held=r6(np.where(has_step, held, 0.0)),
    )


def _round_each(digits: int) -> Callable[[Any], np.ndarray]:
    """Python's round() element by element: correctly rounded, so the figures are the same
    as a scalar computation's to the last digit (numpy's round can differ by one ulp)."""
    def f(values: Any) -> np.ndarray:
        return np.array([round(float(v), digits) for v in values], dtype=np.float64)
    return f


RANKED_SCHEMA = pa.schema([
    ("meter_id", pa.string()), ("score", pa.float64()), ("verdict", pa.string()),
    ("est_kw", pa.float64()), ("est_units", pa.int64()), ("device", pa.string()),
    ("onset", pa.date32()), ("reasons", pa.string()), ("days", pa.int64()),
    ("daily_kwh", pa.float64()), ("base_kw", pa.float64()), ("cv", pa.float64()),
    ("flatness", pa.float64()), ("night_ratio", pa.float64()), ("s_base", pa.float64()),
    ("s_flat", pa.float64()), ("s_stable", pa.float64()), ("s_night", pa.float64()),
    ("s_level", pa.float64()), ("s_step", pa.float64()), ("rank", pa.int64()),
])


@dataclass
class PowerResult:
    ranked: pa.Table


def detect_power(readings: pa.Table | Any, engine: Engine, *,
                 cfg: PowerConfig | None = None,
                 say: Callable[[str], None] | None = None) -> PowerResult:
    """Rank meters. ``readings`` is an Arrow table in the long form, or an engine table
    (e.g. ``engine.read_parquet(path)``) so a city's data never has to fit in Python."""
    cfg = cfg or PowerConfig()
    note = say or (lambda _m: None)
    note("daily indicators")
    t = engine.table(readings, "readings") if isinstance(readings, pa.Table) else readings
    daily = engine.execute(daily_expr(t))
    note(f"meter indicators on {engine.name}")
    meters = engine.execute(meter_expr(engine.table(daily, "daily"), cfg)).sort_by("meter_id")
    meters = meters.filter(pc.greater_equal(meters["days"], cfg.min_days))
    if meters.num_rows == 0:
        return PowerResult(RANKED_SCHEMA.empty_table())
    note("base load and steps")
    first = pc.min(meters["first_day"]).as_py()
    n_days = pc.max(meters["last_day"]).as_py() - first + 1
    ids = meters["meter_id"].to_pylist()
    # The same complete days the indicators used.
    complete = pc.greater_equal(pc.multiply(daily["readings"], daily["minutes"]), 1440 * 0.9)
    daily_kept = daily.filter(pc.and_(complete, pc.is_in(daily["meter_id"],
                                                         value_set=meters["meter_id"])))
    b = base_loads(daily_kept, ids, first, n_days)
    col = {c: meters[c].to_numpy(zero_copy_only=False) for c in (
        "days", "daily_kwh", "cv", "flatness", "night_ratio", "s_flat", "s_stable", "s_night",
        "s_level")}
    # A machine that adds k kW to the base adds about 24·k kWh a day; a heater that lifts
    # the night minimum but cycles by day does not.
    stepped = ((b.strength >= 4) & (b.step_kw >= 0.5) & (b.step_kwh >= 0.7 * 24 * b.step_kw)
               & (b.held >= 0.8))
    s_step = np.where(stepped, np.clip((b.step_kw - 0.5) / 2.5, 0.0, 1.0), 0.0)
    # Since a step, judge the load as it is now; a load held all night (valley-only mining
    # at the cheap tariff) or all weekend counts as base too.
    base_now = np.maximum(np.maximum(np.where(stepped, b.after_kw, b.base_kw), b.night_kw),
                          b.weekend_kw)
    s_base = np.clip((base_now - 0.3) / 1.2, 0.0, 1.0)
    score = _round_each(6)(cfg.w_base * s_base + cfg.w_flat * col["s_flat"]
                           + cfg.w_stable * col["s_stable"] + cfg.w_night * col["s_night"]
                           + cfg.w_level * col["s_level"] + cfg.w_step * s_step)
    # A high base alone is a heater or a pump as often as a miner: a lead also needs a mining
    # shape: a flat day, a steady day-to-day total, a base that has held steady since it
    # stepped up, or a plateau held all night or all weekend.
    plateau = np.maximum(b.night_kw, b.weekend_kw) >= 2 * np.maximum(b.base_kw, 0.1)
    shaped = ((col["s_flat"] > 0) | (col["s_stable"] > 0) | (stepped & (b.after_cv <= 0.15))
              | plateau)
    suspect = (score >= cfg.suspect_at) & (base_now >= cfg.min_base_kw) & shaped
    est_kw = np.where(stepped, b.step_kw, np.maximum(0.0, base_now - HOUSE_BASE_KW))
    n = len(ids)
    est_out: list[float | None] = [None] * n
    units: list[int | None] = [None] * n
    device: list[str | None] = [None] * n
    reason: list[str] = [""] * n
    for i in np.flatnonzero(suspect):
        fit = fit_units(float(est_kw[i]))
        onset_i = (date(1970, 1, 1) + timedelta(days=first + int(b.step_day[i]))
                   if stepped[i] else None)
        row = {k: float(v[i]) for k, v in col.items()}
        row.update(base_kw=float(base_now[i]), s_base=float(s_base[i]))
        est_out[i] = round(float(est_kw[i]), 2)
        units[i] = fit[1] if fit else None
        device[i] = fit[0].name if fit else None
        reason[i] = reasons(row, float(s_step[i]), float(b.step_kw[i]), onset_i, fit)
    onset = pa.array(np.where(stepped, first + b.step_day, 0).astype(np.int32),
                     pa.int32()).cast(pa.date32())
    onset = pc.if_else(pa.array(stepped), onset, pa.nulls(n, pa.date32()))
    r3, r4 = _round_each(3), _round_each(4)
    table = pa.table({
        "meter_id": meters["meter_id"], "score": score,
        "verdict": np.where(suspect, "suspect", "normal"),
        "est_kw": pa.array(est_out, pa.float64()), "est_units": pa.array(units, pa.int64()),
        "device": pa.array(device, pa.string()), "onset": onset,
        "reasons": pa.array(reason, pa.string()), "days": col["days"],
        "daily_kwh": r3(col["daily_kwh"]), "base_kw": r3(base_now), "cv": col["cv"],
        "flatness": col["flatness"], "night_ratio": col["night_ratio"],
        "s_base": r4(s_base), "s_flat": r4(col["s_flat"]), "s_stable": r4(col["s_stable"]),
        "s_night": r4(col["s_night"]), "s_level": r4(col["s_level"]), "s_step": r4(s_step),
    })
    # Highest score first, ties by meter id: the same order from every engine and run.
    order = pc.sort_indices(table, sort_keys=[("score", "descending"), ("meter_id", "ascending")])
    table = table.take(order)
    table = table.append_column("rank", pa.array(np.arange(1, n + 1), pa.int64()))
    table = table.cast(RANKED_SCHEMA)
    first_cols = ["meter_id", "rank", "score", "verdict", "est_kw", "est_units", "onset",
                  "reasons"]
    return PowerResult(table.select(first_cols + [c for c in table.column_names
                                                  if c not in first_cols]))


def reasons(r: dict[str, Any], s_step: float, step_kw: float, onset: date | None,
            fit: tuple[Device, int, float] | None) -> str:
    """Plain words, each backed by a sub-score of the same row."""
    parts = []
    if r["s_base"] > 0:
        parts.append(f"夜间基荷 {r['base_kw']:.1f} kW")
    if s_step > 0 and onset is not None:
        text = f"自 {onset:%Y-%m-%d} 起阶跃 +{step_kw:.1f} kW"
        if fit:
            text += f" ≈ {fit[1]} 台 {fit[0].name}"
        parts.append(text)
    elif fit:
        parts.append(f"约 {fit[1]} 台 {fit[0].name} 的功率")
    if r["s_stable"] > 0:
        parts.append(f"日用电量波动小（CV {r['cv']:.2f}）")
    if r["s_flat"] > 0:
        parts.append(f"负荷平直（谷峰比 {r['flatness']:.2f}）")
    if r["s_night"] > 0:
        parts.append(f"夜间/白天负荷比 {r['night_ratio']:.2f}")
    if r["s_level"] > 0:
        parts.append(f"日均 {r['daily_kwh']:.0f} kWh，高于同类居民 95% 分位")
    return "；".join(parts)
