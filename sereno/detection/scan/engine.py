"""Prospective space-time permutation scan (Kulldorff et al. 2005), the way SaTScan runs it.

Fast path: the circles never change under permutation (a location keeps its cases), so the
neighbours are sorted once into one flat array; a replicate is then one gather of per-location
"cases in the last w days" sums, a cumulative sum along each centre's neighbours and one
vectorised LLR over every circle × window. Replicates run in worker processes.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

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

TIE_KM = 1e-9
CHUNK = 16


@dataclass(frozen=True)
class Circles:
    """Every admissible circle, as slices of one flat array of sorted neighbours."""

    neighbours: np.ndarray  # concatenated neighbour indices, each centre's sorted by distance
    start: np.ndarray  # per circle: offset of its centre's first neighbour
    end: np.ndarray  # per circle: offset one past its last member
    centre: np.ndarray  # per circle: centre location
    radius_km: np.ndarray  # per circle
    cases: np.ndarray  # per circle: all cases of its locations (fixed under permutation)


def build_circles(inp: ScanInput, params: ScanParams) -> Circles:
    loc_cases = np.bincount(inp.case_location, minlength=inp.n_locations)
    limit = params.max_spatial_share * inp.total_cases
    flat, starts, ends, centres, radii, sizes = [], [], [], [], [], []
    offset = 0
    for centre in range(inp.n_locations):
        dist = distances_from(inp.coords, centre, inp.geographic)
        order = np.argsort(dist, kind="stable")
        d = dist[order]
        if params.max_km is not None:
            keep = d <= params.max_km + TIE_KM
            order, d = order[keep], d[keep]
        cum = np.cumsum(loc_cases[order])
        # A circle ends where the next neighbour is farther: ties enter together.
        group_end = np.flatnonzero(np.append(np.diff(d) > TIE_KM, True)) + 1
        fits = cum[group_end - 1] <= limit
        n_fit = int(np.argmin(fits)) if not fits.all() else fits.size
        group_end = group_end[:n_fit]
        if not group_end.size:
            continue
        used = int(group_end[-1])
        flat.append(order[:used])
        starts.append(np.full(group_end.size, offset))
        ends.append(offset + group_end)
        centres.append(np.full(group_end.size, centre))
        radii.append(d[group_end - 1])
        sizes.append(cum[group_end - 1])
        offset += used
    cat = np.concatenate
    return Circles(
        neighbours=cat(flat) if flat else np.zeros(0, int),
        start=cat(starts) if starts else np.zeros(0, int),
        end=cat(ends) if ends else np.zeros(0, int),
        centre=cat(centres) if centres else np.zeros(0, int),
        radius_km=cat(radii) if radii else np.zeros(0),
        cases=cat(sizes) if sizes else np.zeros(0, int),
    )


@dataclass(frozen=True)
class Grid:
    """What every replicate shares: circles, the date margin and everything derived from it.

    Per-cylinder arrays are laid out windows × positions in the flat neighbour array: the
    position of a circle's last member stands for the circle; positions inside a tie group
    are not circles and get μ = ∞ so they never count. Under permutation only the cases in a
    cylinder change, so μ and its logarithms are computed once: LLR = c·ln c − c·ln μ +
    (C−c)·ln(C−c) − (C−c)·ln(C−μ), with x·ln x looked up for integer x.
    """

    circles: Circles
    n_locations: int
    n_days: int
    windows: int
    total: int
    day_tail: np.ndarray  # cases in the last w days, w = 1..windows (fixed: date margin)
    min_cases: int
    expected: np.ndarray  # windows × positions
    log_expected: np.ndarray
    log_rest: np.ndarray  # ln(C − μ)
    xlogx: np.ndarray  # k·ln k for k = 0..C
    segments: np.ndarray  # flat offsets where a centre's (or a window row's) run starts
    last: np.ndarray  # per circle: position of its last member


def make_grid(inp: ScanInput, params: ScanParams) -> Grid:
    windows = max(1, min(params.max_window_days, inp.n_days))
    per_day = np.bincount(inp.case_day, minlength=inp.n_days)
    day_tail = np.cumsum(per_day[::-1])[:windows]
    circles = build_circles(inp, params)
    total = inp.total_cases
    size = circles.neighbours.size
    last = circles.end - 1
    position_cases = np.zeros(size)
    position_cases[last] = circles.cases
    is_circle = np.zeros(size, dtype=bool)
    is_circle[last] = True
    expected = np.where(is_circle, np.multiply.outer(day_tail, position_cases) / total, np.inf)
    k = np.arange(total + 1, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        xlogx = np.where(k > 0, k * np.log(k), 0.0)
        log_expected = np.where(is_circle & (expected > 0), np.log(expected), 0.0)
        log_rest = np.where(is_circle & (expected < total), np.log(total - expected), 0.0)
    starts = np.unique(circles.start)
    return Grid(
        circles=circles,
        n_locations=inp.n_locations,
        n_days=inp.n_days,
        windows=windows,
        total=total,
        day_tail=day_tail,
        min_cases=params.min_cases,
        expected=expected,
        log_expected=log_expected,
        log_rest=log_rest,
        xlogx=xlogx,
        segments=((np.arange(windows) * size)[:, None] + starts).ravel(),
        last=last,
    )


def location_tails(grid: Grid, case_location: np.ndarray, case_day: np.ndarray) -> np.ndarray:
    """(windows × locations) cases in the last w days."""
    back = grid.n_days - 1 - case_day
    recent = back < grid.windows
    flat = back[recent] * grid.n_locations + case_location[recent]
    counts = np.bincount(flat, minlength=grid.n_locations * grid.windows)
    return np.cumsum(counts.reshape(grid.windows, grid.n_locations), axis=0)


def cylinder_cases(grid: Grid, tails: np.ndarray) -> np.ndarray:
    """Cases in every window × position: prefix sums along each centre's sorted neighbours.

    One segmented cumulative sum over the flat array: each run's first value is lowered by
    the previous run's total, so the running total restarts at every centre and window row.
    """
    values = tails[:, grid.circles.neighbours].ravel()
    if grid.segments.size > 1:
        values[grid.segments[1:]] -= np.add.reduceat(values, grid.segments)[:-1]
    return np.cumsum(values, out=values).reshape(grid.windows, -1)


def llr_table(grid: Grid, tails: np.ndarray) -> np.ndarray:
    """LLR of every window × position; 0 where there is no high-rate cluster."""
    if not grid.circles.end.size:
        return np.zeros((grid.windows, 0))
    cases = cylinder_cases(grid, tails)
    rest = grid.total - cases
    value = grid.xlogx[cases] - cases * grid.log_expected
    value += grid.xlogx[rest] - rest * grid.log_rest
    high = (cases > grid.expected) & (cases >= grid.min_cases)
    return np.where(high, value, 0.0)


def max_llr(grid: Grid, case_location: np.ndarray, case_day: np.ndarray) -> float:
    """The replicate's statistic; the LLR is evaluated only where the rate is high."""
    if not grid.circles.end.size:
        return 0.0
    cases = cylinder_cases(grid, location_tails(grid, case_location, case_day))
    high = np.flatnonzero((cases > grid.expected) & (cases >= grid.min_cases))
    if not high.size:
        return 0.0
    c = cases.ravel()[high]
    rest = grid.total - c
    value = grid.xlogx[c] - c * grid.log_expected.ravel()[high]
    value += grid.xlogx[rest] - rest * grid.log_rest.ravel()[high]
    return float(value.max())


