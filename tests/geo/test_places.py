import io

import pytest

from sereno.geo import gazetteer
from sereno.geo.areas import ImportResult, import_areas, import_places
from sereno.geo.models import Place
from sereno.lib.errors import InvalidInput

from .helpers import DEPARTMENTS, MUNICIPALITIES

pytestmark = pytest.mark.django_db

GOOD = """name,latitude,longitude,kind,population
Colonia Kennedy,14.0601,-87.1829,colonia,40000
"Aldea El Chimbo, Santa Ana",14.0313,-87.2401,aldea,
Barrio Guamilito,15.5094,-88.0333,,
"""


@pytest.fixture
def write_csv(tmp_path):
    def write(text, name="places.csv", bom=False):
        path = tmp_path / name
        path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
        return path

    return write


def test_import_places_with_bom(write_csv):
    assert import_places(write_csv(GOOD, bom=True)) == ImportResult(3, 0)
    kennedy = Place.objects.get(name="Colonia Kennedy")
    assert (kennedy.key, kennedy.kind, kennedy.population) == ("colonia kennedy", "colonia", 40000)
    assert (kennedy.latitude, kennedy.longitude) == (14.0601, -87.1829)
    assert kennedy.department_code == "HN08"  # from the gazetteer: no areas imported
    assert kennedy.municipality_code == ""
    aldea = Place.objects.get(key="aldea el chimbo santa ana")
    assert (aldea.name, aldea.kind, aldea.population) == ("Aldea El Chimbo, Santa Ana", "aldea", 0)
    guamilito = Place.objects.get(key="barrio guamilito")
    assert (guamilito.kind, guamilito.department_code) == ("colonia", "HN06")


def test_reimport_updates_instead_of_duplicating(write_csv):
    import_places(write_csv(GOOD))
    changed = GOOD.replace("40000", "45000").replace("Colonia Kennedy", "COLONIA KENNEDY")
    assert import_places(write_csv(changed, "again.csv")) == ImportResult(0, 3)
    assert Place.objects.count() == 3
    kennedy = Place.objects.get(key="colonia kennedy")
    assert (kennedy.name, kennedy.population) == ("COLONIA KENNEDY", 45000)


def test_same_name_elsewhere_is_another_place(write_csv):
    import_places(write_csv(GOOD))
    other = "name,lat,lon\nColonia Kennedy,15.51,-88.02\n"
    assert import_places(write_csv(other, "other.csv")) == ImportResult(1, 0)
    assert Place.objects.filter(key="colonia kennedy").count() == 2


def test_codes_come_from_imported_areas(write_csv, write_json):
    import_areas(write_json(DEPARTMENTS, "adm1.geojson"))
    import_areas(write_json(MUNICIPALITIES, "adm2.geojson"))
    text = (
        "lat,lon,name,department_code,municipality_code\n"
        "14.0818,-87.2068,Centro,,\n"
        "14.0,-87.4,Oeste,,\n"
        "14.0,-87.3,Dada,hn17,\n"
        "14.0,-87.3,Muni,,HN0601\n"
    )
    assert import_places(write_csv(text)) == ImportResult(4, 0)
    codes = {p.name: (p.department_code, p.municipality_code) for p in Place.objects.all()}
    assert codes == {
        "Centro": ("HN08", "HN0802"),
        "Oeste": ("HN08", "HN0801"),
        "Dada": ("HN17", ""),  # a given department is kept; no municipality from another one
        "Muni": ("HN06", "HN0601"),  # the department of the given municipality
    }


def test_file_objects_semicolons_and_decimal_commas():
    text = "Nombre;Latitud;Longitud\nLa Granja;14,0911;-87,2203\n"
    assert import_places(io.StringIO(text)) == ImportResult(1, 0)
    place = Place.objects.get()
    assert (place.name, place.latitude, place.longitude) == ("La Granja", 14.0911, -87.2203)
    assert import_places(io.BytesIO(("\ufeff" + text).encode())) == ImportResult(0, 1)


def test_imported_places_are_searchable(write_csv):
    import_places(write_csv(GOOD))
    (found,) = gazetteer.search("colonia kénnedy")
    assert (found.name, found.department_name, found.population) == (
        "Colonia Kennedy", "Francisco Morazán", 40000,
    )  # fmt: skip
    assert "Aldea El Chimbo, Santa Ana" in [p.name for p in gazetteer.search("chimbo")]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("Uno,abc,-87.2", "line 3: latitude 'abc' is not a number"),
        ("Uno,95,-87.2", "line 3: latitude '95' is outside -90..90"),
        ("Uno,14.1,-187.2", "line 3: longitude '-187.2' is outside -180..180"),
        ("Uno,nan,-87.2", "line 3: latitude 'nan' is outside"),
        ("Uno,14.1,inf", "line 3: longitude 'inf' is outside"),
        ("Uno,14.1,", "line 3: longitude '' is not a number"),
        ("Uno,14.1", "line 3: longitude '' is not a number"),
        (",14.1,-87.2", "line 3: the name is empty"),
        ("¿?,14.1,-87.2", "line 3: the name '¿?' has no letters or digits"),
        ("Uno,-87.2,14.1", "line 3: latitude and longitude look swapped"),
        ("Uno,14.1,-87.2,colonia,muchos", "line 3: population 'muchos' is not a whole number"),
        ("Uno,14.1,-87.2,colonia,-5", "line 3: population '-5' is not a whole number"),
    ],
)
def test_bad_lines_are_reported_and_nothing_is_imported(write_csv, line, message):
    text = f"name,latitude,longitude,kind,population\nBien,14.0,-87.0\n{line}\n"
    with pytest.raises(InvalidInput) as err:
        import_places(write_csv(text))
    assert message in err.value.message
    assert err.value.message.startswith("Nothing imported")
    assert not Place.objects.exists()


