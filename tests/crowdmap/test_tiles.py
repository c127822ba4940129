"""Filtered viewports read the rollup by tile: the tiles of a box hold every row in it, and
counts read that way stay exact, at tile borders and at the viewport's edge."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from sereno.crowdmap import selectors
from sereno.crowdmap.services import CUBE_FULL, POINTS, TILE_DEGREES, tile_of
from tests.crowdmap.helpers import naive_count
from tests.crowdmap.test_map_api import get_map, spread


@pytest.mark.django_db
def test_the_tiles_of_a_box_hold_every_point_in_it():
    rng = random.Random(3)
    for _ in range(2000):
        resolution = rng.choice(list(TILE_DEGREES))
        side = TILE_DEGREES[resolution]
        west, south = rng.uniform(-89.5, -84), rng.uniform(12.9, 16)
        if rng.random() < 0.5:  # edges on the grid's lines
            west = round((west + 180) / side) * side - 180
            south = round((south + 90) / side) * side - 90
        box = (west, south, west + rng.uniform(0, 3 * side), south + rng.uniform(0, 3 * side))
        tiles = set(selectors.tiles_of_box(resolution, box))
        for lat, lon in [
            (box[1], box[0]), (box[3], box[2]), (box[1], box[2]), (box[3], box[0]),
            (rng.uniform(box[1], box[3]), rng.uniform(box[0], box[2])),
        ]:  # fmt: skip
            assert tile_of(resolution, lat, lon) in tiles, (resolution, box, lat, lon)
        # Nothing far outside the box is in its tiles.
        assert tile_of(resolution, box[3] + 1.01 * side, box[2]) not in tiles


@pytest.mark.django_db
def test_filtered_counts_read_by_tile_are_exact(client, moderator):
    reports = spread(moderator, n=60, seed=5)
    today = timezone.localdate()
    filter_sets = [
        {"category": ["violencia-letal"]},
        {"date_from": (today - timedelta(days=20)).isoformat()},
        {"category": ["robo-asalto"], "date_to": (today - timedelta(days=5)).isoformat()},
    ]
    point = reports[0]  # published (spread leaves every fifth one unpublished)
    point.refresh_from_db()
    assert point.status == "published"
    viewports = [
        ("-87.30,14.00,-87.10,14.20", 12),  # edges on the 0.1-degree grid
        ("-88.50,15.00,-87.50,16.00", 9),  # on the 0.5-degree grid
        ("-87.45,13.95,-86.95,14.25", 11),
        # The edge through a public point: it counts (edges are inclusive).
        (f"{point.public_longitude},{point.public_latitude},{point.public_longitude + 0.02},"
         f"{point.public_latitude + 0.015}", 16),
        (f"{point.public_longitude - 0.3},{point.public_latitude - 0.2},"
         f"{point.public_longitude},{point.public_latitude}", 12),
    ]  # fmt: skip
    used = 0
    for bbox, zoom in viewports:
        for filters in filter_sets:
            body = get_map(client, bbox=bbox, zoom=zoom, **filters)
            expected = naive_count(
                bbox, categories=filters.get("category"),
                date_from=_date(filters.get("date_from")), date_to=_date(filters.get("date_to")),
            )  # fmt: skip
            assert body["total"] == expected, (bbox, zoom, filters)
            query = selectors.map_query(
                bbox=bbox, category=filters.get("category"),
                date_from=_date(filters.get("date_from")), date_to=_date(filters.get("date_to")),
            )  # fmt: skip
            box = selectors.parse_bbox(bbox)
            used += selectors._by_tile(query, POINTS, box, CUBE_FULL) is not None
    assert used == len(viewports) * len(filter_sets)  # the tile path was the one measured


def _date(text):
    from datetime import date

    return date.fromisoformat(text) if text else None
