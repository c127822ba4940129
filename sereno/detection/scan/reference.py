"""The straightforward scan: every cylinder recounted from the case list.

Slow on purpose and written to be obviously right; tests compare the fast engine with it and
the benchmark measures the speed-up. It uses the same replicates (same permutations).
"""

from __future__ import annotations

import numpy as np

from .model import (
    Cluster,
    ScanInput,
    ScanParams,
    ScanResult,
    assess,
    distances_from,
    llr,
    monte_carlo_stop,
    reaching,
    replicate_days,
    strongest_first,
)


def _circles(inp: ScanInput, params: ScanParams) -> list[tuple[int, float, np.ndarray]]:
    """(centre, radius, member mask) for each admissible circle, smallest first per centre."""
    circles = []
    for centre in range(inp.n_locations):
        dist = distances_from(inp.coords, centre, inp.geographic)
        for radius in np.unique(dist):
            if params.max_km is not None and radius > params.max_km + 1e-9:
                break
            inside = dist <= radius + 1e-9
            if np.isin(inp.case_location, np.flatnonzero(inside)).sum() > (
                params.max_spatial_share * inp.total_cases
            ):
                break
            circles.append((centre, float(radius), inside))
    return circles


def _cylinders(inp: ScanInput, params: ScanParams, circles, case_day: np.ndarray):
    """Yield (circle index, window, cases, expected, llr) for each high-rate cylinder."""
    total = inp.total_cases
    windows = max(1, min(params.max_window_days, inp.n_days))
    for index, (_centre, _radius, inside) in enumerate(circles):
        in_circle = inside[inp.case_location]
        for w in range(1, windows + 1):
            in_window = case_day >= inp.n_days - w
            cases = int(np.count_nonzero(in_circle & in_window))
            expected = np.count_nonzero(in_circle) * np.count_nonzero(in_window) / total
            if cases > expected and cases >= params.min_cases:
                yield index, w, cases, expected, float(llr(cases, expected, total))


def _best_llr(inp, params, circles, case_day) -> float:
    return max((c[4] for c in _cylinders(inp, params, circles, case_day)), default=0.0)


def reference_scan(inp: ScanInput, params: ScanParams) -> ScanResult:
    circles = _circles(inp, params)
    best: dict[int, tuple] = {}
    for cyl in _cylinders(inp, params, circles, inp.case_day):
        centre = circles[cyl[0]][0]
        if centre not in best or cyl[4] > best[centre][4]:
            best[centre] = cyl
    clusters = strongest_first(
        [
            Cluster(0, circles[i][0], [int(m) for m in np.flatnonzero(circles[i][2])],
                    circles[i][1], w, cases, expected, value)
            for i, w, cases, expected, value in best.values()
        ]
    )  # fmt: skip
    sims = np.zeros(0)
    if params.replicates and clusters:
        observed = clusters[0].llr
        values = []
        for i in range(params.replicates):
            values.append(
                _best_llr(inp, params, circles, replicate_days(inp.case_day, params.seed, i))
            )
            beaten = reaching(values, observed)
            if params.early_stop and beaten.sum() >= params.early_stop:
                break
        sims = np.array(values)
        sims = sims[: monte_carlo_stop(reaching(sims, observed), params.early_stop)]
    clusters = assess(clusters, sims, params)
    return ScanResult(clusters, int(sims.size), sims, inp.total_cases, inp.n_locations, inp.n_days)
