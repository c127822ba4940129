import pytest
from django.core.management import CommandError, call_command

from sereno import cli
from sereno.geo.areas import admin_codes
from sereno.geo.models import Area, Place

from .helpers import DEPARTMENTS, MUNICIPALITIES

pytestmark = pytest.mark.django_db


def test_import_areas_command(write_json, capsys):
    call_command("import_areas", str(write_json(DEPARTMENTS)))
    assert "Areas: 2 created, 0 updated." in capsys.readouterr().out
    call_command("import_areas", str(write_json(MUNICIPALITIES)), "--level", "department")
    assert "Areas: 0 created, 2 updated." in capsys.readouterr().out
    call_command("import_areas", str(write_json(MUNICIPALITIES)), "--resolution", "6")
    assert "Areas: 3 created, 0 updated." in capsys.readouterr().out
    assert Area.objects.get(code="HN0801").cell_resolution == 6


def test_import_areas_command_error(write_json):
    with pytest.raises(CommandError, match="Expected a GeoJSON FeatureCollection"):
        call_command("import_areas", str(write_json({"type": "Feature"})))
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_areas", "/nonexistent/areas.geojson")


def test_import_places_command(tmp_path, capsys):
    path = tmp_path / "places.csv"
    path.write_text("name,lat,lon\nColonia Kennedy,14.0601,-87.1829\n", encoding="utf-8")
    call_command("import_places", str(path))
    assert "Places: 1 created, 0 updated." in capsys.readouterr().out
    path.write_text("name,lat,lon\nColonia Kennedy,14.0601,north\n", encoding="utf-8")
    with pytest.raises(CommandError, match="line 2: longitude 'north' is not a number"):
        call_command("import_places", str(path))
    assert Place.objects.count() == 1


def test_cli_geo_subcommands(write_json, tmp_path, capsys):
    cli.main(["geo", "import-areas", str(write_json(MUNICIPALITIES))])
    assert "Areas: 3 created, 0 updated." in capsys.readouterr().out
    assert admin_codes(14.0818, -87.2068) == ("HN08", "HN0802")
    path = tmp_path / "places.csv"
    path.write_text("name,lat,lon\nColonia Kennedy,14.0601,-87.1829\n", encoding="utf-8")
    cli.main(["geo", "import-places", str(path)])
    assert "Places: 1 created, 0 updated." in capsys.readouterr().out
    assert Place.objects.get().municipality_code == "HN0802"


def test_import_areas_command_rejects_bad_resolution(write_json):
    with pytest.raises(CommandError, match="between 0 and 12"):
        call_command("import_areas", str(write_json(DEPARTMENTS)), "--resolution", "13")
    assert not Area.objects.exists()


def test_import_places_command_missing_file():
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_places", "/nonexistent/places.csv")


def test_cli_reports_errors_without_a_traceback(write_json, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["geo", "import-areas", str(write_json({"type": "Feature"}))])
    assert exit_.value.code == 1
    assert "sereno: Expected a GeoJSON FeatureCollection" in capsys.readouterr().err
    assert not Area.objects.exists()
