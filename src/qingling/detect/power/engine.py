"""Electricity screening: rank meters by the likelihood of hidden mining, with the kW and
unit count behind each lead.

The one pass over the readings is an Ibis expression (per meter, day and half-day: energy,
coverage, lowest and highest power), run by DuckDB or Spark. Its result is folded into
meters × days matrices rounded to the mWh and the watt, so every engine hands numpy the
same integers; the per-meter indicators and the step search (``steps.py``: on the daily,
night-window and daytime minima) are vectorised numpy over those matrices, run where the
result lands. A meter with a recent steady step is judged on the days since it, and homes
against the screened population's own households. Every reason in the output is backed by
a sub-score column.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cached_property
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from qingling.detect.engines import Engine
from qingling.detect.power.devices import Device, fit_units
from qingling.detect.power.steps import Step, best_step, running_median3, steadiness

HOUSE_BASE_KW = 0.15  # a household's night base load (fridge, standby)
HOUSE_P95_DAILY_KWH = 13.0
HOUSE_MEAN_W = HOUSE_P95_DAILY_KWH / 24 * 1000  # that day's energy as a mean load
HOUSE_P50_DAILY_KWH = 7.5  # Zhejiang's first tier (2,760 kWh a year): what most homes use
MIN_PEERS = 5  # meters of one category needed for a median to compare with
MIN_HOMES = 50  # homes needed for the population's own household figures


@dataclass(frozen=True)
class PowerConfig:
    w_base: float = 0.3
    w_flat: float = 0.1
    w_stable: float = 0.15
    w_night: float = 0.1
    w_level: float = 0.1
    w_step: float = 0.25
    suspect_at: float = 0.5
    min_base_kw: float = 0.5  # below this no lead, whatever the shape
    min_days: int = 7
    # With a meter register: how far its context (category mismatch, load against the
    # contract, ratio to peers) lifts a score towards 1. Meters not in the register are
    # scored on their shape alone.
    w_register: float = 0.3

    def __post_init__(self) -> None:
        total = (self.w_base + self.w_flat + self.w_stable + self.w_night + self.w_level
                 + self.w_step)
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"power weights must sum to 1 (they sum to {total:.3f})")
        if not 0 < self.suspect_at < 1:
            raise ValueError("suspect_at must be within (0, 1)")
        if not 0 <= self.w_register < 1:
            raise ValueError("w_register must be within [0, 1)")


def halfday_expr(t: ibis.Table, minutes: int | None = None) -> ibis.Table:
    """Per meter, local (Asia/Shanghai) day and half: the night (22:00–08:00) or the
    daytime. This is the one pass over the readings; everything after works on its result,
    a few rows per meter and day.

    China has no daylight saving: the local day starts at 16:00 UTC, and the local night is
    exactly the UTC hours 14–23, one comparison per reading.

    ``minutes`` is the interval when every reading has the same one (the usual case: one
    collection system per file): then power extremes are taken on the readings and turned
    into watts once per group (the conversion is monotone, so it commutes with min and max),
    and the per-reading interval column is never read. Otherwise each reading's own
    interval is used."""
    local = t.ts.epoch_seconds() + 8 * 3600
    t = t.mutate(day=(local // 86_400).cast("int32"), night=t.ts.hour() >= 14)
    keys = ["meter_id", "day", "night"]
    if minutes is None:
        t = t.mutate(w=t.kwh * 60_000.0 / t.minutes.cast("float64"))
        return t.group_by(keys).aggregate(kwh=t.kwh.sum(), n=t.count(),
                                          covered=t.minutes.cast("float64").sum(),
                                          w_min=t.w.min(), w_max=t.w.max())
    half = t.group_by(keys).aggregate(kwh=t.kwh.sum(), n=t.count(),
                                      k_min=t.kwh.min(), k_max=t.kwh.max())
    return half.select("meter_id", "day", "night", "kwh", "n",
                       covered=half.n.cast("float64") * float(minutes),
                       w_min=half.k_min * 60_000.0 / float(minutes),
                       w_max=half.k_max * 60_000.0 / float(minutes))


def uniform_minutes(t: ibis.Table, engine: Engine) -> int | None:
    """The interval shared by every reading, or None when the input mixes intervals."""
    span = engine.execute(t.aggregate(lo=t.minutes.min(), hi=t.minutes.max()))
    lo, hi = span["lo"][0].as_py(), span["hi"][0].as_py()
    return int(lo) if lo is not None and lo == hi else None


COMPLETE_MINUTES = 1440 * 0.9  # a day with less coverage is a gap, not a low day


GRIDS = ("wh", "covered", "w_min", "w_max", "night_wh", "night_min", "night_w_min", "readings",
         "day_w_min")  # the meters × days matrices of Days


@dataclass(frozen=True)
class Days:
    """Meters × local days, complete days only (NaN elsewhere). Energies in Wh to the
    milliwatt-hour, powers in whole watts, coverage in minutes.

    Every engine hands over the same integers here: energy sums are rounded to the mWh,
    finer than any meter records (so the order in which an engine added the readings cannot
    show), and powers to the watt. All that follows is one numpy computation."""

    meters: np.ndarray  # meter ids, sorted
    first_day: int  # days since 1970-01-01 of column 0
    wh: np.ndarray
    covered: np.ndarray
    w_min: np.ndarray
    w_max: np.ndarray
    night_wh: np.ndarray
    night_min: np.ndarray
    night_w_min: np.ndarray
    readings: np.ndarray  # readings in the day
    day_w_min: np.ndarray  # lowest power in the daytime (08:00–22:00)

    @property
    def intraday(self) -> np.ndarray:
        """Per meter: read at least hourly, so that a day has a shape (a minimum, a peak,
        a night). Daily totals have none: only their level and its steps count."""
        per_day = _nanmedian(self.readings) if self.readings.size else np.zeros(len(self.meters))
        return np.nan_to_num(per_day) >= 24

    def take(self, rows: np.ndarray) -> Days:
        """These meters only, and the days from the first to the last complete one."""
        fields = GRIDS
        have = np.flatnonzero(np.any(~np.isnan(self.wh[rows]), axis=0))
        lo, hi = (int(have[0]), int(have[-1]) + 1) if have.size else (0, 0)
        return Days(self.meters[rows], self.first_day + lo,
                    **{f: getattr(self, f)[rows, lo:hi] for f in fields})

    def only(self, keep: np.ndarray) -> Days:
        """The same meters and days, with the cells outside ``keep`` missing."""
        return Days(self.meters, self.first_day,
                    **{f: np.where(keep, getattr(self, f), np.nan) for f in GRIDS})


def day_grid(half: pa.Table) -> Days:
    """Fold the night and daytime rows of each day into one meters × days matrix each."""
    enc = pc.dictionary_encode(half["meter_id"]).combine_chunks()
    names = enc.dictionary.to_numpy(zero_copy_only=False)
    order = np.argsort(names, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    rows = rank[enc.indices.to_numpy()]
    day = half["day"].to_numpy()
    first = int(day.min()) if len(day) else 0
    cols = day - first
    shape = (len(names), int(cols.max()) + 1 if len(cols) else 0)
    flat = rows * shape[1] + cols
    night = half["night"].to_numpy(zero_copy_only=False)
    n_at, d_at = flat[night], flat[~night]
    size = shape[0] * shape[1]

    def column(name: str) -> np.ndarray:
        c = half[name]
        return (pc.fill_null(c, 0.0) if c.null_count else c).to_numpy()

    def fold(values: np.ndarray, fill: float, both: Callable[[Any, Any], Any]
             ) -> tuple[np.ndarray, np.ndarray]:
        """(whole day, night only) grids; each cell gets at most one night and one daytime
        row, so plain fancy assignment is exact."""
        g_night = np.full(size, fill)
        g_night[n_at] = values[night]
        g_day = g_night.copy()
        g_day[d_at] = both(g_day[d_at], values[~night])
        return g_day.reshape(shape), g_night.reshape(shape)

    mwh, night_mwh = fold(np.rint(column("kwh") * 1e6), 0.0, np.add)
    covered, night_min = fold(column("covered"), 0.0, np.add)
    count, _ = fold(column("n").astype(np.float64), 0.0, np.add)
    w_min, night_w_min = fold(np.round(column("w_min")), np.inf, np.minimum)
    w_max, _ = fold(np.round(column("w_max")), -np.inf, np.maximum)
    daytime = np.full(size, np.inf)
    daytime[d_at] = np.round(column("w_min"))[~night]
    day_w_min = daytime.reshape(shape)
    full = covered >= COMPLETE_MINUTES

    def kept(g: np.ndarray) -> np.ndarray:
        return np.where(full, g, np.nan)

    return Days(
        meters=names[order], first_day=first, wh=kept(mwh / 1000.0), covered=kept(covered),
        w_min=kept(w_min), w_max=kept(w_max), night_wh=kept(night_mwh / 1000.0),
        night_min=kept(night_min),
        # A complete day with no night reading has no night minimum: 0, not a plateau.
        night_w_min=kept(np.where(np.isinf(night_w_min), 0.0, night_w_min)),
        readings=kept(count),
        day_w_min=kept(np.where(np.isinf(day_w_min), 0.0, day_w_min)),
    )


def meter_indicators(d: Days) -> dict[str, np.ndarray]:
    """Per meter, over its complete days: level, day-to-day variation, flatness and the
    night/day balance, each with its sub-score."""
    have = ~np.isnan(d.wh)
    periods = have.sum(axis=1)
    n = np.maximum(periods, 1)
    shape = d.intraday
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        # A bill covers a month: its energy per day is what compares with a day's.
        span = _nanmedian(d.covered) / 1440.0 if d.covered.size else np.zeros(len(d.meters))
        energy = np.where(shape[:, None], d.wh, d.wh * 1440.0 / np.maximum(d.covered, 1.0))
        mean_wh = np.nansum(energy, axis=1) / n
        var = np.maximum(np.nansum((energy - mean_wh[:, None]) ** 2, axis=1) / n, 0.0)
        cv = np.sqrt(var) / np.maximum(mean_wh, 1.0)
        flat = np.nansum(d.w_min, axis=1) / np.maximum(np.nansum(d.w_max, axis=1), 1.0)
        # Mean watts at night and by day.
        night_w = d.night_wh * 60.0 / np.maximum(d.night_min, 1.0)
        day_w = (d.wh - d.night_wh) * 60.0 / np.maximum(d.covered - d.night_min, 1.0)
        night_ratio = np.nansum(night_w, axis=1) / np.maximum(np.nansum(day_w, axis=1), 1.0)
    daily_kwh = mean_wh / 1000.0
    # Without readings through the day there is no minimum, peak or night to compare.
    flat = np.where(shape, flat, np.nan)
    night_ratio = np.where(shape, night_ratio, np.nan)
    r6 = _round_each(6)
    return {
        "intraday": shape,
        "monthly": np.nan_to_num(span) >= 28,
        # Complete days: counted for interval data, summed over the bills' spans.
        "days": np.where(shape, periods,
                         np.round(np.nansum(d.covered, axis=1) / 1440.0)).astype(np.int64),
        "daily_kwh": r6(daily_kwh), "cv": r6(cv), "flatness": r6(flat),
        "night_ratio": r6(night_ratio),
        "s_flat": r6(np.nan_to_num(np.clip((flat - 0.3) / 0.5, 0.0, 1.0))),
        "s_stable": r6(np.clip((0.5 - cv) / 0.4, 0.0, 1.0)),
        "s_night": r6(np.nan_to_num(np.clip((night_ratio - 0.5) / 0.4, 0.0, 1.0))),
    }


def level_score(daily_kwh: np.ndarray, p95_kwh: float) -> np.ndarray:
    """Daily energy above a household's 95th percentile, full 27 kWh (a miner's) above."""
    return _round_each(6)(np.clip((daily_kwh - p95_kwh) / 27.0, 0.0, 1.0))


@dataclass(frozen=True)
class Households:
    """What the households of the screened population draw: the level and the base a
    home is measured against. Homes differ by country, climate and heating (an Australian
    or a Canadian home uses two to four times a Chinese one), so they are taken from the
    population itself, never below the city's norms (DETECTION.md B). Neither the 95th
    percentile nor the median is moved by the few meters in a thousand (a hundred, in the
    evaluation) that carry a machine."""

    p95_kwh: float  # daily energy that few homes exceed
    base_kw: float  # a home's base load
    p50_kwh: float = HOUSE_P50_DAILY_KWH  # what a typical home uses in a day

    @staticmethod
    def of(daily_kwh: np.ndarray, homes: np.ndarray) -> Households:
        """From the homes' daily energy."""
        if homes.sum() < MIN_HOMES:
            return Households(HOUSE_P95_DAILY_KWH, HOUSE_BASE_KW)
        p95 = float(np.percentile(daily_kwh[homes], 95))
        p50 = float(np.median(daily_kwh[homes]))
        return Households(round(max(HOUSE_P95_DAILY_KWH, p95), 3), HOUSE_BASE_KW,
                          round(max(HOUSE_P50_DAILY_KWH, p50), 3))

    def with_base(self, base_kw: np.ndarray, homes: np.ndarray) -> Households:
        """The homes' median base load (read through the day), never below a fridge's."""
        if homes.sum() < MIN_HOMES:
            return self
        return replace(self, base_kw=round(max(HOUSE_BASE_KW, float(np.median(base_kw[homes]))),
                                           3))