def top_clusters(grid: Grid, inp: ScanInput, table: np.ndarray) -> list[Cluster]:
    """Best cylinder per centre (its first on ties: smallest circle, shortest window), then
    the strongest of those that share no location."""
    c = grid.circles
    if not table.size or table.max() <= 0:
        return []
    table = table[:, grid.last].T  # circles × windows
    flat_best = table.argmax(axis=1)
    best_llr = table[np.arange(table.shape[0]), flat_best]
    best_row: dict[int, int] = {}
    for row in np.flatnonzero(best_llr > 0):
        centre = int(c.centre[row])
        if centre not in best_row or best_llr[row] > best_llr[best_row[centre]]:
            best_row[centre] = int(row)
    tails = location_tails(grid, inp.case_location, inp.case_day)
    candidates = []
    for centre, row in best_row.items():
        members = c.neighbours[c.start[row] : c.end[row]].tolist()
        w = int(flat_best[row])
        cases = int(tails[w, members].sum())
        mu = float(grid.expected[w, grid.last[row]])
        candidates.append(
            Cluster(0, centre, members, float(c.radius_km[row]), w + 1, cases, mu,
                    float(llr(cases, mu, grid.total)))
        )  # fmt: skip
    return strongest_first(candidates)


_GRID: Grid | None = None
_INPUT: ScanInput | None = None


