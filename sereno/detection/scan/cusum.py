"""One-sided CUSUM of daily counts per area against the area's own history.

The permutation scan adjusts for each place's usual level, so a surge over a whole city (all its
locations at once) can look unremarkable to it; this detector watches each municipality's
daily total instead. z = (x − μ) / σ with μ, σ from a baseline before the watched days;
S_t = max(0, S_{t−1} + z_t − k); an alarm when S > h on the last day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class Surge:
    area: int
    first_day: int  # first day of the current excursion (S rose above 0)
    cases: int
    expected: float
    statistic: float  # S on the last day


def arl0(k: float, h: float) -> float:
    """Siegmund's approximation of the in-control average run length (days between false
    alarms of a daily CUSUM): the recurrence interval of an alarm."""
    delta = -k
    b = h + 1.166
    return (math.exp(-2 * delta * b) + 2 * delta * b - 1) / (2 * delta * delta)


def poisson_llr(cases: int, expected: float) -> float:
    if cases <= expected or expected <= 0:
        return 0.0
    return cases * math.log(cases / expected) - (cases - expected)


def cusum(
    counts: np.ndarray, *, baseline: int, monitor: int, k: float, h: float, min_cases: int
) -> list[Surge]:
    """counts: areas × days (the last day is today). Vectorised over areas."""
    days = counts.shape[1]
    monitor = min(monitor, days)
    base = counts[:, max(0, days - monitor - baseline) : days - monitor].astype(np.float64)
    watched = counts[:, days - monitor :].astype(np.float64)
    mean = base.mean(axis=1) if base.shape[1] else np.zeros(counts.shape[0])
    spread = base.std(axis=1) if base.shape[1] > 1 else np.zeros(counts.shape[0])
    sigma = np.maximum.reduce([spread, np.sqrt(mean), np.ones_like(mean)])
    z = (watched - mean[:, None]) / sigma[:, None]
    s = np.zeros(counts.shape[0])
    start = np.zeros(counts.shape[0], dtype=int)
    for t in range(monitor):
        s = np.maximum(0.0, s + z[:, t] - k)
        start = np.where(s == 0, t + 1, start)
    surges = []
    for area in np.flatnonzero(s > h):
        first = int(start[area])
        cases = int(watched[area, first:].sum())
        if cases < min_cases:
            continue
        expected = float(mean[area] * (monitor - first))
        surges.append(Surge(int(area), days - monitor + first, cases, expected, float(s[area])))
    return surges
