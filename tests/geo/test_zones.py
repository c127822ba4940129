import h3
import pytest

from sereno.geo import zones
from sereno.geo.areas import import_areas
from sereno.geo.gazetteer import search
from sereno.geo.models import Zone, ZoneCell
from sereno.lib.errors import InvalidInput, NotFound
from tests.geo.helpers import collection, feature, polygon

pytestmark = pytest.mark.django_db

# Central Tegucigalpa and a point 30 km away (Valle de Ángeles is about 20 km east).
TEGUS = (14.0723, -87.1921)
FAR = (14.0723, -86.9150)


def test_circle_is_a_set_of_cells_covering_it():
    zone = zones.zone_for_circle(*TEGUS, 2.5)
    cells = zones.cells_of([zone.id])
    assert zone.kind == Zone.Kind.CIRCLE and zone.radius_km == 2.5
    assert zone.cell_count == len(cells) > 1
    assert zones.point_cell(*TEGUS) in cells
    assert all(h3.get_resolution(h3.int_to_str(c)) == zones.ZONE_RESOLUTION for c in cells)


def test_the_same_circle_is_one_zone():
    a = zones.zone_for_circle(14.072301, -87.192101, 2.5)
    b = zones.zone_for_circle(*TEGUS, 2.5)
    assert a.id == b.id
    assert ZoneCell.objects.filter(zone=a).count() == a.cell_count


def test_a_small_circle_still_has_its_cell():
    zone = zones.zone_for_circle(*TEGUS, 0.1)
    assert zones.point_cell(*TEGUS) in zones.cells_of([zone.id])


def test_zones_sharing_cells_are_found_and_distant_ones_are_not():
    alert = zones.zone_for_circle(*TEGUS, 3)
    near = zones.zone_for_circle(14.09, -87.20, 1)
    far = zones.zone_for_circle(*FAR, 1)
    found = set(zones.zones_touching([alert.id]).values_list("zone_id", flat=True))
    assert alert.id in found and near.id in found and far.id not in found


def test_polygon_zone_is_keyed_by_its_shape():
    shape = polygon(-87.25, 14.03, -87.15, 14.12)
    a = zones.zone_for_polygon(shape, label="Centro")
    b = zones.zone_for_polygon(shape)
    assert a.id == b.id and a.kind == Zone.Kind.POLYGON and a.label == "Centro"
    assert zones.point_cell(*TEGUS) in zones.cells_of([a.id])


def test_place_zone_is_sized_by_population():
    tegucigalpa = search("Tegucigalpa")[0]
    zone = zones.zone_for_place(tegucigalpa)
    assert zone.label == "Tegucigalpa" and zone.radius_km == 10.0
    assert zones.place_radius_km(800) == 2.0


def test_area_zone_uses_the_imported_boundary(write_json):
    doc = collection(
        feature(
            {"ADM2_PCODE": "HN0801", "ADM2_ES": "Distrito Central", "ADM1_PCODE": "HN08"},
            polygon(-87.4, 13.9, -87.0, 14.3),
        )
    )
    import_areas(write_json(doc, "adm2.geojson"))
    zone = zones.zone_for_area("hn0801")
    assert zone.key == "area:HN0801" and zone.label == "Distrito Central"
    assert zones.point_cell(*TEGUS) in zones.cells_of([zone.id])
    with pytest.raises(NotFound):
        zones.zone_for_area("HN9999")


@pytest.mark.parametrize(
    "call",
    [
        lambda: zones.zone_for_circle(*TEGUS, 0),
        lambda: zones.zone_for_circle(*TEGUS, 500),
        lambda: zones.zone_for_circle("x", -87, 1),
        lambda: zones.zone_for_circle(95, -87, 1),
        lambda: zones.zone_for_polygon({"type": "Point", "coordinates": [-87, 14]}),
        lambda: zones.zone_for_polygon("not json"),
        lambda: zones.zone_for_polygon(polygon(-95, 5, -75, 25)),
    ],
)
def test_bad_shapes_are_refused_clearly(call):
    with pytest.raises(InvalidInput):
        call()
    assert not Zone.objects.exists()
