"""Validation on SaTScan's own sample data, NYCfever (tests/detection/data/README.md).

SaTScan's published result: SaTScan v9.4.4's results file for this data, prospective
space-time permutation, 2001/11/1-24, maximum 50 % of cases and 50 % of the study period (the
notes' settings), 999 replications ended by its sequential procedure after 141. It is the
file `results/res1.txt` of the public course repository
YalePublicHealthSurveillance/Session-6-SATSCAN-space-time (run 2020-02-24). Its three
clusters are in PUBLISHED below; Sereno must report the same clusters with the same
locations, time frame, cases, expected cases (as printed, 2 decimals; the first also to 6 by
hand: 5 visits in those zips × 26 visits on those days / 194) and test statistic to 6
decimals, with p-values within Monte Carlo error of SaTScan's 141 replications.
"""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from sereno.detection.scan import ScanParams, reference_scan, scan
from sereno.detection.scan import satscan as ss

pytestmark = pytest.mark.django_db  # the suite's autouse fixtures clear the cache (a table)

DATA = Path(__file__).parent / "data"
MEMBERS = {"11418", "11415", "11419", "11435", "11416", "11421", "11451", "11375", "11417"}
SATSCAN_REPLICATES = 141  # "terminate the calculations after 141 replications"
# locations, coordinates / radius, time frame, cases, expected, O/E, test statistic, p-value
PUBLISHED = [
    (
        "11418, 11415, 11419, 11435, 11416, 11421, 11451, 11375, 11417",
        "(40.699240 N, 73.831760 W) / 2.90 km", "2001/11/22 to 2001/11/24",
        4, "0.67", 5.97, "3.845418", 0.355,
    ),
    (
        "11372", "(40.751460 N, 73.883070 W) / 0 km", "2001/11/24 to 2001/11/24",
        2, "0.16", 12.13, "3.164201", 0.709,
    ),
    (
        "10464, 10475, 10465, 10469, 10461, 10466, 10462, 10467, 11024, 10472",
        "(40.862770 N, 73.793830 W) / 6.98 km", "2001/11/23 to 2001/11/24",
        5, "1.66", 3.00, "2.192250", 0.979,
    ),
]  # fmt: skip


def nycfever(prm_settings: bool, **overrides):
    ids, coords = ss.read_geo(DATA / "NYCfever.geo")
    rows = ss.read_cas(DATA / "NYCfever.cas")
    study, params = ss.read_prm(DATA / "NYCfever.prm", ScanParams(seed=2001))
    if not prm_settings:  # the notes' settings: 50 % of cases, no km cap, 50 % of the period
        study = replace(study, max_window_days=None, max_temporal_share=0.5)
        params = replace(params, max_km=None, max_spatial_share=0.5)
    inp, start = ss.build_input(ids, coords, rows, study.start, study.end)
    params = replace(params, max_window_days=ss.window_days(study, inp.n_days), **overrides)
    return inp, params, start


def test_reproduces_satscans_published_clusters():
    """Every cluster SaTScan reported, field by field, and no other (all 999 replicates, so
    that the third cluster, p ≈ 0.98, is reported as SaTScan's run reported it)."""
    inp, params, start = nycfever(False, early_stop=0, workers=2)
    assert (inp.n_locations, inp.total_cases, inp.n_days) == (192, 194, 24)
    assert params.max_window_days == 12
    result = scan(inp, params)
    report = ss.report(result, inp, params, start)
    assert len(result.clusters) == len(PUBLISHED) == report.count("Location IDs included")
    for n, (cluster, published) in enumerate(zip(result.clusters, PUBLISHED, strict=True), 1):
        ids, where, frame, cases, expected, o_e, llr, p = published
        assert ", ".join(inp.location_ids[m] for m in cluster.members) == ids
        assert f"{n}.Location IDs included.: {ids}" in report
        assert f"Coordinates / radius..: {where}" in report
        assert f"Time frame............: {frame}" in report
        assert cluster.cases == cases
        assert f"{cluster.expected:.2f}" == expected
        assert abs(cluster.observed_over_expected - o_e) < 0.0051  # SaTScan rounds 12.125 up
        assert f"{cluster.llr:.6f}" == llr
        assert f"Test statistic........: {llr}" in report
        # Both are Monte Carlo estimates: within three standard errors of their difference.
        se = np.sqrt(p * (1 - p) * (1 / SATSCAN_REPLICATES + 1 / result.replicates_done))
        assert abs(cluster.p_value - p) < 3 * se, (n, cluster.p_value, p)
    top = result.clusters[0]
    assert inp.location_ids[top.centre] == "11418" and top.window_days == 3
    assert round(top.expected, 6) == round(5 * 26 / 194, 6) == 0.670103
    assert round(result.clusters[1].expected, 6) == 0.164948


