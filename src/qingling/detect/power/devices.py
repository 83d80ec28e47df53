"""Wall power of mining devices (DETECTION.md B), for unit-count estimates."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Device:
    name: str
    kw: float


DEVICES = (
    Device("S9", 1.35),
    Device("GPU 矿机", 1.7),
    Device("S19", 3.15),
    Device("S21", 3.55),
    Device("水冷矿机", 5.3),
)


def fit_units(kw: float) -> tuple[Device, int, float] | None:
    """The device whose whole multiple best explains ``kw``: (device, units, relative error).
    Prefers the bigger device when two fit equally (fewer, larger machines are likelier)."""
    if kw < 0.8:
        return None
    best: tuple[Device, int, float] | None = None
    for d in DEVICES:
        units = max(1, round(kw / d.kw))
        err = abs(kw - units * d.kw) / kw
        if best is None or err < best[2] - 0.02 or (abs(err - best[2]) <= 0.02 and units < best[1]):
            best = (d, units, err)
    return best
