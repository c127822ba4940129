import math

import h3
import pytest

from sereno.geo import gazetteer
from sereno.geo.areas import import_areas
from sereno.geo.services import INDEX_RESOLUTIONS, PUBLIC_RESOLUTION, locate, public_point
from sereno.lib.errors import InvalidInput

from .helpers import DEPARTMENTS, MUNICIPALITIES

pytestmark = pytest.mark.django_db

EXACT = (14.0818, -87.2068)  # Tegucigalpa
PRECISIONS = list(PUBLIC_RESOLUTION)


def km(a, b):
    return h3.great_circle_distance(a, b, unit="km")


def farthest_vertex_km(cell):
    centre = h3.cell_to_latlng(cell)
    return max(km(centre, vertex) for vertex in h3.cell_to_boundary(cell))


@pytest.mark.parametrize("precision", PRECISIONS)
def test_sensitive_reports_are_never_finer(precision):
    normal = public_point(*EXACT, precision=precision, sensitive=False)[2]
    sensitive = public_point(*EXACT, precision=precision, sensitive=True)[2]
    assert sensitive <= normal
    assert sensitive <= 7


def test_exact_sensitive_is_coarser_than_exact_normal():
    assert public_point(*EXACT, precision="exact", sensitive=False)[2] == 9
    assert public_point(*EXACT, precision="exact", sensitive=True)[2] == 7


@pytest.mark.parametrize("sensitive", [False, True])
@pytest.mark.parametrize("precision", PRECISIONS)
def test_public_point_differs_and_stays_within_its_cell(precision, sensitive):
    plat, plon, resolution, _ = public_point(*EXACT, precision=precision, sensitive=sensitive)
    assert (plat, plon) != EXACT
    cell = h3.latlng_to_cell(*EXACT, resolution)
    assert h3.latlng_to_cell(plat, plon, resolution) == cell
    assert km(EXACT, (plat, plon)) <= farthest_vertex_km(cell) + 0.001


@pytest.mark.parametrize("sensitive", [False, True])
@pytest.mark.parametrize("precision", PRECISIONS)
def test_snapping_is_deterministic(precision, sensitive):
    first = public_point(*EXACT, precision=precision, sensitive=sensitive)
    assert all(
        public_point(*EXACT, precision=precision, sensitive=sensitive) == first for _ in range(5)
    )


def test_nearby_points_in_one_cell_share_the_public_point_and_index_cells():
    cell = h3.latlng_to_cell(*EXACT, 7)
    centre = h3.cell_to_latlng(cell)
    a = (centre[0] + 0.002, centre[1] - 0.001)
    b = (centre[0] - 0.001, centre[1] + 0.002)
    assert h3.latlng_to_cell(*a, 7) == h3.latlng_to_cell(*b, 7) == cell
    assert h3.latlng_to_cell(*a, 9) != h3.latlng_to_cell(*b, 9)
    pa = public_point(*a, precision="exact", sensitive=True)
    pb = public_point(*b, precision="exact", sensitive=True)
    assert pa == pb  # nothing finer than the res-7 cell survives, not even in the index cells
    assert public_point(*a, precision="exact", sensitive=False) != public_point(
        *b, precision="exact", sensitive=False
    )


@pytest.mark.parametrize("sensitive", [False, True])
@pytest.mark.parametrize("precision", PRECISIONS)
def test_index_cells_are_consistent_with_the_public_cell(precision, sensitive):
    plat, plon, resolution, cells = public_point(*EXACT, precision=precision, sensitive=sensitive)
    assert set(cells) == set(INDEX_RESOLUTIONS)
    public_cell = h3.latlng_to_cell(plat, plon, resolution)
    for res, value in cells.items():
        cell = h3.int_to_str(value)
        assert h3.get_resolution(cell) == res
        if res <= resolution:
            assert cell == h3.cell_to_parent(public_cell, res)
        else:  # finer bands hold the public point's cell, whose ancestor is the public cell
            assert h3.cell_to_parent(cell, resolution) == public_cell
            assert cell == h3.latlng_to_cell(plat, plon, res)


@pytest.mark.parametrize(
    ("lat", "lon"), [(91, 0), (0, 181), (math.nan, 0), (0, math.inf), ("x", 0), (None, 0)]
)
def test_public_point_rejects_impossible_coordinates(lat, lon):
    with pytest.raises(InvalidInput):
        public_point(lat, lon, precision="place", sensitive=False)


def test_unknown_precision_falls_back_to_place():
    assert public_point(*EXACT, precision="?", sensitive=False)[2] == PUBLIC_RESOLUTION["place"][0]


def test_locate_without_areas_uses_the_gazetteer():
    location = locate(*EXACT, precision="place", sensitive=False)
    assert (location.latitude, location.longitude) == EXACT
    assert location.department_code == "HN08"
    assert location.municipality_code == ""
    assert location.place_name == "Tegucigalpa"
    assert location.public_resolution == 8
    assert (location.public_latitude, location.public_longitude, 8, location.cells) == (
        public_point(*EXACT, precision="place", sensitive=False)
    )


