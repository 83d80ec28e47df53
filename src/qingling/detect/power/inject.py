"""Synthetic meters: household curves (real ones when given) with miners injected from
device specifications, and hard negatives that look like miners.

Miners: 1–300 units at nameplate ±5 %, ±1.5 % ripple, short reboot dips, afternoon
temperature throttling, outages of a few hours, onset anywhere in the window; schedules
24/7, valley-only (22:00–08:00), weekends, or curtailed in the peak-price hours (09:00–11:00
and 15:00–17:00). Evasions: a site split across 2–4 meters of one transformer area, or
added to a shop's or a farm's load. Hard negatives: 24/7 refrigeration (cycling compressor),
telecom cabinets (steady 1–2 kW), pumps, night storage heating, night EV charging.

``synth_city`` also gives the meter register (category, contract kVA, transformer area,
industry, address: a split site's meters share one, as do a few families' two meters),
with a share of ordinary shops and farms among the households when asked. Seeded: the same
arguments give the same meters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from qingling.detect.power.devices import DEVICES

STEP_MIN = 30
PER_DAY = 24 * 60 // STEP_MIN
SCHEDULES = ("24/7", "valley", "weekends", "peak_curtailed")
EVASIONS = ("", "split", "commercial base", "agricultural base")
RESIDENTIAL, COMMERCIAL, AGRICULTURAL = "居民", "一般工商业", "农业"
NEGATIVE_CATEGORY = {"refrigeration": COMMERCIAL, "telecom": COMMERCIAL, "pump": AGRICULTURAL,
                     "storage_heating": RESIDENTIAL, "ev_night": RESIDENTIAL}
# The register's industry (行业) of each kind of meter; a shop that hides a miner is still
# registered as a shop.
NEGATIVE_INDUSTRY = {"refrigeration": "冷链仓储", "telecom": "通信基站", "pump": "农业灌溉"}
INDUSTRY = {RESIDENTIAL: "", COMMERCIAL: "零售", AGRICULTURAL: "农业灌溉"}
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
    """Windows of real household kW, each from a random meter and a random local midnight
    of its own clock, randomly scaled.

    Readings are placed on a regular 30-minute grid by their timestamps (a missing reading
    stays a gap, read as 0 kW, never a shift of the day), so that a household's evening
    peak stays in its evening: a window starting at a random half hour would move its
    daytime use into the night window. Hourly readings are spread over their two half
    hours."""
    curves = []
    by_meter: dict[str, np.ndarray] = {}
    step_us = STEP_MIN * 60 * 1_000_000
    ids = real["meter_id"].to_numpy(zero_copy_only=False)
    ts = real["ts"].cast(pa.timestamp("us")).cast(pa.int64()).to_numpy()
    kwh = real["kwh"].to_numpy(zero_copy_only=False).astype(np.float64)
    day_us = 86_400 * 1_000_000
    for m in np.unique(ids):
        at = ids == m
        t, e = ts[at], kwh[at]
        gaps = np.diff(np.sort(t))
        interval = int(np.median(gaps)) if gaps.size else step_us
        per = max(1, interval // step_us)  # half hours per reading
        slot = (t - t.min() // day_us * day_us) // step_us
        grid = np.full(int(slot.max()) + per, np.nan)
        for j in range(per):
            grid[slot + j] = e / per
        if len(grid) >= days * PER_DAY:
            by_meter[str(m)] = grid * 60 / STEP_MIN  # 30-minute kWh → kW
    names = sorted(by_meter)
    for _ in range(n):
        s = by_meter[names[rng.integers(len(names))]]
        start = rng.integers(0, (len(s) - days * PER_DAY) // PER_DAY + 1) * PER_DAY
        curves.append(np.nan_to_num(s[start : start + days * PER_DAY]) * rng.uniform(0.7, 1.3))
    return curves


def _commercial(rng: np.random.Generator, days: int) -> np.ndarray:
    """A shop or an office: open 08:00–21:00 at a few kW, fridges and lights at night."""
    hours = np.arange(PER_DAY) * STEP_MIN / 60
    open_kw, night_kw = rng.uniform(2.0, 8.0), rng.uniform(0.2, 0.8)
    shape = np.where((hours >= 8) & (hours < 21), open_kw, night_kw)
    return np.concatenate([shape * rng.uniform(0.7, 1.2) * (1 + rng.normal(0, 0.1, PER_DAY))
                           for _ in range(days)]).clip(0)


def _agricultural(rng: np.random.Generator, days: int) -> np.ndarray:
    """Irrigation on some days, by daylight; little else."""
    hours = np.arange(PER_DAY) * STEP_MIN / 60
    pump_kw = rng.uniform(3.0, 10.0)
    out = []
    for _ in range(days):
        on = rng.random() < 0.3
        start = rng.uniform(6, 14)
        day = np.where(on & (hours >= start) & (hours < start + rng.uniform(2, 6)), pump_kw, 0.1)
        out.append(day + rng.gamma(1.5, 0.02, PER_DAY))
    return np.concatenate(out)


def miner_kw(rng: np.random.Generator, days: int, units: int, device_kw: float,
             schedule: str, onset: int, first_weekday: int,
             extra: np.random.Generator | None = None) -> np.ndarray:
    """A miner's wall power in kW, one value per 30 minutes of the window, off before day
    ``onset``: nameplate ±5 %, ripple, reboot dips, and with ``extra`` throttling on hot
    afternoons and a few outages."""
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
    elif schedule == "peak_curtailed":
        kw[((hour >= 9) & (hour < 11)) | ((hour >= 15) & (hour < 17))] = 0
    dips = rng.random(n) < 0.003  # reboots
    kw[dips] *= rng.uniform(0.0, 0.5, dips.sum())
    if extra is not None:
        # Hot afternoons: fans at full speed, chips throttled by a few per cent.
        kw *= 1 - extra.uniform(0.0, 0.05) * np.exp(-((hour - 14.5) ** 2) / 8)
        for _ in range(extra.integers(0, 3)):  # outages: a breaker, the pool, the network
            at = extra.integers(0, n)
            kw[at : at + extra.integers(4, 25)] = 0
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


@dataclass
class SynthCity:
    readings: pa.Table  # meter_id, ts (UTC), kwh, minutes
    truth: pa.Table  # one row per meter with a miner or a hard negative
    register: pa.Table  # meter_id, category, contract_kva, transformer_area, industry, address


def synth_meters(meters: int, days: int, miners: int, *, seed: int = 1,
                 real: pa.Table | None = None, negatives: int | None = None,
                 start: datetime | None = None) -> tuple[pa.Table, pa.Table]:
    """(readings in long form, truth): ``miners`` meters carry a miner, ``negatives`` (default
    as many as miners) a hard negative, the rest are households."""
    city = synth_city(meters, days, miners, seed=seed, real=real, negatives=negatives,
                      start=start)
    return city.readings, city.truth


def synth_city(meters: int, days: int, miners: int, *, seed: int = 1,
               real: pa.Table | None = None, negatives: int | None = None,
               start: datetime | None = None, commercial: float = 0.0,
               agricultural: float = 0.0, area_size: int = 80, onset_day: int | None = None,
               schedules: tuple[str, ...] | None = None) -> SynthCity:
    """A city sample with its register. ``commercial`` and ``agricultural`` are the shares
    of ordinary shops and farms among the meters that carry nothing; transformer areas hold
    about ``area_size`` meters each. ``onset_day`` starts every miner on that day of the
    window (else half start on a random day of its first half, half before it);
    ``schedules`` draws every miner's schedule evenly from those named (else 70 % run
    24/7)."""
    if schedules is not None and not set(schedules) <= set(SCHEDULES):
        raise ValueError(f"unknown schedules: {sorted(set(schedules) - set(SCHEDULES))}")
    if onset_day is not None and not 0 <= onset_day < days:
        raise ValueError("onset_day must fall within the window")
    rng = np.random.default_rng(seed)
    # Evasions, outages, throttling and the register come from their own stream: the
    # household curves drawn for a seed do not depend on them.
    extra = np.random.default_rng([seed, 7])
    negatives = miners if negatives is None else negatives
    if miners + negatives > meters:
        raise ValueError("more miners and hard negatives than meters")
    base = (_real_curves(real, rng, meters, days) if real is not None
            else [_household(rng, days) for _ in range(meters)])
    order = rng.permutation(meters)
    day0 = (start or datetime(2026, 10, 1, tzinfo=UTC)).date()
    category = np.full(meters, RESIDENTIAL, dtype=object)
    industry = np.full(meters, None, dtype=object)
    address = np.arange(meters)  # the house number each meter is registered at
    area = np.arange(meters) // max(1, area_size)
    truth = []
    slots = [int(i) for i in order[:miners]]
    site = 0
    while slots:
        device = DEVICES[rng.integers(len(DEVICES))]
        units = int(min(300, max(1, rng.lognormal(0.3, 1.0))))
        schedule = SCHEDULES[0] if rng.random() < 0.7 else SCHEDULES[1 + rng.integers(2)]
        onset = int(rng.integers(0, max(1, days // 2))) if rng.random() < 0.5 else 0
        if schedule != "24/7" and extra.random() < 1 / 3:
            schedule = "peak_curtailed"
        # Chosen after the draws above, so that the rest of a seed's city stays as it was.
        if schedules is not None:
            schedule = schedules[int(extra.integers(len(schedules)))]
        if onset_day is not None:
            onset = onset_day
        evasion = EVASIONS[extra.choice(4, p=[0.7, 0.15, 0.1, 0.05])]
        k = int(extra.integers(2, 5)) if evasion == "split" and len(slots) >= 2 else 1
        if k == 1 and evasion == "split":
            evasion = ""
        k = min(k, len(slots))
        here, slots = slots[:k], slots[k:]
        add = miner_kw(rng, days, units, device.kw, schedule, onset, day0.weekday(), extra)
        for i in here:
            if evasion == "commercial base":
                base[i], category[i] = _commercial(extra, days), COMMERCIAL
            elif evasion == "agricultural base":
                base[i], category[i] = _agricultural(extra, days), AGRICULTURAL
            area[i] = area[here[0]]  # a split site sits behind one transformer
            address[i] = address[here[0]]  # and at one address
            base[i] = base[i] + add / k
            truth.append({"meter_id": f"M{i:07d}", "kind": "miner", "device": device.name,
                          "units": units, "kw": round(units * device.kw / k, 2),
                          "schedule": schedule, "onset_day": onset, "evasion": evasion,
                          "split": k, "site": site})
        site += 1
    for i in order[miners : miners + negatives]:
        kind = NEGATIVES[rng.integers(len(NEGATIVES))]
        base[i] = base[i] + _negative_kw(rng, days, kind)
        category[i] = NEGATIVE_CATEGORY[kind]
        industry[i] = NEGATIVE_INDUSTRY.get(kind)
        truth.append({"meter_id": f"M{i:07d}", "kind": kind, "device": "", "units": 0,
                      "kw": 0.0, "schedule": "", "onset_day": 0, "evasion": "", "split": 1,
                      "site": -1})
    for i in order[miners + negatives:]:
        if i > 0 and extra.random() < 0.03:
            address[i] = address[i - 1]  # a family with a second meter (a shop, a flat)
        u = extra.random()
        if u < commercial:
            base[i], category[i] = _commercial(extra, days), COMMERCIAL
        elif u < commercial + agricultural:
            base[i], category[i] = _agricultural(extra, days), AGRICULTURAL
    t0 = int((start or datetime(2026, 10, 1, tzinfo=UTC)).timestamp() * 1_000_000) - 8 * 3600 * 1_000_000
    ts = t0 + np.arange(days * PER_DAY, dtype=np.int64) * STEP_MIN * 60 * 1_000_000
    ids = np.array([f"M{i:07d}" for i in range(meters)])
    kwh = np.concatenate(base) * STEP_MIN / 60
    readings = pa.table({
        "meter_id": pa.array(np.repeat(ids, days * PER_DAY), pa.string()),
        "ts": pa.array(np.tile(ts, meters), pa.timestamp("us")),  # UTC
        "kwh": pa.array(np.round(kwh, 4), pa.float64()),
        "minutes": pa.array(np.full(len(kwh), STEP_MIN, np.int32)),
    })
    kva = {RESIDENTIAL: (4.0, 6.0, 8.0, 10.0), COMMERCIAL: (15.0, 20.0, 30.0, 50.0),
           AGRICULTURAL: (10.0, 15.0, 20.0, 30.0)}
    register = pa.table({
        "meter_id": pa.array(ids, pa.string()),
        "category": pa.array(category.tolist(), pa.string()),
        "contract_kva": pa.array([float(extra.choice(kva[c])) for c in category], pa.float64()),
        "transformer_area": pa.array([f"台区 {a:04d}" for a in area], pa.string()),
        "industry": pa.array([industry[i] or INDUSTRY[category[i]] or None
                              for i in range(meters)], pa.string()),
        "address": pa.array([f"嘉兴市南湖区示范路 {a + 1} 号" for a in address], pa.string()),
    })
    return SynthCity(readings, pa.Table.from_pylist(truth), register)
