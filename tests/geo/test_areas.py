import copy
import io
import json

import h3
import pytest

from sereno.geo import areas
from sereno.geo.areas import ImportResult, admin_codes, import_areas
from sereno.geo.models import Area, AreaCell
from sereno.lib.errors import InvalidInput

from .helpers import DEPARTMENTS, ISLAND, MUNICIPALITIES, box, collection, feature, polygon

pytestmark = pytest.mark.django_db

TEGUCIGALPA = (14.0818, -87.2068)  # in HN0802 (east half)
WEST = (14.0, -87.4)  # in HN0801
SULA = (15.5, -88.0)  # in HN0601


@pytest.fixture
def imported(write_json):
    assert import_areas(write_json(DEPARTMENTS, "adm1.geojson")) == ImportResult(2, 0)
    assert import_areas(write_json(MUNICIPALITIES, "adm2.geojson")) == ImportResult(3, 0)


def test_import_departments_and_municipalities(imported):
    assert Area.objects.count() == 5
    muni = Area.objects.get(code="HN0802")
    assert muni.level == Area.Level.MUNICIPALITY
    assert (muni.name, muni.parent_code, muni.department_code) == ("Este", "HN08", "HN08")
    assert muni.geometry["type"] == "MultiPolygon"
    assert (muni.min_lon, muni.min_lat, muni.max_lon, muni.max_lat) == (-87.6, 13.8, -87.0, 14.41)
    dept = Area.objects.get(code="HN06")
    assert (dept.level, dept.name, dept.parent_code, dept.department_code) == (
        "department", "Cortés", "", "HN06",
    )  # fmt: skip


def test_admin_codes_after_import(imported):
    assert admin_codes(*TEGUCIGALPA) == ("HN08", "HN0802")
    assert admin_codes(*WEST) == ("HN08", "HN0801")
    assert admin_codes(*SULA) == ("HN06", "HN0601")
    assert admin_codes(14.405, -87.595) == ("HN08", "HN0802")  # the island
    assert admin_codes(0.0, 0.0) == ("", "")
    assert admin_codes(float("nan"), -87.2) == ("", "")


def test_municipality_department_comes_from_its_parent(write_json):
    doc = collection(
        feature({"code": "X1", "name": "Ours", "parent_code": "HN17", "level": "municipality"},
                polygon(-87.5, 13.8, -87.0, 14.3)),
    )  # fmt: skip
    import_areas(write_json(doc))
    assert admin_codes(*TEGUCIGALPA) == ("HN17", "X1")


def test_point_in_department_but_no_municipality(write_json):
    import_areas(write_json(DEPARTMENTS))
    assert admin_codes(*TEGUCIGALPA) == ("HN08", "")