def test_locate_with_imported_areas(write_json):
    import_areas(write_json(DEPARTMENTS, "adm1.geojson"))
    import_areas(write_json(MUNICIPALITIES, "adm2.geojson"))
    location = locate(*EXACT, precision="exact", sensitive=True, place_name="Colonia Kennedy")
    assert (location.department_code, location.municipality_code) == ("HN08", "HN0802")
    assert location.place_name == "Colonia Kennedy"
    assert location.public_resolution == 7


def test_locate_names_no_place_finer_than_the_precision(write_json):
    import_areas(write_json(MUNICIPALITIES))
    location = locate(*EXACT, precision="department", sensitive=False)
    assert (location.department_code, location.municipality_code) == ("HN08", "")
    assert location.place_name == ""
    assert locate(*EXACT, precision="municipality", sensitive=False).place_name == ""
    assert locate(*EXACT, precision="municipality", sensitive=False).municipality_code == "HN0802"


def test_place_name_comes_from_the_public_point(monkeypatch):
    named = []
    original = gazetteer.nearest_place

    def spy(lat, lon, max_km=50):
        if max_km == 50:  # department_at asks with 60 km, from the exact point: that is coarse
            named.append((lat, lon))
        return original(lat, lon, max_km)

    monkeypatch.setattr(gazetteer, "nearest_place", spy)
    location = locate(*EXACT, precision="exact", sensitive=True)
    assert named == [(location.public_latitude, location.public_longitude)]


def _random_points(n, seed):
    rng = __import__("random").Random(seed)
    return [(rng.uniform(13.0, 16.5), rng.uniform(-89.3, -83.2)) for _ in range(n)]


@pytest.mark.parametrize("sensitive", [False, True])
@pytest.mark.parametrize("precision", PRECISIONS)
def test_public_point_is_the_centre_of_the_points_cell(precision, sensitive):
    normal, coarse = PUBLIC_RESOLUTION[precision]
    expected_resolution = coarse if sensitive else normal
    for lat, lon in _random_points(200, seed=PRECISIONS.index(precision) * 2 + sensitive):
        plat, plon, resolution, cells = public_point(
            lat, lon, precision=precision, sensitive=sensitive
        )
        assert resolution == expected_resolution
        cell = h3.latlng_to_cell(lat, lon, resolution)
        centre = h3.cell_to_latlng(cell)
        assert (plat, plon) == (round(centre[0], 6), round(centre[1], 6))
        assert (plat, plon) != (round(lat, 6), round(lon, 6))
        # Everything published or indexed is a function of that cell alone.
        assert (plat, plon, resolution, cells) == public_point(
            *centre, precision=precision, sensitive=sensitive
        )


def test_sensitive_reports_are_at_least_res_7_coarse_everywhere():
    # Every point of a res-7 cell (~5 km²) gives a sensitive report the same public point, and
    # the public point is the cell's centre: the exact spot cannot be recovered.
    for lat, lon in _random_points(100, seed=3):
        cell = h3.latlng_to_cell(lat, lon, 7)
        corners = [
            # points just inside each vertex, pulled 1% towards the centre
            (v[0] + (c[0] - v[0]) * 0.01, v[1] + (c[1] - v[1]) * 0.01)
            for c in [h3.cell_to_latlng(cell)]
            for v in h3.cell_to_boundary(cell)
        ]
        published = [
            public_point(*p, precision=precision, sensitive=True)
            for p in [(lat, lon), *corners]
            for precision in ("exact", "place")
        ]
        assert all(p == published[0] for p in published)
        (plat, plon, resolution, _) = published[0]
        assert resolution == 7
        assert h3.latlng_to_cell(plat, plon, 7) == cell


def test_numbers_as_text_are_accepted_and_booleans_are_not():
    assert public_point("14.0818", "-87.2068", precision="place", sensitive=False) == (
        public_point(*EXACT, precision="place", sensitive=False)
    )
    location = locate("14.0818", "-87.2068", precision="place", sensitive=False)
    assert (location.latitude, location.longitude) == EXACT
    with pytest.raises(InvalidInput):
        public_point(True, 0, precision="place", sensitive=False)


def test_locate_sensitive_names_and_indexes_only_the_coarse_cell(write_json):
    import_areas(write_json(MUNICIPALITIES))
    location = locate(*EXACT, precision="exact", sensitive=True)
    assert location.public_resolution == 7
    centre = (location.public_latitude, location.public_longitude)
    assert location.place_name == gazetteer.nearest_place(*centre).name == "Comayagüela"
    cell7 = h3.latlng_to_cell(*EXACT, 7)
    for res, value in location.cells.items():
        cell = h3.int_to_str(value)
        if res > 7:
            assert cell == h3.cell_to_center_child(cell7, res)  # no finer information
    assert (location.department_code, location.municipality_code) == ("HN08", "HN0802")