@dataclass(frozen=True)
class Loads:
    """Per meter (aligned with the meters list), all in kW unless named otherwise."""

    base_kw: np.ndarray  # median over days of the (de-spiked) daily minimum
    step_kw: np.ndarray  # best two-segment split of that series: after minus before
    step_day: np.ndarray  # index of the first day after the step
    strength: np.ndarray  # step over the within-segment spread
    after_kw: np.ndarray  # base load since the step
    after_cv: np.ndarray  # day-to-day spread of that base load since the step
    night_kw: np.ndarray  # median over days of the lowest power in 22:00–08:00, where held
    weekend_kw: np.ndarray  # median over Saturdays and Sundays of the daily minimum
    step_kwh: np.ndarray  # rise of the mean daily energy across the step (kWh/day)
    held: np.ndarray  # share of the days since the step on which the base stayed up
    night: Step  # the step of the night-window (22:00–08:00) minimum; energy of the night
    daytime: Step  # the step of the daytime (08:00–22:00) minimum


NIGHT_STEADY_CV = 0.15  # night-to-night spread of the night minimum of a load held all night


def base_loads(d: Days) -> Loads:
    """Robust base load and its steps, vectorised over the meters × days matrix: of the
    daily minimum, of the night-window minimum and of the daytime minimum, each through a
    3-day running median first."""
    grid = d.w_min / 1000.0
    energy = d.wh / 1000.0
    night = d.night_w_min / 1000.0
    n_meters, n_days = grid.shape
    first_day = d.first_day
    smooth = running_median3(grid, _nanmedian)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        base = _nanmedian(smooth)
        night_base = np.nan_to_num(_nanmedian(night))
        # A load held all night holds the night window's minimum night after night (a
        # machine's draw, to a few per cent); a timer's block of a few hours (a storage
        # heater, a hot-water cylinder, an EV) fills the window's middle and leaves its
        # first and last hours to a home's evening and morning use, which then are the
        # window's minimum and vary from night to night: that minimum is no load held.
        night_cv = (1.4826 * _nanmedian(np.abs(night - night_base[:, None]))
                    / np.maximum(night_base, 0.05))
        night_base = np.where(np.nan_to_num(night_cv, nan=1.0) <= NIGHT_STEADY_CV, night_base,
                              np.minimum(night_base, np.nan_to_num(base)))
        # Day 0 of the epoch was a Thursday: (day + 3) % 7 is 0 on Mondays.
        weekend = ((np.arange(n_days) + first_day + 3) % 7) >= 5
        weekend_base = (np.nan_to_num(_nanmedian(grid[:, weekend]))
                        if weekend.sum() >= 2 else np.zeros(n_meters))
    whole = best_step(grid, energy, _nanmedian)
    night_step = best_step(night, d.night_wh / 1000.0, _nanmedian)
    day_step = best_step(d.day_w_min / 1000.0, (d.wh - d.night_wh) / 1000.0, _nanmedian)
    has_step = whole.found
    base0 = np.nan_to_num(base)
    r6 = _round_each(6)

    def rounded(st: Step) -> Step:
        return Step(st.found, r6(st.kw), st.day, r6(st.strength), r6(st.before_kw),
                    r6(st.after_kw), r6(st.after_cv), r6(st.held), r6(st.energy_rise))

    return Loads(
        base_kw=r6(np.where(has_step, base, base0)),
        step_kw=r6(whole.kw),
        step_day=whole.day,
        strength=r6(whole.strength),
        after_kw=r6(np.where(has_step, whole.after_kw, base0)),
        after_cv=r6(whole.after_cv),
        night_kw=r6(night_base), weekend_kw=r6(weekend_base),
        step_kwh=r6(whole.energy_rise),
        held=r6(whole.held),
        night=rounded(night_step), daytime=rounded(day_step),
    )