def test_every_bad_line_is_listed(write_csv):
    text = "name,lat,lon\nA,x,1\nB,14,-87\n\nC,14,y\n"
    with pytest.raises(InvalidInput) as err:
        import_places(write_csv(text))
    assert err.value.details["errors"] == [
        "line 2: latitude 'x' is not a number",
        "line 5: longitude 'y' is not a number",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The file is empty"),
        ("name,lat\nA,14\n", "Line 1: missing column(s) longitude"),
        ("nombre,x,y\n", "missing column(s) latitude, longitude"),
        ("name,lat,lon\n\n", "The file has no places"),
    ],
)
def test_bad_files(write_csv, text, message):
    with pytest.raises(InvalidInput) as err:
        import_places(write_csv(text))
    assert message in err.value.message


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("name,lat,lon\nTegucigalpa Comayagüela,14,-87\n".encode("latin-1"))
    with pytest.raises(InvalidInput, match="not UTF-8"):
        import_places(path)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("Uno,14.1,-87.2,colonia,²", "line 3: population '²' is not a whole number"),
        ("Uno,14.1,-87.2,colonia,99999999999", "line 3: population '99999999999' is too large"),
        ("Uno,14.1,-87.2,colonia,1.5", "line 3: population '1.5' is not a whole number"),
        ("Un\x00o,14.1,-87.2", "line 3: the name has control characters"),
        ("N" * 201 + ",14.1,-87.2", "line 3: the name is longer than 200 characters"),
        ("Uno,14.1,-87.2," + "k" * 33, "line 3: kind, department_code or municipality_code"),
        ("Uno,14.1,-87.2,col\x00onia", "line 3: control characters in kind"),
    ],
)
def test_more_bad_lines(write_csv, line, message):
    text = f"name,latitude,longitude,kind,population\nBien,14.0,-87.0\n{line}\n"
    with pytest.raises(InvalidInput) as err:
        import_places(write_csv(text))
    assert message in err.value.message
    assert not Place.objects.exists()


def test_unreadable_csv_is_a_clear_error(write_csv):
    text = "name,lat,lon\nBien,14.0,-87.0\n" + "A" * 200_000 + ",14,-87\n"
    with pytest.raises(InvalidInput, match="Line 3: not readable as CSV"):
        import_places(write_csv(text))
    assert not Place.objects.exists()


def test_unreadable_path(tmp_path):
    with pytest.raises(InvalidInput, match="Cannot read"):
        import_places(tmp_path / "missing.csv")


def test_spanish_headers_tabs_and_optional_columns(write_csv):
    text = (
        "Nombre\tLatitud\tLongitud\tTipo\tDepartment\tMunicipality\tPoblación\n"
        "Aldea Uno\t14,1\t-87,3\taldea\thn08\thn0801\t1200\n"
    )
    assert import_places(write_csv(text)) == ImportResult(1, 0)
    place = Place.objects.get()
    assert (place.name, place.latitude, place.longitude, place.kind) == (
        "Aldea Uno", 14.1, -87.3, "aldea",
    )  # fmt: skip
    assert (place.department_code, place.municipality_code, place.population) == (
        "HN08", "HN0801", 1200,
    )  # fmt: skip


def test_a_place_listed_twice_in_one_file_is_one_place(write_csv):
    text = "name,lat,lon,population\nUno,14.1,-87.3,5\nUNO,14.1,-87.3,7\n"
    assert import_places(write_csv(text)) == ImportResult(1, 0)
    assert (Place.objects.get().name, Place.objects.get().population) == ("UNO", 7)


def test_database_failure_imports_nothing(write_csv, monkeypatch):
    import_places(write_csv(GOOD))
    changed = GOOD.replace("40000", "45000") + "Nuevo,14.2,-87.1\n"

    def failing(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Place.objects, "bulk_update", failing)
    with pytest.raises(RuntimeError):
        import_places(write_csv(changed, "again.csv"))
    assert Place.objects.count() == 3
    assert Place.objects.get(key="colonia kennedy").population == 40000