def _init(grid: Grid, inp: ScanInput) -> None:
    global _GRID, _INPUT
    _GRID, _INPUT = grid, inp


def _replicates(seed: int, first: int, last: int) -> tuple[np.ndarray, float]:
    """Replicates first..last-1 and the CPU seconds they took (in whichever process)."""
    assert _GRID is not None and _INPUT is not None
    began = time.process_time()
    out = np.empty(last - first)
    for i in range(first, last):
        days = replicate_days(_INPUT.case_day, seed, i)
        out[i - first] = max_llr(_GRID, _INPUT.case_location, days)
    return out, time.process_time() - began


def _monte_carlo(
    grid: Grid, inp: ScanInput, params: ScanParams, observed: float
) -> tuple[np.ndarray, float]:
    """Replicate maxima in index order, cut at SaTScan's early stop (deterministic), and the
    CPU seconds the replicates took."""
    chunks = [(i, min(i + CHUNK, params.replicates)) for i in range(0, params.replicates, CHUNK)]
    sims: list[np.ndarray] = []
    beats = 0
    cpu = 0.0

    def take(done: tuple[np.ndarray, float]) -> bool:
        nonlocal beats, cpu
        part, seconds = done
        cpu += seconds
        sims.append(part)
        beats += int(np.count_nonzero(reaching(part, observed)))
        return params.early_stop > 0 and beats >= params.early_stop

    workers = min(params.workers or os.cpu_count() or 1, len(chunks))
    if workers <= 1 or observed <= 0:
        _init(grid, inp)
        try:
            for first, last in chunks:
                if take(_replicates(params.seed, first, last)):
                    break
        finally:
            _init(None, None)  # type: ignore[arg-type]
    else:
        # Not fork: the Huey worker has threads, and a forked child could inherit a held lock.
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        with ProcessPoolExecutor(workers, context, initializer=_init, initargs=(grid, inp)) as pool:
            futures = [pool.submit(_replicates, params.seed, a, b) for a, b in chunks]
            for future in futures:
                if take(future.result()):
                    for rest in futures:
                        rest.cancel()
                    break
    all_sims = np.concatenate(sims) if sims else np.zeros(0)
    return all_sims[: monte_carlo_stop(reaching(all_sims, observed), params.early_stop)], cpu


def scan(inp: ScanInput, params: ScanParams) -> ScanResult:
    grid = make_grid(inp, params)
    table = llr_table(grid, location_tails(grid, inp.case_location, inp.case_day))
    clusters = top_clusters(grid, inp, table)
    observed = clusters[0].llr if clusters else 0.0
    sims, cpu = np.zeros(0), 0.0
    if params.replicates and clusters:
        sims, cpu = _monte_carlo(grid, inp, params, observed)
    clusters = assess(clusters, sims, params)
    return ScanResult(
        clusters=clusters,
        replicates_done=int(sims.size),
        replicate_llrs=sims,
        total_cases=inp.total_cases,
        n_locations=inp.n_locations,
        n_days=inp.n_days,
        replicate_cpu_seconds=cpu,
    )