def test_no_areas_is_one_cached_query(django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        for _ in range(100):
            assert admin_codes(*TEGUCIGALPA) == ("", "")


def test_reimport_updates_instead_of_duplicating(imported, write_json):
    cells = AreaCell.objects.count()
    renamed = copy.deepcopy(MUNICIPALITIES)
    renamed["features"][0]["properties"]["ADM2_ES"] = "Oeste Nuevo"
    assert import_areas(write_json(renamed, "again.geojson")) == ImportResult(0, 3)
    assert Area.objects.count() == 5
    assert AreaCell.objects.count() == cells
    assert Area.objects.get(code="HN0801").name == "Oeste Nuevo"


def test_reimport_with_new_geometry_moves_areas(imported, write_json):
    moved = copy.deepcopy(MUNICIPALITIES)
    moved["features"][1]["geometry"] = polygon(-86.0, 13.8, -85.9, 13.9)
    import_areas(write_json(moved))
    assert admin_codes(*TEGUCIGALPA) == ("HN08", "")
    assert admin_codes(13.85, -85.95) == ("HN08", "HN0802")


def test_another_process_import_is_noticed_after_the_check_interval(
    imported, monkeypatch, write_json
):
    assert admin_codes(*TEGUCIGALPA) == ("HN08", "HN0802")
    # Another process imports: this one's index is only rechecked after CHECK_SECONDS.
    Area.objects.filter(code="HN0802").update(code="HN0899")
    Area.objects.create(
        code="HN0898", name="Nuevo", level="municipality", parent_code="HN08",
        department_code="HN08", geometry=polygon(-86.0, 13.8, -85.9, 13.9),
        min_lat=13.8, min_lon=-86.0, max_lat=13.9, max_lon=-85.9,
    )  # fmt: skip
    assert admin_codes(*TEGUCIGALPA) == ("HN08", "HN0802")
    later = areas.time.monotonic() + areas.CHECK_SECONDS + 1
    monkeypatch.setattr(areas.time, "monotonic", lambda: later)
    assert admin_codes(*TEGUCIGALPA) == ("HN08", "HN0899")
    assert admin_codes(13.85, -85.95) == ("HN08", "HN0898")


def cells_of(code):
    return {
        h3.int_to_str(c)
        for c in AreaCell.objects.filter(area__code=code).values_list("cell", flat=True)
    }


def test_stored_cells_are_valid_and_cover_the_area(imported):
    west = cells_of("HN0801")
    assert len(west) > 50
    assert all(h3.is_valid_cell(c) and h3.get_resolution(c) == 7 for c in west)
    assert h3.latlng_to_cell(*WEST, 7) in west
    assert h3.latlng_to_cell(*TEGUCIGALPA, 7) not in west
    east = cells_of("HN0802")
    assert h3.latlng_to_cell((ISLAND[1] + ISLAND[3]) / 2, (ISLAND[0] + ISLAND[2]) / 2, 7) in east
    assert not west & east  # municipalities that only touch share no cell
    dept = cells_of("HN08")
    assert len(dept ^ (west | east)) < 0.05 * len(dept)


def test_cells_at_a_finer_resolution_nest_in_the_coarser_cells(write_json):
    path = write_json(DEPARTMENTS)
    import_areas(path, resolution=7)
    coarse = cells_of("HN08")
    import_areas(path, resolution=8)
    fine = cells_of("HN08")
    assert Area.objects.get(code="HN08").cell_resolution == 8
    assert all(h3.get_resolution(c) == 8 for c in fine)
    parents = {h3.cell_to_parent(c, 7) for c in fine}
    # H3 children are not geometrically nested: a fine cell's parent may be a neighbour.
    near = {n for c in coarse for n in h3.grid_disk(c, 1)}
    assert parents <= near
    assert len(parents & coarse) > 0.9 * len(parents)


def test_tiny_area_gets_the_cell_holding_it(write_json):
    doc = collection(
        feature({"code": "T1", "name": "Tiny"}, polygon(-87.2, 14.08, -87.199, 14.081))
    )
    import_areas(write_json(doc))
    assert cells_of("T1") == {h3.latlng_to_cell(14.0805, -87.1995, 7)}


def test_department_level_from_a_municipality_file_dissolves(write_json):
    assert import_areas(write_json(MUNICIPALITIES), level="department") == ImportResult(2, 0)
    assert set(Area.objects.values_list("code", "level")) == {
        ("HN08", "department"), ("HN06", "department"),
    }  # fmt: skip
    assert admin_codes(*WEST) == ("HN08", "")
    assert admin_codes(*TEGUCIGALPA) == ("HN08", "")
    assert admin_codes(14.405, -87.595) == ("HN08", "")


def test_generic_properties_and_file_objects():
    square = polygon(-87.5, 13.8, -87.0, 14.3)
    doc = collection(
        feature({"code": "D1", "name": "Uno", "level": "departamento"}, square),
        feature({"code": "M1", "name": "Mun", "parent_code": "D1"}, square),
    )
    data = "\ufeff" + json.dumps(doc, ensure_ascii=False)
    assert import_areas(io.BytesIO(data.encode("utf-8"))) == ImportResult(2, 0)
    assert import_areas(io.StringIO(data)) == ImportResult(0, 2)
    assert dict(Area.objects.values_list("code", "level")) == {
        "D1": "department",
        "M1": "municipality",
    }
    assert admin_codes(*TEGUCIGALPA) == ("D1", "M1")


def test_self_intersecting_polygon_is_repaired(write_json):
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[-87.5, 13.8], [-87.0, 14.3], [-87.0, 13.8], [-87.5, 14.3], [-87.5, 13.8]]
        ],
    }
    import_areas(write_json(collection(feature({"code": "B", "name": "Bowtie"}, bowtie))))
    area = Area.objects.get(code="B")
    assert area.geometry["type"] == "MultiPolygon"
    assert admin_codes(14.05, -87.45) == ("B", "")
    assert admin_codes(14.05, -87.05) == ("B", "")
    assert admin_codes(13.9, -87.25) == ("", "")  # the notch between the two triangles
    assert cells_of("B")


def good_feature(**properties):
    return feature({"code": "A", "name": "Área", **properties}, polygon(-87.5, 13.8, -87.0, 14.3))


def one(code, geometry, **properties):
    return collection(feature({"code": code, "name": "Nombre", **properties}, geometry))


def poly(coordinates):
    return {"type": "Polygon", "coordinates": coordinates}