def test_parameter_file_settings_find_the_same_most_likely_cluster():
    """The sample's own .prm (3 km, 7 days) cuts the third cluster but not the first."""
    inp, params, _ = nycfever(True, replicates=0)
    assert params.max_window_days == 7
    top = scan(inp, params).clusters[0]
    assert {inp.location_ids[m] for m in top.members} == MEMBERS
    assert (top.window_days, top.cases, f"{top.llr:.6f}") == (3, 4, "3.845418")


def test_reference_agrees_on_the_observed_clusters():
    inp, params, _ = nycfever(False, replicates=0)
    fast, slow = scan(inp, params), reference_scan(inp, params)
    got = [(sorted(c.members), c.window_days, c.cases, round(c.llr, 9)) for c in fast.clusters]
    assert got == [
        (sorted(c.members), c.window_days, c.cases, round(c.llr, 9)) for c in slow.clusters
    ]


def test_p_value_within_monte_carlo_error():
    """Early stop and two seeds: p-values agree within three binomial standard errors."""
    inp, params, _ = nycfever(False, workers=2)
    full = scan(inp, replace(params, early_stop=0)).clusters[0].p_value
    early = scan(inp, params)
    other = scan(inp, replace(params, seed=7, early_stop=0)).clusters[0].p_value
    assert early.replicates_done < 999  # 50 replicates beat it well before the end
    se = np.sqrt(full * (1 - full) / early.replicates_done)
    assert abs(early.clusters[0].p_value - full) < 3 * se
    assert abs(other - full) < 3 * np.sqrt(full * (1 - full) / 999) * np.sqrt(2)


def test_command_prints_satscan_style_results(capsys):
    call_command(
        "detect", "--satscan-cas", str(DATA / "NYCfever.cas"), "--satscan-geo",
        str(DATA / "NYCfever.geo"), "--prm", str(DATA / "NYCfever.prm"), "--replicates", "99",
        "--workers", "1",
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "Study period.......................: 2001/11/1 to 2001/11/24" in out
    assert "Total number of cases..............: 194" in out
    assert "Coordinates / radius..: (40.699240 N, 73.831760 W) / 2.90 km" in out
    assert "Expected cases........: 0.67" in out
    assert "Observed / expected...: 5.97" in out
    assert "Recurrence interval" in out and "P-value" in out
    assert "at most 3 km" in out


def test_command_rejects_bad_input(tmp_path):
    from django.core.management.base import CommandError

    cas = tmp_path / "x.cas"
    cas.write_text("99999 1 2001/11/02\n")
    with pytest.raises(CommandError, match="missing from the coordinates file"):
        call_command(
            "detect", "--satscan-cas", str(cas), "--satscan-geo", str(DATA / "NYCfever.geo")
        )
    cas.write_text("10001 1 2001/13/02\n")
    with pytest.raises(CommandError, match="not a date"):
        call_command(
            "detect", "--satscan-cas", str(cas), "--satscan-geo", str(DATA / "NYCfever.geo")
        )
    with pytest.raises(CommandError, match="both"):
        call_command("detect", "--satscan-cas", str(cas))
