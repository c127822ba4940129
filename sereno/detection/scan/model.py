"""Inputs, parameters and results shared by the fast engine and the reference implementation."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class ScanInput:
    """Cases on a location × day grid: one entry per case (a count of 3 is three entries)."""

    location_ids: list[str]
    coords: np.ndarray  # (n, 2): latitude, longitude in degrees (or x, y when not geographic)
    case_location: np.ndarray  # int index into location_ids, one per case
    case_day: np.ndarray  # int day 0..n_days-1, one per case
    n_days: int
    geographic: bool = True

    @property
    def n_locations(self) -> int:
        return len(self.location_ids)

    @property
    def total_cases(self) -> int:
        return int(self.case_day.size)


@dataclass(frozen=True)
class ScanParams:
    max_spatial_share: float = 0.5
    max_km: float | None = None
    max_window_days: int = 7
    min_cases: int = 2
    replicates: int = 999
    early_stop: int = 50  # stop once this many replicates reach the observed LLR; 0: never
    seed: int = 12345
    workers: int = 1
    interval_days: int = 1  # days between two prospective runs (recurrence interval)


@dataclass
class Cluster:
    rank: int
    centre: int
    members: list[int]
    radius_km: float
    window_days: int
    cases: int
    expected: float
    llr: float
    p_value: float | None = None
    recurrence_days: float | None = None

    @property
    def observed_over_expected(self) -> float:
        return self.cases / self.expected if self.expected else float("inf")


@dataclass
class ScanResult:
    clusters: list[Cluster]
    replicates_done: int
    replicate_llrs: np.ndarray = field(repr=False)
    total_cases: int = 0
    n_locations: int = 0
    n_days: int = 0
    replicate_cpu_seconds: float = 0.0  # summed over worker processes


def distances_from(coords: np.ndarray, centre: int, geographic: bool) -> np.ndarray:
    """Distances in km (great circle) from one location to every location."""
    if not geographic:
        return np.hypot(*(coords - coords[centre]).T)
    lat = np.radians(coords[:, 0])
    lon = np.radians(coords[:, 1])
    dlat = lat - lat[centre]
    dlon = lon - lon[centre]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[centre]) * np.cos(lat) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def llr(cases: np.ndarray, expected: np.ndarray, total: int) -> np.ndarray:
    """Kulldorff's space-time permutation log likelihood ratio (Poisson approximation)."""
    c = np.asarray(cases, dtype=np.float64)
    mu = np.asarray(expected, dtype=np.float64)
    rest = total - c
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = c * np.log(c / mu)
        outside = np.where(rest > 0, rest * np.log(rest / (total - mu)), 0.0)
    return inside + outside


def replicate_days(case_day: np.ndarray, seed: int, index: int) -> np.ndarray:
    """Replicate `index`: the dates shuffled among the cases (both margins stay fixed)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))
    return rng.permutation(case_day)


def monte_carlo_stop(beats: np.ndarray, early_stop: int) -> int:
    """How many replicates count: all, or up to the one where `early_stop` have beaten."""
    if early_stop <= 0:
        return int(beats.size)
    running = np.cumsum(beats)
    hit = np.flatnonzero(running >= early_stop)
    return int(hit[0]) + 1 if hit.size else int(beats.size)


def reaching(sims: np.ndarray, value: float) -> np.ndarray:
    """Which replicate maxima reach `value` (equal within rounding counts as reaching)."""
    return np.asarray(sims) >= value - 1e-9 * max(1.0, abs(value))


def p_value(observed: float, sims: np.ndarray, stopped_early: bool = False) -> float:
    """rank / (R + 1); after an early stop SaTScan reports beaten / n instead."""
    beaten = int(np.count_nonzero(reaching(sims, observed)))
    if stopped_early:
        return min(1.0, beaten / sims.size)
    return (beaten + 1) / (sims.size + 1)


def recurrence_days(p: float, interval_days: int) -> float:
    """Expected days between clusters this strong under the null when run every interval."""
    p_day = 1.0 - (1.0 - p) ** (1.0 / interval_days)
    return 1.0 / p_day if p_day > 0 else float("inf")


def strongest_first(candidates: list[Cluster]) -> list[Cluster]:
    """Each centre's best cylinder → the clusters: strongest first, none sharing a location.

    On an equal LLR (the same cases, counted by circles round different centres) the circle
    with fewer locations comes first, then the smaller one, then the lower centre. That is a
    choice where SaTScan's order is unspecified; it gives SaTScan's published NYCfever result,
    where location 11372 alone is reported rather than the circle round its empty neighbour.
    """
    order = sorted(
        candidates, key=lambda c: (-round(c.llr, 9), len(c.members), c.radius_km, c.centre)
    )
    chosen: list[Cluster] = []
    taken: set[int] = set()
    for cluster in order:
        if taken.intersection(cluster.members):
            continue
        cluster.rank = len(chosen) + 1
        chosen.append(cluster)
        taken.update(cluster.members)
    return chosen


UNTESTED_SHOWN = 10  # clusters reported when no replicate was run (as SaTScan)


def assess(clusters: list[Cluster], sims: np.ndarray, params: ScanParams) -> list[Cluster]:
    """P-values and recurrence intervals, and the clusters worth reporting, as SaTScan does:
    the most likely always; a secondary one only if some replicate stayed below it (p < 1),
    or, with no replicates, the first ten."""
    stopped_early = sims.size < params.replicates
    for cluster in clusters:
        cluster.p_value = p_value(cluster.llr, sims, stopped_early)
        cluster.recurrence_days = recurrence_days(cluster.p_value, params.interval_days)
    if not sims.size:
        return clusters[:UNTESTED_SHOWN]
    return [c for i, c in enumerate(clusters) if i == 0 or not reaching(sims, c.llr).all()]