def _nanmedian(a: np.ndarray) -> np.ndarray:
    """Median along the last axis, ignoring NaN (NaN where a row has no value).

    The same figures as ``np.nanmedian`` (which goes through masked arrays and is ten times
    slower on a meters × days matrix): sort, NaNs last, and average the middle pair."""
    s = np.sort(a, axis=-1)
    n = np.sum(~np.isnan(a), axis=-1)
    lo = np.take_along_axis(s, np.maximum((n - 1) // 2, 0)[..., None], axis=-1)[..., 0]
    hi = np.take_along_axis(s, np.maximum(n // 2, 0)[..., None], axis=-1)[..., 0]
    return np.where(n > 0, (lo + hi) / 2, np.nan)


def _round_each(digits: int) -> Callable[[Any], np.ndarray]:
    """Python's round() on every element: correctly rounded, so a figure is the same as a
    scalar computation's to the last digit. numpy's scaled rounding agrees everywhere except
    next to a half, where the scaling itself rounds; those few go through round()."""
    scale = 10.0 ** digits

    def f(values: Any) -> np.ndarray:
        v = np.asarray(values, dtype=np.float64)
        out = np.round(v, digits)
        scaled = v * scale
        near = np.flatnonzero(np.abs(scaled - np.floor(scaled) - 0.5) < 1e-3)
        out[near] = [round(float(x), digits) for x in v[near]]
        return out
    return f


# Trades whose load runs around the clock by nature. Data centres are not among them: a
# machine room is where mining hides, and the plan vets them separately.
ALWAYS_ON = ("通信", "基站", "铁塔", "冷库", "冷藏", "冷链", "telecom", "cold store")


def category_class(name: str | None) -> str | None:
    """The tariff class of a register category, in the grid's words or in English."""
    if not name:
        return None
    n = name.strip().lower()
    if "非居民" in n or "工商业" in n or "商业" in n or "commercial" in n:
        return "commercial"
    if "大工业" in n or "industrial" in n:
        return "industrial"
    if "农" in n or "agri" in n:
        return "agricultural"
    if "居民" in n or "resident" in n or "household" in n:
        return "residential"
    return None


@dataclass(frozen=True)
class Register:
    """The meter register, aligned with a list of meters (None / NaN where unknown)."""

    known: np.ndarray  # the meter has a register row
    category: np.ndarray  # as written in the register
    always_on: np.ndarray  # registered to a round-the-clock trade (category or industry)
    kind: np.ndarray  # category_class of it
    contract_kva: np.ndarray
    area: np.ndarray  # transformer area (台区)
    address: np.ndarray  # as registered (None: not given)

    @cached_property
    def peer_groups(self) -> list[tuple[np.ndarray, bool]]:
        """Groups of at least MIN_PEERS meters of one category: city-wide ones first, then
        those behind one transformer (which take their place where they exist)."""
        out = []
        listed = np.flatnonzero(self.category != None)  # noqa: E711
        for local in (False, True):
            groups: dict[tuple[Any, ...], list[int]] = {}
            for i in listed:
                if local and self.area[i] is None:
                    continue
                key = (self.category[i], self.area[i]) if local else (self.category[i],)
                groups.setdefault(key, []).append(int(i))
            out += [(np.array(m), local) for m in groups.values() if len(m) >= MIN_PEERS]
        return out

    @staticmethod
    def check(table: pa.Table) -> tuple[dict[str, int], list[float]]:
        """Validate a register table: each meter named once (a second row is an error naming
        both rows), contract capacities numbers. Returns each meter's row and the
        capacities. Cheap: run it before a long screening, not after."""
        if "meter_id" not in table.column_names:
            raise ValueError("register: no meter_id column")
        ids = [str(v) if v is not None else None for v in table["meter_id"].to_pylist()]
        seen: dict[str, int] = {}
        for row, m in enumerate(ids, start=2):  # row 1 is the header
            if m is None or not m.strip():
                raise ValueError(f"register: row {row}: meter_id is empty")
            if m in seen:
                raise ValueError(f"register: meter_id {m} appears twice (rows {seen[m]} and "
                                 f"{row})")
            seen[m] = row
        kva: list[float] = []
        values = (table["contract_kva"].to_pylist() if "contract_kva" in table.column_names
                  else [None] * table.num_rows)
        for row, v in enumerate(values, start=2):
            try:
                kva.append(float(v) if v not in (None, "") else np.nan)
            except (TypeError, ValueError):
                raise ValueError(f"register: row {row}: contract_kva {v!r} is not a number"
                                 ) from None
        return seen, kva

    @staticmethod
    def align(table: pa.Table, meters: np.ndarray) -> Register:
        """Validate a register table (``check``) and align it with ``meters``."""
        seen, kva = Register.check(table)

        def col(name: str) -> list[Any]:
            return (table[name].to_pylist() if name in table.column_names
                    else [None] * table.num_rows)

        cats, areas, trades = col("category"), col("transformer_area"), col("industry")
        addresses = col("address")
        at = {m: seen[m] - 2 for m in seen}
        pos = np.array([at.get(str(m), -1) for m in meters], dtype=np.int64)
        known = pos >= 0

        def pick(values: list[Any], empty: Any) -> np.ndarray:
            out = np.full(len(meters), empty, dtype=object)
            out[known] = [values[i] for i in pos[known]]
            return out

        category = pick([str(c).strip() if c not in (None, "") else None for c in cats], None)
        trade = pick([f"{c or ''} {t or ''}".lower() for c, t in zip(cats, trades, strict=True)],
                     "")
        return Register(
            known=known, category=category,
            always_on=np.array([any(w in str(x) for w in ALWAYS_ON) for x in trade], dtype=bool),
            kind=np.array([category_class(c) for c in category], dtype=object),
            contract_kva=np.array(pick(kva, np.nan), dtype=np.float64),
            area=pick([str(a).strip() if a not in (None, "") else None for a in areas], None),
            address=pick([str(a).strip() if a not in (None, "") else None for a in addresses],
                         None),
        )


@dataclass(frozen=True)
class Context:
    s_category: np.ndarray
    s_capacity: np.ndarray
    s_peer: np.ndarray
    utilisation: np.ndarray  # mean load over the contract capacity (NaN: no contract)
    peer_ratio: np.ndarray  # daily energy over the peers' median (NaN: no peers)
    peers_local: np.ndarray  # the peers share the transformer area too
    peer_on_base: np.ndarray  # the ratio is of base loads (else of daily energy)



def peer_medians(reg: Register, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per meter, the median of ``values`` over its peers (NaN: too few), and whether they
    are its neighbours: the same category behind the same transformer where at least five,
    else the same category city-wide."""
    median = np.full(len(values), np.nan)
    local = np.zeros(len(values), dtype=bool)
    for idx, is_local in reg.peer_groups:  # city-wide first, neighbours after
        median[idx] = float(np.median(values[idx]))
        local[idx] = is_local
    return median, local


def register_context(reg: Register, daily_kwh: np.ndarray, base_now: np.ndarray,
                     shaped_flat: np.ndarray, base_peers: np.ndarray) -> Context:
    """What the register adds to a meter's own curve:

    - tariff-category mismatch: a home (or a farm, flat around the clock) carrying a base
      load that homes do not carry; a shop, a factory or a telecom site may;
    - load against the contract: mean kW over contract kVA, which a miner runs near;
    - ratio to peers: daily energy over the median of the same category behind the same
      transformer (at least five meters), else of the same category city-wide."""
    n = len(daily_kwh)
    s_category = np.zeros(n)
    home = reg.kind == "residential"
    farm = (reg.kind == "agricultural") & shaped_flat
    s_category[home | farm] = np.clip((base_now[home | farm] - 1.0) / 2.0, 0.0, 1.0)
    with np.errstate(all="ignore"):
        utilisation = np.where(reg.contract_kva > 0, daily_kwh / 24.0 / reg.contract_kva, np.nan)
    s_capacity = np.nan_to_num(np.clip((utilisation - 0.3) / 0.4, 0.0, 1.0))
    # Against the peers on the day's energy, and where ``base_peers`` (shops, factories,
    # farms read through the day) on the base load too: a machine in a shop hides in the
    # energy of a busy day, not in the night base a shop does not have. A home's base
    # varies too much from home to home for that.
    median, local = peer_medians(reg, daily_kwh)
    base_median, _ = peer_medians(reg, base_now)
    with np.errstate(all="ignore"):
        by_energy = np.where(median > 0, daily_kwh / median, np.nan)
        by_base = np.where(base_peers & (base_median >= 0),
                           base_now / np.maximum(base_median, 0.1), np.nan)
    on_base = np.nan_to_num(by_base) > np.nan_to_num(by_energy)
    peer_ratio = np.where(on_base, by_base, by_energy)
    s_peer = np.nan_to_num(np.clip((peer_ratio - 2.0) / 3.0, 0.0, 1.0))
    r4 = _round_each(4)
    return Context(r4(s_category), r4(s_capacity), r4(s_peer), _round_each(3)(utilisation),
                   _round_each(2)(peer_ratio), local, on_base)


@dataclass(frozen=True)
class Sites:
    """Meters behind one transformer that stepped up together: one machine room split over
    several meters to keep each under notice."""

    s_site: np.ndarray
    meters: np.ndarray  # how many meters stepped together (0: none)
    kw: np.ndarray  # their steps summed
    own: np.ndarray  # this meter's part of kw
    by_address: np.ndarray  # linked by one registered address, not by a common step

    @staticmethod
    def none(n: int) -> Sites:
        return Sites(np.zeros(n), np.zeros(n, np.int64), np.zeros(n), np.zeros(n),
                     np.zeros(n, dtype=bool))

    def merge(self, other: Sites) -> Sites:
        """Per meter, the stronger of two site findings."""
        take = other.s_site > self.s_site
        return Sites(*(np.where(take, b, a) for a, b in (
            (self.s_site, other.s_site), (self.meters, other.meters), (self.kw, other.kw),
            (self.own, other.own), (self.by_address, other.by_address))))


def co_stepping(area: np.ndarray, b: Loads) -> Sites:
    """Steps of the same day (±1) behind the same transformer, each held since, and each
    with the energy a constant load adds. Households add loads one at a time; two or more
    meters of one transformer area stepping together is a site."""
    n = len(area)
    s_site, count, total = np.zeros(n), np.zeros(n, np.int64), np.zeros(n)
    stepped = ((b.strength >= 3) & (b.step_kw >= 0.3) & (b.held >= 0.8)
               & (b.step_kwh >= 0.7 * 24 * b.step_kw))
    cand = [int(i) for i in np.flatnonzero(stepped) if area[i] is not None]
    cand.sort(key=lambda i: (str(area[i]), int(b.step_day[i])))
    group: list[int] = []
    ends: list[int | None] = [*cand, None]
    for i in ends:
        if (i is not None and group and area[i] == area[group[-1]]
                and int(b.step_day[i]) - int(b.step_day[group[-1]]) <= 1):
            group.append(i)
            continue
        if len(group) >= 2:
            kw = float(sum(b.step_kw[j] for j in group))
            for j in group:
                s_site[j] = min(max((kw - 0.5) / 2.5, 0.0), 1.0)
                count[j], total[j] = len(group), kw
        group = [i] if i is not None else []
    r4 = _round_each(4)
    return Sites(r4(s_site), count, _round_each(2)(total), np.where(count > 0, b.step_kw, 0.0),
                 np.zeros(n, dtype=bool))


def same_address(address: np.ndarray, base_now: np.ndarray, steady: np.ndarray,
                 house_base_kw: float = HOUSE_BASE_KW) -> Sites:
    """Meters registered at one address (分户), two or more of them carrying a flat or
    steady base of like size: their loads above a household's base, summed. A machine
    split over meters from its first day shows no step, but it shows as one address's load,
    shared out evenly; a family's second meter carries a load of its own."""
    n = len(address)
    out = Sites.none(n)
    groups: dict[str, list[int]] = {}
    for i in np.flatnonzero(steady):
        key = "".join(str(address[i] or "").split())
        if key:
            groups.setdefault(key, []).append(int(i))
    excess = np.maximum(base_now - house_base_kw, 0.0)
    for members in groups.values():
        idx = np.array([i for i in members if excess[i] >= 0.25])
        if len(idx) < 2 or excess[idx].max() > 1.5 * excess[idx].min():
            continue
        kw = float(excess[idx].sum())
        out.s_site[idx] = min(max((kw - 0.5) / 2.5, 0.0), 1.0)
        out.meters[idx], out.kw[idx], out.own[idx] = len(idx), kw, excess[idx]
        out.by_address[idx] = True
    return Sites(_round_each(4)(out.s_site), out.meters, _round_each(2)(out.kw), out.own,
                 out.by_address)


NIGHT_HOURS = 10  # 22:00–08:00, the valley tariff
RECENT_MIN_KW = 1.0  # a step judged on the days since it: about the smallest miner's draw
RECENT_MIN_DAYS = 7  # days since a step before they are judged on their own
STEADY_CV = 0.15  # day-to-day spread of a base that has held steady since its step


@dataclass(frozen=True)
class Judged:
    """The step each meter is judged on: of its daily minimum (a load run around the clock)
    or, where only the night stepped, of its night-window minimum."""

    stepped: np.ndarray
    night_only: np.ndarray
    kw: np.ndarray
    day: np.ndarray
    after_kw: np.ndarray
    after_cv: np.ndarray


def judge_steps(b: Loads, intraday: np.ndarray) -> Judged:
    """A machine that adds k kW to the base adds about 24·k kWh a day; a heater that lifts
    the night minimum but cycles by day does not. A machine run only at night adds about
    10·k kWh to the night and leaves the daytime minimum where it was; a household's
    lowest load then stays in the day, so the daily minimum shows no step at all."""
    # Reboot dips and outages pull single days' minima down and widen the spread a step is
    # measured against: a level that has held steady since is a step at a lower strength.
    whole = (((b.strength >= 4) | ((b.strength >= 3) & (b.after_cv <= STEADY_CV)))
             & (b.step_kw >= 0.5) & (b.step_kwh >= 0.7 * 24 * b.step_kw) & (b.held >= 0.8))
    nt = b.night
    night_only = (intraday & ~whole & nt.found
                  & ((nt.strength >= 4) | ((nt.strength >= 3) & (nt.after_cv <= STEADY_CV)))
                  & (nt.kw >= 0.5)
                  & (nt.held >= 0.8) & (nt.energy_rise >= 0.7 * NIGHT_HOURS * nt.kw)
                  & (b.daytime.kw < 0.5 * nt.kw))

    def pick(a: np.ndarray, night: np.ndarray) -> np.ndarray:
        return np.where(night_only, night, a)

    # Daily totals and bills carry their level above a household's, clipped at zero: a
    # home below that level before its machine would show only part of the machine's step
    # there, so their step is read from the rise of the energy itself.
    kw = np.where(intraday | ~whole, b.step_kw, np.maximum(b.step_kw, b.step_kwh / 24.0))
    return Judged(whole | night_only, night_only, pick(kw, nt.kw),
                  pick(b.step_day, nt.day), pick(b.after_kw, nt.after_kw),
                  pick(b.after_cv, nt.after_cv))


HELD_SHARE_FULL = 0.5  # held energy over the energy above a typical home's, for full credit


def held_share(b: Loads, st: Judged, homes: Households, daily_kwh: np.ndarray,
               intraday: np.ndarray) -> np.ndarray:
    """How far a meter's energy above a typical home's is explained by a load it holds, in
    [0, 1]: a machine adds k kW to the base around the clock (24·k kWh a day) or to the
    whole night window (10·k kWh), so that most of what the meter uses beyond a home's is
    that held load. A storage heater or a hot-water cylinder on an off-peak timer, a pool
    pump's hours, an EV charged at night put their energy into blocks of a few hours and
    leave the day's and the night's minimum where a home's is: a steady, high or night-heavy
    daily total without a held load behind it is theirs. A weekend's plateau holds for two
    days in seven. Full credit once the held load is half of the energy above the
    households' median; daily totals and bills have no minimum to hold and keep full
    credit."""
    with np.errstate(all="ignore"):
        day_held = np.maximum(np.where(st.stepped & ~st.night_only, st.after_kw, b.base_kw)
                              - homes.base_kw, 0.0)
        night_held = np.maximum(np.where(st.night_only, st.after_kw, b.night_kw)
                                - homes.base_kw, 0.0)
        weekend_held = np.maximum(b.weekend_kw - homes.base_kw, 0.0)
        held_kwh = (24.0 * day_held + NIGHT_HOURS * np.maximum(night_held - day_held, 0.0)
                    + 24.0 * 2 / 7 * np.maximum(weekend_held - day_held, 0.0))
        above = daily_kwh - homes.p50_kwh
        share = np.where(above > held_kwh, held_kwh / np.maximum(above, 1e-9), 1.0)
    # A held load of a machine's size, around the clock or all night, is one whatever else
    # the meter runs (a shop's day around a miner, a home's hot water at night beside it):
    # full credit at the base load's full sub-score.
    machine = np.clip((np.maximum(day_held, night_held) - 0.15) / 1.2, 0.0, 1.0)
    credit = np.maximum(np.clip(share / HELD_SHARE_FULL, 0.0, 1.0), machine)
    return np.where(intraday, credit, 1.0)


def recent_indicators(d: Days, rows: np.ndarray, first_day: np.ndarray
                      ) -> dict[str, np.ndarray]:
    """The meter indicators over the days since each meter's step (every day for the
    others): a step's days are judged on their own."""
    since = np.arange(d.wh.shape[1])[None, :] >= np.where(rows, first_day, 0)[:, None]
    ind = meter_indicators(d.only(since))
    return {k: ind[k] for k in ("daily_kwh", "cv", "flatness", "night_ratio", "s_flat",
                                "s_stable", "s_night")}


RANKED_SCHEMA = pa.schema([
    ("meter_id", pa.string()), ("score", pa.float64()), ("verdict", pa.string()),
    ("est_kw", pa.float64()), ("est_units", pa.int64()), ("device", pa.string()),
    ("onset", pa.date32()), ("reasons", pa.string()), ("days", pa.int64()),
    ("daily_kwh", pa.float64()), ("base_kw", pa.float64()), ("cv", pa.float64()),
    ("flatness", pa.float64()), ("night_ratio", pa.float64()), ("s_base", pa.float64()),
    ("s_flat", pa.float64()), ("s_stable", pa.float64()), ("s_night", pa.float64()),
    ("s_level", pa.float64()), ("s_step", pa.float64()), ("s_category", pa.float64()),
    ("s_capacity", pa.float64()), ("s_peer", pa.float64()), ("utilisation", pa.float64()),
    ("peer_ratio", pa.float64()), ("always_on_trade", pa.bool_()), ("s_site", pa.float64()),
    ("site_meters", pa.int64()), ("site_kw", pa.float64()), ("rank", pa.int64()),
])


@dataclass
class PowerResult:
    ranked: pa.Table


def detect_power(readings: pa.Table | Any, engine: Engine, *,
                 cfg: PowerConfig | None = None,
                 say: Callable[[str], None] | None = None,
                 register: pa.Table | None = None) -> PowerResult:
    """Rank meters. ``readings`` is an Arrow table in the long form, or an engine table
    (e.g. ``engine.read_parquet(path)``) so a city's data never has to fit in Python.
    ``register`` (meter_id, category, contract_kva, transformer_area, industry) adds the
    tariff category, the contract, the trade, the peers and the neighbours stepping together
    to the judgement of the meters it names."""
    cfg = cfg or PowerConfig()
    note = say or (lambda _m: None)
    note("daily indicators")
    t = engine.table(readings, "readings") if isinstance(readings, pa.Table) else readings
    half = engine.execute(halfday_expr(t, uniform_minutes(t, engine)))
    note("meter indicators")
    days = day_grid(half)
    del half
    ind = meter_indicators(days)
    keep = np.flatnonzero(ind["days"] >= cfg.min_days)
    if keep.size == 0:
        return PowerResult(RANKED_SCHEMA.empty_table())
    note("base load and steps")
    days = days.take(keep)
    col = {k: v[keep] for k, v in ind.items()}
    intraday = col.pop("intraday")
    monthly = col.pop("monthly")
    reg = Register.align(register, days.meters) if register is not None else None
    # A shop, a factory or a farm is not measured against a household's level.
    non_home = (np.array([k not in (None, "residential") for k in reg.kind], dtype=bool)
                if reg is not None else np.zeros(len(days.meters), dtype=bool))
    raw_days = days
    is_home = ~non_home & ((reg.kind == "residential") if reg is not None else True)
    homes = Households.of(col["daily_kwh"], is_home)
    if not intraday.all():
        # Daily totals: the "base" is the mean load above a household's (or, for other
        # categories, above the peers' median); a machine still shows as that level and as
        # a step in it.
        reference = np.full(len(days.meters), max(HOUSE_MEAN_W, homes.p95_kwh / 24 * 1000))
        if reg is not None:
            median, _ = peer_medians(reg, col["daily_kwh"])
            reference = np.where(non_home, np.maximum(HOUSE_MEAN_W,
                                                      np.nan_to_num(median) / 24 * 1000),
                                 reference)
        coarse = ~intraday[:, None]
        mean_w = days.wh * 60.0 / np.maximum(days.covered, 1.0)
        days = replace(days, w_min=np.where(coarse, np.maximum(mean_w - reference[:, None],
                                                               0.0), days.w_min),
                       night_w_min=np.where(coarse, 0.0, days.night_w_min),
                       # energy per day, so that a month's bill compares with a day
                       wh=np.where(coarse, days.wh * 1440.0 / np.maximum(days.covered, 1.0),
                                   days.wh))
    ids = days.meters
    first = days.first_day
    b = base_loads(days)
    homes = homes.with_base(b.base_kw, is_home & intraday)
    st = judge_steps(b, intraday)
    # A step is a machine's once its level has held for a week: a household's few days of
    # a heater, a guest or a pool pump running flat out (four days at +3.6 kW on a Sydney
    # home, then back) end before that. Days are counted by what the readings cover, so
    # that one monthly bill since a step is a month of it.
    held_days = np.nansum(np.where(np.arange(raw_days.wh.shape[1])[None, :] >= st.day[:, None],
                                   raw_days.covered, 0.0), axis=1) / 1440.0
    lasting = held_days >= RECENT_MIN_DAYS - 0.5
    st = replace(st, stepped=st.stepped & lasting, night_only=st.night_only & lasting)
    stepped = st.stepped
    # A step is weighed by its kW and by how steady the load has held since.
    s_step = np.where(stepped, np.clip((st.kw - 0.3) / 1.2, 0.0, 1.0) * steadiness(st.after_cv),
                      0.0)
    # Since a step of a machine's size, the meter is judged on the days since it, against
    # the history before: over the whole window, two weeks of a machine are diluted by the
    # weeks before it. A smaller step, or one that has not held steady (heating, a season's
    # air conditioning), is a household's as often as a miner's and keeps the whole window.
    # A week at least: a household's few days of a heater or a pool pump running flat out
    # end before that.
    days_since = np.sum(~np.isnan(raw_days.wh) & (np.arange(raw_days.wh.shape[1])[None, :]
                                                    >= st.day[:, None]), axis=1)
    recent = (stepped & (st.kw >= RECENT_MIN_KW) & (st.after_cv <= STEADY_CV)
              & (days_since >= RECENT_MIN_DAYS))
    since = recent_indicators(raw_days, recent, st.day)
    for k, v in since.items():
        col[k] = np.where(recent, v, col[k])
    # A shop, a factory or a farm is not measured against a household's level.
    col["s_level"] = np.where(non_home, 0.0, level_score(col["daily_kwh"], homes.p95_kwh))
    if reg is not None:
        # A telecom site or a cold store runs flat, steady and through the night by trade:
        # those shapes say nothing there, and only a step, the level or the base count.
        for k in ("s_flat", "s_stable", "s_night"):
            col[k] = np.where(reg.always_on, 0.0, col[k])
    # Since a step, judge the load as it is now; a load held all night (valley-only mining
    # at the cheap tariff) or all weekend counts as base too.
    base_now = np.maximum(np.maximum(np.where(stepped, st.after_kw, b.base_kw), b.night_kw),
                          b.weekend_kw)
    n = len(ids)
    explained = held_share(b, st, homes, col["daily_kwh"], intraday)
    for k in ("s_stable", "s_night", "s_level"):
        col[k] = _round_each(6)(col[k] * explained)
    sites = Sites.none(n)
    if reg is not None:
        # Linking by address needs a base measured within the day: from daily totals, two
        # households' like levels are too common to mean one machine.
        steady = ((col["s_flat"] > 0) | (col["s_stable"] > 0)) & intraday
        sites = co_stepping(reg.area, b).merge(same_address(reg.address, base_now, steady,
                                                                homes.base_kw))
    # A site split over meters is judged as the one installation it is: its step, and each
    # meter's base with the other meters' parts added.
    site = sites.meters >= 2
    stepped = stepped | (site & ~sites.by_address)
    s_step = np.where(site & ~sites.by_address, np.maximum(s_step, sites.s_site), s_step)
    load_now = np.where(site, base_now + np.maximum(sites.kw - sites.own, 0.0), base_now)
    # The base above the households' own (0.15 kW in a Chinese home, ~0.5 kW where homes
    # keep a pool pump or a freezer running): full at 1.2 kW more, a small miner's draw.
    s_base = np.clip((load_now - homes.base_kw - 0.15) / 1.2, 0.0, 1.0)
    shape_score = (cfg.w_base * s_base + cfg.w_flat * col["s_flat"]
                   + cfg.w_stable * col["s_stable"] + cfg.w_night * col["s_night"]
                   + cfg.w_level * col["s_level"] + cfg.w_step * s_step)
    if reg is not None:
        ctx = register_context(reg, col["daily_kwh"], base_now,
                               (col["s_flat"] > 0) | (col["s_stable"] > 0),
                               non_home & intraday)
        # The contract and the peers are compared on the day's energy: it counts as far
        # as a held load explains it, as above (a base load compared with the peers'
        # needs no such discount).
        ctx = replace(ctx, s_capacity=_round_each(4)(ctx.s_capacity * explained),
                      s_peer=_round_each(4)(np.where(ctx.peer_on_base, ctx.s_peer,
                                                     ctx.s_peer * explained)))
        s_register = np.maximum(np.maximum(ctx.s_category, ctx.s_capacity),
                                np.maximum(ctx.s_peer, sites.s_site))
        shape_score = shape_score + cfg.w_register * s_register * (1 - shape_score)
        category = reg.category
        always_on = reg.always_on
    else:
        nan = np.full(n, np.nan)
        ctx = Context(np.zeros(n), np.zeros(n), np.zeros(n), nan, nan, np.zeros(n, bool),
                      np.zeros(n, bool))
        category = np.full(n, None, dtype=object)
        always_on = np.zeros(n, dtype=bool)
    score = _round_each(6)(shape_score)
    # A high base alone is a heater or a pump as often as a miner: a lead also needs a mining
    # shape: a flat day, a steady day-to-day total, a base that has held steady since it
    # stepped up, or a plateau held all night or all weekend.
    plateau = np.maximum(b.night_kw, b.weekend_kw) >= 2 * np.maximum(b.base_kw, 0.1)
    shaped = ((col["s_flat"] > 0) | (col["s_stable"] > 0) | (stepped & (st.after_cv <= STEADY_CV))
              | (sites.s_site > 0)
              | plateau)
    suspect = (score >= cfg.suspect_at) & (load_now >= cfg.min_base_kw) & shaped
    est_kw = np.where(stepped, st.kw, np.maximum(0.0, base_now - homes.base_kw))
    est_out: list[float | None] = [None] * n
    units: list[int | None] = [None] * n
    device: list[str | None] = [None] * n
    reason: list[str] = [""] * n
    for i in np.flatnonzero(suspect):
        fit = fit_units(float(est_kw[i]))
        onset_i = (date(1970, 1, 1) + timedelta(days=first + int(st.day[i]))
                   if stepped[i] else None)
        row = {k: float(v[i]) for k, v in col.items()}
        row.update(base_kw=float(base_now[i]), s_base=float(s_base[i]),
                   intraday=bool(intraday[i]), monthly=bool(monthly[i]),
                   non_home=bool(non_home[i]),
                   s_category=float(ctx.s_category[i]), s_capacity=float(ctx.s_capacity[i]),
                   s_peer=float(ctx.s_peer[i]), utilisation=float(ctx.utilisation[i]),
                   peer_ratio=float(ctx.peer_ratio[i]), peers_local=bool(ctx.peers_local[i]),
                   peer_on_base=bool(ctx.peer_on_base[i]),
                   category=category[i], s_site=float(sites.s_site[i]),
                   site_meters=int(sites.meters[i]), site_kw=float(sites.kw[i]),
                   site_by_address=bool(sites.by_address[i]))
        est_out[i] = round(float(est_kw[i]), 2)
        units[i] = fit[1] if fit else None
        device[i] = fit[0].name if fit else None
        row["night_step"] = bool(st.night_only[i])
        reason[i] = reasons(row, float(s_step[i]), float(st.kw[i]), onset_i, fit)
    onset = pa.array(np.where(stepped, first + st.day, 0).astype(np.int32),
                     pa.int32()).cast(pa.date32())
    onset = pc.if_else(pa.array(stepped), onset, pa.nulls(n, pa.date32()))
    r3, r4 = _round_each(3), _round_each(4)
    table = pa.table({
        "meter_id": pa.array(ids, pa.string()), "score": score,
        "verdict": np.where(suspect, "suspect", "normal"),
        "est_kw": pa.array(est_out, pa.float64()), "est_units": pa.array(units, pa.int64()),
        "device": pa.array(device, pa.string()), "onset": onset,
        "reasons": pa.array(reason, pa.string()), "days": col["days"],
        "daily_kwh": r3(col["daily_kwh"]), "base_kw": r3(base_now), "cv": col["cv"],
        "flatness": pa.array(col["flatness"], pa.float64(), from_pandas=True),
        "night_ratio": pa.array(col["night_ratio"], pa.float64(), from_pandas=True),
        "s_base": r4(s_base), "s_flat": r4(col["s_flat"]), "s_stable": r4(col["s_stable"]),
        "s_night": r4(col["s_night"]), "s_level": r4(col["s_level"]), "s_step": r4(s_step),
        "s_category": ctx.s_category, "s_capacity": ctx.s_capacity, "s_peer": ctx.s_peer,
        "utilisation": pa.array(ctx.utilisation, pa.float64(), from_pandas=True),
        "peer_ratio": pa.array(ctx.peer_ratio, pa.float64(), from_pandas=True),
        "always_on_trade": always_on,
        "s_site": sites.s_site, "site_meters": sites.meters, "site_kw": sites.kw,
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
    if r["s_base"] > 0 and r.get("intraday", True):
        parts.append(f"夜间基荷 {r['base_kw']:.1f} kW")
    elif r["s_base"] > 0:
        per = "月" if r.get("monthly") else "日"
        than = "同类用户中位" if r.get("non_home") else "居民日均用电"
        parts.append(f"按{per}电量折算基荷 {r['base_kw']:.1f} kW（超出{than}）")
    if s_step > 0 and onset is not None:
        text = (f"自 {onset:%Y-%m-%d} 起夜间（22:00–08:00）阶跃 +{step_kw:.1f} kW"
                if r.get("night_step") else f"自 {onset:%Y-%m-%d} 起阶跃 +{step_kw:.1f} kW")
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
    if r.get("s_category", 0) > 0:
        parts.append(f"{r['category']}用户全天基荷 {r['base_kw']:.1f} kW，与用电类别不符")
    if r.get("s_capacity", 0) > 0:
        parts.append(f"日均负荷为合同容量的 {r['utilisation']:.0%}")
    if r.get("s_site", 0) > 0:
        text = (f"同一地址 {r['site_meters']} 块电表合计基荷 +{r['site_kw']:.1f} kW"
                if r.get("site_by_address") else
                f"同台区 {r['site_meters']} 块电表同日起增负荷，合计 +{r['site_kw']:.1f} kW")
        site_fit = fit_units(r["site_kw"])
        if site_fit:
            text += f" ≈ {site_fit[1]} 台 {site_fit[0].name}"
        parts.append(text)
    if r.get("s_peer", 0) > 0:
        where = "同台区同类" if r["peers_local"] else "同类"
        what = "最低负荷" if r.get("peer_on_base") else "日用电量"
        parts.append(f"{what}为{where}用户中位数的 {r['peer_ratio']:.1f} 倍")
    return "；".join(parts)