UTM = polygon(480000, 1550000, 490000, 1560000)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON (line 1, column 2"),
        ("", "not valid JSON"),
        ([1, 2], "Expected a GeoJSON FeatureCollection, got 'list'"),
        (good_feature(), "Expected a GeoJSON FeatureCollection, got 'Feature'"),
        (collection(), "has no features"),
        (collection(feature({"name": "Sin código"}, UTM)), "Feature 1: missing code"),
        (
            collection(good_feature(), feature({"ADM1_PCODE": "HN01"}, UTM)),
            "Feature 2 (HN01): missing name",
        ),
        (
            one("P", {"type": "Point", "coordinates": [0, 0]}),
            "(P): geometry must be a Polygon or MultiPolygon, not Point",
        ),
        (one("N", None), "not NoneType"),
        (one("R", poly([[[0, 0], [1, 1]]])), "(R): invalid Polygon coordinates"),
        (one("S", poly("x")), "(S): invalid Polygon coordinates"),
        (one("E", poly([])), "(E): the geometry is empty"),
        (one("U", UTM), "(U): coordinates are not longitude/latitude"),
        (one("L", poly(box(0, 0, 0, 1))), "(L): the polygon is invalid and cannot be repaired"),
        (one("HN08012345", UTM, level="department"), "department codes have 8 characters"),
    ],
)
def test_invalid_files_give_clear_errors(write_json, content, message):
    with pytest.raises(InvalidInput) as err:
        import_areas(write_json(content))
    assert message in err.value.message


def test_invalid_file_imports_nothing(write_json):
    doc = collection(good_feature(), feature({"code": "Z"}, polygon(0, 0, 1, 1)))
    with pytest.raises(InvalidInput):
        import_areas(write_json(doc))
    assert not Area.objects.exists()


def test_unreadable_input(tmp_path):
    with pytest.raises(InvalidInput, match="Cannot read"):
        import_areas(tmp_path / "missing.geojson")
    with pytest.raises(InvalidInput, match="not UTF-8"):
        import_areas(io.BytesIO(b'{"type": "Feature\xff"}'))
    with pytest.raises(InvalidInput, match="Unknown level"):
        import_areas(io.StringIO("{}"), level="country")
    with pytest.raises(InvalidInput, match="resolution"):
        import_areas(io.StringIO("{}"), resolution=16)


def test_property_names_in_any_case(write_json):
    doc = collection(
        feature(
            {"adm2_pcode": "HN0801", "adm2_name": "Distrito Central", "adm1_pcode": "HN08"},
            polygon(-87.5, 13.8, -87.0, 14.3),
        )
    )
    assert import_areas(write_json(doc)) == ImportResult(1, 0)
    area = Area.objects.get()
    assert (area.code, area.name, area.level, area.department_code) == (
        "HN0801", "Distrito Central", "municipality", "HN08",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (collection({"type": "Feature", "geometry": polygon(0, 0, 1, 1)}), "missing code"),
        (collection(feature(None, polygon(0, 0, 1, 1))), "Feature 1: missing code"),
        (collection(feature([1], polygon(0, 0, 1, 1))), "properties must be an object"),
        (collection([1]), "Feature 1: not a GeoJSON Feature"),
        ({"type": "FeatureCollection"}, "has no features"),
        ({"type": "FeatureCollection", "features": {}}, "has no features"),
        (
            collection(feature({"code": {"a": 1}, "name": "x"}, UTM)),
            "Feature 1: property code must be text, not dict",
        ),
        (one("K", UTM, name=["a"]), "Feature 1: property name must be text, not list"),
        (one("A\x00B", UTM), "Feature 1: control characters in a code or name"),
        (one("K", UTM, name="Tab\there"), "control characters"),
        (
            one("LS", {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}),
            "(LS): geometry must be a Polygon or MultiPolygon, not LineString",
        ),
        (
            one("MP", {"type": "MultiPoint", "coordinates": [[0, 0]]}),
            "not MultiPoint",
        ),
        (
            one("GC", {"type": "GeometryCollection", "geometries": [polygon(0, 0, 1, 1)]}),
            "not GeometryCollection",
        ),
        (one("T", {"type": ["Polygon"]}), "geometry must be a Polygon or MultiPolygon"),
        (one("NC", {"type": "Polygon"}), "(NC): invalid Polygon coordinates"),
        (one("ST", poly([[["a", "b"], [1, 0], [1, 1], ["a", "b"]]])), "invalid Polygon"),
        (one("M", {"type": "MultiPolygon", "coordinates": [[1, 2]]}), "invalid MultiPolygon"),
        (one("HUGE", poly([[[0, 0], [1e400, 0], [1, 1], [0, 0]]])), "not longitude/latitude"),
        (
            '{"type": "FeatureCollection", "features": [{"type": "Feature", '
            '"properties": {"code": "NAN", "name": "x"}, "geometry": {"type": "Polygon", '
            '"coordinates": [[[NaN, 0], [1, 0], [1, 1], [NaN, 0]]]}}]}',
            "(NAN): invalid Polygon",
        ),
        (one("X" * 33, UTM), "code or name too long"),
        (one("K", UTM, name="n" * 201), "code or name too long"),
        (one("K", UTM, parent_code="HN0801023"), "parent (department) codes have 8 characters"),
    ],
)
def test_more_invalid_files_give_clear_errors(write_json, content, message):
    with pytest.raises(InvalidInput) as err:
        import_areas(write_json(content))
    assert message in err.value.message
    assert not Area.objects.exists()


