"""The step search: where a meter's lowest load rose and stayed up, vectorised over a
meters × days matrix.

It runs on three series of each meter: the daily minimum (a load that runs around the
clock), the minimum of the night window 22:00–08:00 and that of the daytime. A miner run
only at the valley tariff lifts the night minimum and leaves the household's daytime low
where it was, so the daily minimum never steps: only the night series shows it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

MIN_SIDE_DAYS = 5  # days on each side of a step, at least


@dataclass(frozen=True)
class Step:
    """The best split of one series per meter, all in kW unless named otherwise."""

    found: np.ndarray  # a split with enough days on both sides exists
    kw: np.ndarray  # mean after minus mean before
    day: np.ndarray  # index of the first day at the new level
    strength: np.ndarray  # step over the within-segment spread
    before_kw: np.ndarray
    after_kw: np.ndarray  # level since the step
    after_cv: np.ndarray  # day-to-day spread of that level since the step (robust)
    held: np.ndarray  # share of the days since the step on which the level stayed up
    energy_rise: np.ndarray  # rise of the mean energy across the step (kWh per day)


def running_median3(grid: np.ndarray, nanmedian: Callable[[np.ndarray], np.ndarray]
                    ) -> np.ndarray:
    """Each day through the median of it and its neighbours: one reboot dip or one holiday
    must neither hide a miner nor fake a step. Missing days stay missing."""
    padded = np.pad(grid, ((0, 0), (1, 1)), constant_values=np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        smooth = nanmedian(np.stack([padded[:, :-2], padded[:, 1:-1], padded[:, 2:]], axis=-1))
    smooth[np.isnan(grid)] = np.nan
    return smooth


def best_step(raw: np.ndarray, energy: np.ndarray,
              nanmedian: Callable[[np.ndarray], np.ndarray]) -> Step:
    """The split of each row of ``raw`` (through its running median) into a before and an
    after that explains most of its variance (the least-squares two-segment fit: the jump
    weighted by √(n₁·n₂/n)), with at least MIN_SIDE_DAYS days on each side. Weighting by
    the segments' sizes keeps the split on the day the level changed: the bare difference
    of the means prefers to cut one noisy day off either end.

    The running median can hold the first day at the new level back when the next day has
    a reboot dip (the median of low, high, dipped is the dip): where the raw value of the
    last day before the split is already up, the onset is that day."""
    smooth = running_median3(raw, nanmedian)
    n_meters, n_days = smooth.shape
    if n_days < 2:
        zero = np.zeros(n_meters)
        return Step(np.zeros(n_meters, bool), zero, np.zeros(n_meters, np.int64), zero, zero,
                    zero, np.ones(n_meters), zero, zero)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        filled = np.where(np.isnan(smooth), 0.0, smooth)
        have = (~np.isnan(smooth)).astype(float)
        c_sum, c_n = np.cumsum(filled, axis=1), np.cumsum(have, axis=1)
        tot_sum, tot_n = c_sum[:, -1:], c_n[:, -1:]
        n1, n2 = c_n[:, :-1], tot_n - c_n[:, :-1]
        before = c_sum[:, :-1] / n1
        after = (tot_sum - c_sum[:, :-1]) / n2
        ok = (n1 >= MIN_SIDE_DAYS) & (n2 >= MIN_SIDE_DAYS)
        jump = np.where(ok, after - before, 0.0)
        fit = np.abs(jump) * np.sqrt(np.where(ok, n1 * n2 / np.maximum(tot_n, 1.0), 0.0))
        found = np.any(ok & (jump != 0), axis=1)
        k = np.argmax(fit, axis=1)  # the last day before the step
        rows = np.arange(n_meters)
        jump_k, before_k, after_k = jump[rows, k], before[rows, k], after[rows, k]
        later = np.arange(n_days)[None, :] > k[:, None]
        seg = np.where(~later, before_k[:, None], after_k[:, None])
        spread = nanmedian(np.abs(smooth - seg)) * 1.4826
        strength = np.abs(jump_k) / np.maximum(np.nan_to_num(spread), 0.05)
        # Robust (MAD) spread since the step: a reboot day or two must not make a steady
        # level look unsteady.
        tail = np.where(later, smooth, np.nan)
        tail_n = np.sum(~np.isnan(tail), axis=1)
        tail_med = nanmedian(tail)
        tail_mad = nanmedian(np.abs(tail - tail_med[:, None]))
        after_cv = np.where(tail_n > 0, 1.4826 * tail_mad / np.maximum(tail_med, 0.05), 1.0)
        # How much of the time since the step the level stayed up: a miner keeps running;
        # a heater or a visitor's week lifts it and lets it fall back. A day counts as up
        # when its own value or its running median is: two reboot dips a day apart pull the
        # median of the day between them down, though that day ran at the new level.
        up = later & ~np.isnan(smooth)
        level = np.fmax(smooth, raw)
        risen = up & (level >= (before_k + 0.5 * jump_k)[:, None])
        held = np.where(up.sum(axis=1) > 0, risen.sum(axis=1) / np.maximum(up.sum(axis=1), 1),
                        0.0)
        e_before = np.where(~later, energy, np.nan)
        e_after = np.where(later, energy, np.nan)
        both = np.any(~np.isnan(e_before), axis=1) & np.any(~np.isnan(e_after), axis=1)
        rise = np.where(both, np.nanmean(e_after, axis=1) - np.nanmean(e_before, axis=1), 0.0)
        first_up = np.argmax(up, axis=1)
        raw_k = raw[rows, k]
        early = (~np.isnan(raw_k) & (raw_k >= before_k + 0.5 * jump_k) & (jump_k > 0)
                 & (first_up == k + 1))
    zero = np.zeros(n_meters)
    return Step(
        found=found,
        kw=np.where(found, jump_k, 0.0),
        # The first day seen at the new level (the next bill, for monthly data).
        day=np.where(found & up.any(axis=1), np.where(early, k, first_up), 0),
        strength=np.where(found, strength, 0.0),
        before_kw=np.where(found, before_k, zero),
        after_kw=np.where(found, after_k, zero),
        after_cv=np.where(found, after_cv, 1.0),
        held=np.where(found, held, 0.0),
        energy_rise=np.where(found, np.nan_to_num(rise), 0.0),
    )


def steadiness(after_cv: Any) -> np.ndarray:
    """How steady a level has been since its step, in [0, 1]: a machine holds its draw to a
    few per cent (full at ≤ 10 % day-to-day spread, none at 30 %); a household's added
    appliance or heating does not."""
    return np.clip((0.3 - np.asarray(after_cv, dtype=np.float64)) / 0.2, 0.0, 1.0)
