"""Synthetic meters: household curves (real ones when given) with miners injected from
device specifications, and hard negatives that look like miners.

Miners: 1–300 units at nameplate ±5 %, ±1.5 % ripple, short reboot dips, onset anywhere in
the window, schedules 24/7, valley-only (22:00–08:00) or weekends. Hard negatives: 24/7
refrigeration (cycling compressor), telecom cabinets (steady 1–2 kW), pumps, night storage
heating, night EV charging. Seeded: the same arguments give the same meters.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from qingling.detect.power.devices import DEVICES

STEP_MIN = 30
PER_DAY = 24 * 60 // STEP_MIN
SCHEDULES = ("24/7", "valley", "weekends")
NEGATIVES = ("refrigeration", "telecom", "pump", "storage_heating", "ev_night")


def _household(rng: np.random.Generator, days: int) -> np.ndarray:
    hours = np.arange(PER_DAY) * STEP_MIN / 60
    shape = (0.15 + 0.35 * np.exp(-((hours - 7.5) ** 2) / 2) + 0.8 * np.exp(-((hours - 19.5) ** 2) / 4))
    scale = rng.lognormal(0, 0.5)
    days_kw = []
    for _ in range(days):
        day = shape * scale * rng.uniform(0.6, 1.4) + rng.gamma(1.5, 0.05, PER_DAY)
        days_kw.append(day)
    return np.concatenate(days_kw)


def _real_curves(real: pa.Table, rng: np.random.Generator, n: int, days: int) -> list[np.ndarray]:
    """Windows of real household kW, each from a random meter and start, randomly scaled."""
    curves = []
    by_meter: dict[str, np.ndarray] = {}
    ids = real["meter_id"].to_numpy(zero_copy_only=False)
    kwh = real["kwh"].to_numpy()
    for m in np.unique(ids):
        series = kwh[ids == m]
        if len(series) >= days * PER_DAY:
            by_meter[str(m)] = series * 2.0  # 30-minute kWh → kW
    names = sorted(by_meter)
    for _ in range(n):
        s = by_meter[names[rng.integers(len(names))]]
        start = rng.integers(0, len(s) - days * PER_DAY + 1)
        curves.append(np.nan_to_num(s[start : start + days * PER_DAY]) * rng.uniform(0.7, 1.3))
    return curves


def _miner_kw(rng: np.random.Generator, days: int, units: int, device_kw: float,
              schedule: str, onset: int, first_weekday: int) -> np.ndarray:
    n = days * PER_DAY
    each = device_kw * rng.uniform(0.95, 1.05)
    kw = np.full(n, units * each) * (1 + rng.normal(0, 0.015, n))
    slot = np.arange(n) % PER_DAY
    hour = slot * STEP_MIN / 60
    if schedule == "valley":
        kw[(hour >= 8) & (hour < 22)] = 0
    elif schedule == "weekends":
        weekday = (first_weekday + np.arange(n) // PER_DAY) % 7  # calendar: Monday = 0
        kw[weekday < 5] = 0
    dips = rng.random(n) < 0.003  # reboots
    kw[dips] *= rng.uniform(0.0, 0.5, dips.sum())
    kw[: onset * PER_DAY] = 0
    return np.maximum(kw, 0)


def _negative_kw(rng: np.random.Generator, days: int, kind: str) -> np.ndarray:
    n = days * PER_DAY
    hour = (np.arange(n) % PER_DAY) * STEP_MIN / 60
    if kind == "refrigeration":
        return np.where(rng.random(n) < 0.55, rng.uniform(0.6, 1.5), 0.05) * 1.0
    if kind == "telecom":
        return np.full(n, rng.uniform(1.0, 2.0)) * (1 + rng.normal(0, 0.02, n))
    if kind == "pump":
        on = (np.arange(n) // 4) % rng.integers(3, 8) == 0
        return np.where(on, rng.uniform(2, 5), 0.0)
    if kind == "storage_heating":
        return np.where((hour >= 23) | (hour < 6), rng.uniform(3, 6), 0.0)
    return np.where((hour >= 23) | (hour < 3), 7.0, 0.0) * (rng.random(n) < 0.6)  # ev_night


def synth_meters(meters: int, days: int, miners: int, *, seed: int = 1,
                 real: pa.Table | None = None, negatives: int | None = None,
                 start: datetime | None = None) -> tuple[pa.Table, pa.Table]:
    """(readings in long form, truth): ``miners`` meters carry a miner, ``negatives`` (default
    as many as miners) a hard negative, the rest are households."""
    rng = np.random.default_rng(seed)
    negatives = miners if negatives is None else negatives
    if miners + negatives > meters:
        raise ValueError("more miners and hard negatives than meters")
    base = (_real_curves(real, rng, meters, days) if real is not None
            else [_household(rng, days) for _ in range(meters)])
    order = rng.permutation(meters)
    day0 = (start or datetime(2026, 10, 1, tzinfo=UTC)).date()
    truth = []
    for j, i in enumerate(order[:miners]):
        device = DEVICES[rng.integers(len(DEVICES))]
        units = int(min(300, max(1, rng.lognormal(0.3, 1.0))))
        schedule = SCHEDULES[0] if rng.random() < 0.7 else SCHEDULES[1 + rng.integers(2)]
        onset = int(rng.integers(0, max(1, days // 2))) if rng.random() < 0.5 else 0
        add = _miner_kw(rng, days, units, device.kw, schedule, onset, day0.weekday())
        base[i] = base[i] + add
        truth.append({"meter_id": f"M{i:07d}", "kind": "miner", "device": device.name,
                      "units": units, "kw": round(units * device.kw, 2), "schedule": schedule,
                      "onset_day": onset})
        _ = j
    for i in order[miners : miners + negatives]:
        kind = NEGATIVES[rng.integers(len(NEGATIVES))]
        base[i] = base[i] + _negative_kw(rng, days, kind)
        truth.append({"meter_id": f"M{i:07d}", "kind": kind, "device": "", "units": 0,
                      "kw": 0.0, "schedule": "", "onset_day": 0})
    t0 = int((start or datetime(2026, 10, 1, tzinfo=UTC)).timestamp() * 1_000_000) - 8 * 3600 * 1_000_000
    ts = t0 + np.arange(days * PER_DAY, dtype=np.int64) * STEP_MIN * 60 * 1_000_000
    ids = np.repeat(np.array([f"M{i:07d}" for i in range(meters)]), days * PER_DAY)
    kwh = np.concatenate(base) * STEP_MIN / 60
    readings = pa.table({
        "meter_id": pa.array(ids, pa.string()),
        "ts": pa.array(np.tile(ts, meters), pa.timestamp("us")),  # UTC
        "kwh": pa.array(np.round(kwh, 4), pa.float64()),
        "minutes": pa.array(np.full(len(kwh), STEP_MIN, np.int32)),
    })
    return readings, pa.Table.from_pylist(truth)
