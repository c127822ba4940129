"""Shared helpers for the map tests: naive recounts to compare the API and rollup against."""

from sereno.crowdmap.models import CategorySet, MapCount
from sereno.crowdmap.services import map_rebuild
from sereno.reports.models import Report


def naive_count(bbox, *, categories=None, department=None, date_from=None, date_to=None) -> int:
    """Published reports whose public point is in bbox, straight from the reports table."""
    from sereno.crowdmap import selectors

    query = selectors.map_query(bbox=bbox, category=categories, department=department,
                                date_from=date_from, date_to=date_to)  # fmt: skip
    return selectors.public_reports(query).count()


def rollup_rows() -> dict:
    rows = MapCount.objects.exclude(count=0).values_list(
        "cube",
        "resolution",
        "cell",
        "day",
        "catset",
        "department",
        "municipality",
        "count",
        "latitude",
        "longitude",
        "h3_r4",
        "h3_r6",
        "h3_r8",
        "tile",
    )
    keys = dict(CategorySet.objects.values_list("id", "key"))
    keys[0] = ""
    return {(c, r, cell, d, keys[cs], de, mu): (n, la, lo, a, b, e, t)
            for c, r, cell, d, cs, de, mu, n, la, lo, a, b, e, t in rows}  # fmt: skip


def assert_rollup_exact() -> None:
    maintained = rollup_rows()
    map_rebuild()
    rebuilt = rollup_rows()
    assert maintained == rebuilt
    assert Report.objects.exists()