def test_resolution_must_be_a_whole_number_in_range():
    for bad in (-1, 13, 7.5, "7", True):
        with pytest.raises(InvalidInput, match="resolution"):
            import_areas(io.StringIO(json.dumps(DEPARTMENTS)), resolution=bad)
    assert not Area.objects.exists()


def test_level_must_match_the_properties(write_json):
    # A department file read as municipalities has no ADM2 code: refused, not half-read.
    with pytest.raises(InvalidInput, match="Feature 1: missing code"):
        import_areas(write_json(DEPARTMENTS), level="municipality")
    assert not Area.objects.exists()


def test_third_dimension_is_dropped(write_json):
    ring = [[-87.5, 13.8, 900], [-87.0, 13.8, 950], [-87.0, 14.3, 1000], [-87.5, 13.8, 900]]
    import_areas(write_json(one("Z3", poly([ring]))))
    coordinates = Area.objects.get(code="Z3").geometry["coordinates"]
    assert all(len(vertex) == 2 for vertex in coordinates[0])


def test_same_code_twice_in_one_file_is_one_area(write_json):
    # A municipality split into two features (mainland and island) is one area.
    doc = collection(
        feature({"code": "D", "name": "Dos"}, polygon(-87.5, 13.8, -87.25, 14.3)),
        feature({"code": "D", "name": "Dos"}, polygon(-86.0, 13.8, -85.9, 13.9)),
    )
    assert import_areas(write_json(doc)) == ImportResult(1, 0)
    assert Area.objects.get().geometry["type"] == "MultiPolygon"
    assert admin_codes(*WEST) == ("D", "")
    assert admin_codes(13.85, -85.95) == ("D", "")


def test_identical_reimport_changes_nothing(imported, write_json):
    before = {
        a.code: (a.name, a.level, a.department_code, a.geometry, cells_of(a.code))
        for a in Area.objects.all()
    }
    assert import_areas(write_json(MUNICIPALITIES, "same.geojson")) == ImportResult(0, 3)
    after = {
        a.code: (a.name, a.level, a.department_code, a.geometry, cells_of(a.code))
        for a in Area.objects.all()
    }
    assert after == before


def test_areas_missing_from_a_new_file_are_kept(imported, write_json):
    only_sula = collection(MUNICIPALITIES["features"][2])
    assert import_areas(write_json(only_sula)) == ImportResult(0, 1)
    assert Area.objects.count() == 5
    assert admin_codes(*WEST) == ("HN08", "HN0801")


def test_failed_reimport_leaves_the_previous_areas_intact(imported, write_json):
    before = {a.code: (a.name, cells_of(a.code)) for a in Area.objects.all()}
    renamed = copy.deepcopy(MUNICIPALITIES)
    renamed["features"][0]["properties"]["ADM2_ES"] = "Cambiado"
    renamed["features"][2]["geometry"] = UTM
    with pytest.raises(InvalidInput, match="Feature 3 .*not longitude/latitude"):
        import_areas(write_json(renamed))
    assert {a.code: (a.name, cells_of(a.code)) for a in Area.objects.all()} == before


def test_database_failure_midway_rolls_back_the_whole_import(imported, write_json, monkeypatch):
    before = {a.code: (a.name, cells_of(a.code)) for a in Area.objects.all()}
    renamed = copy.deepcopy(MUNICIPALITIES)
    for f in renamed["features"]:
        f["properties"]["ADM2_ES"] += " (nuevo)"
    renamed["features"].append(
        feature({"code": "HN0999", "name": "Nueva"}, polygon(-86.0, 13.8, -85.9, 13.9))
    )
    calls = []
    original = AreaCell.objects.bulk_create

    def failing(objs, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # the first two areas are already written
            raise RuntimeError("disk full")
        return original(objs, **kwargs)

    monkeypatch.setattr(AreaCell.objects, "bulk_create", failing)
    with pytest.raises(RuntimeError):
        import_areas(write_json(renamed))
    assert len(calls) == 3
    assert {a.code: (a.name, cells_of(a.code)) for a in Area.objects.all()} == before
    assert admin_codes(13.85, -85.95) == ("", "")
