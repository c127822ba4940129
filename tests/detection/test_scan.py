"""The fast scan against the straightforward one, and the properties SaTScan's scan has."""

from dataclasses import replace

import numpy as np
import pytest

from sereno.detection.scan import ScanInput, ScanParams, reference_scan, scan
from sereno.detection.scan.model import llr, recurrence_days

pytestmark = pytest.mark.django_db  # the suite's autouse fixtures clear the cache (a table)


def random_input(seed: int, n_loc=25, n_days=20, n_cases=150, grid=False, cluster=0):
    rng = np.random.default_rng(seed)
    if grid:  # integer coordinates: many locations at equal distances (ties)
        coords = rng.integers(0, 6, size=(n_loc, 2)).astype(float) + rng.integers(0, 2, (n_loc, 1))
        coords = np.unique(coords, axis=0)
        n_loc = len(coords)
    else:
        coords = rng.uniform(0, 30, size=(n_loc, 2))
    loc = rng.integers(0, n_loc, n_cases)
    day = rng.integers(0, n_days, n_cases)
    if cluster:
        near = np.argsort(np.hypot(*(coords - coords[0]).T))[:3]
        loc = np.concatenate([loc, rng.choice(near, cluster)])
        day = np.concatenate([day, rng.integers(n_days - 2, n_days, cluster)])
    ids = [f"L{i}" for i in range(n_loc)]
    return ScanInput(ids, coords, loc, day, n_days, geographic=False)


def assert_same(fast, slow):
    assert len(fast.clusters) == len(slow.clusters)
    for a, b in zip(fast.clusters, slow.clusters, strict=True):
        assert sorted(a.members) == sorted(b.members)
        assert (a.centre, a.window_days, a.cases) == (b.centre, b.window_days, b.cases)
        assert a.expected == pytest.approx(b.expected, rel=1e-12)
        assert a.llr == pytest.approx(b.llr, rel=1e-12)
        assert a.radius_km == pytest.approx(b.radius_km)
        assert a.p_value == b.p_value
    assert fast.replicates_done == slow.replicates_done
    np.testing.assert_allclose(fast.replicate_llrs, slow.replicate_llrs, rtol=1e-9)


@pytest.mark.parametrize(
    ("seed", "grid", "max_km", "share", "window"),
    [
        (1, False, None, 0.5, 7),
        (2, True, None, 0.5, 5),
        (3, False, 8.0, 0.3, 10),
        (4, True, 2.0, 0.5, 3),
    ],
)
def test_fast_scan_equals_recounting_every_cylinder(seed, grid, max_km, share, window):
    inp = random_input(seed, grid=grid, cluster=6)
    params = ScanParams(
        max_spatial_share=share, max_km=max_km, max_window_days=window, replicates=39, seed=seed
    )
    assert_same(scan(inp, params), reference_scan(inp, params))


def test_injected_cluster_is_the_most_likely_and_significant():
    inp = random_input(7, n_loc=40, n_cases=300, cluster=15)
    result = scan(inp, ScanParams(replicates=199, seed=3))
    top = result.clusters[0]
    assert 0 in top.members and top.window_days <= 3
    assert top.p_value == 1 / 200
    assert top.recurrence_days == pytest.approx(200)


def test_secondary_clusters_share_no_location_and_weaken():
    result = scan(random_input(8, n_loc=40, n_cases=400), ScanParams(replicates=0))
    seen: set[int] = set()
    for cluster in result.clusters:
        assert not seen.intersection(cluster.members)
        seen.update(cluster.members)
    llrs = [c.llr for c in result.clusters]
    assert llrs == sorted(llrs, reverse=True) and len(llrs) > 1


def test_cluster_fields_follow_the_statistic():
    inp = random_input(9, cluster=8)
    result = scan(inp, ScanParams(replicates=0, max_window_days=4))
    for cluster in result.clusters:
        in_circle = np.isin(inp.case_location, cluster.members)
        recent = inp.case_day >= inp.n_days - cluster.window_days
        assert cluster.cases == np.count_nonzero(in_circle & recent) >= 2
        expected = in_circle.sum() * recent.sum() / inp.total_cases
        assert cluster.expected == pytest.approx(expected)
        assert cluster.cases > cluster.expected
        assert cluster.llr == pytest.approx(float(llr(cluster.cases, expected, inp.total_cases)))
        assert in_circle.sum() <= 0.5 * inp.total_cases


def test_circles_respect_the_km_cap():
    inp = random_input(10, n_loc=60, cluster=10)
    for cluster in scan(inp, ScanParams(replicates=0, max_km=4.0)).clusters:
        assert cluster.radius_km <= 4.0
        dist = np.hypot(*(inp.coords[cluster.members] - inp.coords[cluster.centre]).T)
        assert dist.max() <= 4.0


def test_same_seed_same_answer_and_two_processes_agree():
    inp = random_input(11, n_cases=300, cluster=5)
    params = ScanParams(replicates=99, seed=5, early_stop=0)
    one = scan(inp, params)
    two = scan(inp, replace(params, workers=2))
    np.testing.assert_array_equal(one.replicate_llrs, two.replicate_llrs)
    assert one.clusters[0].p_value == two.clusters[0].p_value
    other = scan(inp, replace(params, seed=6))
    assert not np.array_equal(one.replicate_llrs, other.replicate_llrs)


def test_early_stop_after_fifty_replicates_beat_the_observed():
    inp = random_input(12, n_cases=200)  # no cluster: most replicates beat it
    result = scan(inp, ScanParams(replicates=999, seed=1, workers=2))
    top = result.clusters[0]
    assert result.replicates_done < 999
    beaten = np.count_nonzero(result.replicate_llrs >= top.llr - 1e-9)
    assert beaten == 50
    assert top.p_value == pytest.approx(50 / result.replicates_done)
    full = scan(inp, ScanParams(replicates=999, seed=1, early_stop=0))
    np.testing.assert_array_equal(
        full.replicate_llrs[: result.replicates_done], result.replicate_llrs
    )


def test_recurrence_interval_for_daily_and_weekly_runs():
    assert recurrence_days(0.001, 1) == pytest.approx(1000)
    assert recurrence_days(0.01, 7) == pytest.approx(1 / (1 - 0.99 ** (1 / 7)))


def test_cusum_alarms_on_a_rise_and_not_on_steady_counts():
    from sereno.detection.scan.cusum import arl0, cusum

    rng = np.random.default_rng(4)
    counts = rng.poisson(3.0, size=(20, 120))
    counts[7, -4:] += 12  # one area rises over its last four days
    surges = cusum(counts, baseline=90, monitor=14, k=0.5, h=5.0, min_cases=5)
    assert [s.area for s in surges] == [7]
    assert surges[0].first_day >= 120 - 14 and surges[0].cases > surges[0].expected + 40
    assert arl0(0.5, 5.0) == pytest.approx(938, abs=1)
