"""Existing reports get the department and municipality `locate` would give them once areas
are imported (`relocate_reports`, run by `import_areas`)."""

import copy
import random

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError
from django.utils import timezone

from sereno import cli
from sereno.geo import areas, gazetteer, relocate
from sereno.geo.areas import admin_codes, admin_codes_many, import_areas
from sereno.geo.relocate import located_codes, relocate_reports
from sereno.geo.services import locate
from sereno.reports.models import Report
from tests.factories import make_report

from .helpers import DEPARTMENTS, ISLAND, MUNICIPALITIES, collection, feature, polygon

pytestmark = pytest.mark.django_db

TEGUCIGALPA = (14.0818, -87.2068)  # HN0802
WEST = (14.0, -87.4)  # HN0801
SULA = (15.5, -88.0)  # HN0601
LA_CEIBA = (15.7597, -86.7822)  # in no imported area; the gazetteer says Atlántida (HN01)
BORDER_LON = -87.25  # HN0801 | HN0802
NUDGE = 1e-9  # ~0.1 mm


def codes(report):
    report.refresh_from_db()
    return report.department_code, report.municipality_code


def report_at(lat, lon, precision="exact", **extra):
    return make_report(latitude=lat, longitude=lon, location_precision=precision, **extra)


@pytest.fixture
def before_import():
    """Reports received before any area is imported: gazetteer department, no municipality."""
    reports = {
        "tegucigalpa": report_at(*TEGUCIGALPA),
        "west": report_at(*WEST, "place"),
        "sula": report_at(*SULA, "municipality"),
        "department": report_at(*TEGUCIGALPA, "department"),
        "outside": report_at(*LA_CEIBA),
        "west_of_border": report_at(14.0, BORDER_LON - NUDGE),
        "east_of_border": report_at(14.0, BORDER_LON + NUDGE),
        "on_border": report_at(14.0, BORDER_LON),
        "island": report_at(14.405, -87.595),
        "sensitive": report_at(*TEGUCIGALPA, categories=["violencia-domestica"]),
    }
    assert all(r.municipality_code == "" for r in reports.values())
    assert codes(reports["tegucigalpa"]) == ("HN08", "")
    assert codes(reports["outside"]) == ("HN01", "")
    return reports


@pytest.fixture
def imported(before_import, write_json, capsys):
    call_command("import_areas", str(write_json(DEPARTMENTS, "adm1.geojson")))
    call_command("import_areas", str(write_json(MUNICIPALITIES, "adm2.geojson")))
    capsys.readouterr()
    return before_import


def test_reports_before_the_import_get_their_municipality(imported):
    r = imported
    assert codes(r["tegucigalpa"]) == ("HN08", "HN0802")
    assert codes(r["west"]) == ("HN08", "HN0801")
    assert codes(r["sula"]) == ("HN06", "HN0601")
    assert codes(r["island"]) == ("HN08", "HN0802")  # outside its department's polygon
    assert codes(r["sensitive"]) == ("HN08", "HN0802")  # from the exact point, not the cell


def test_each_side_of_a_border_gets_its_own_municipality(imported):
    r = imported
    west, east = r["west_of_border"], r["east_of_border"]
    # The public cells are the same: only the exact point tells the two apart.
    assert (west.h3_r10, west.public_latitude) == (east.h3_r10, east.public_latitude)
    assert codes(west) == ("HN08", "HN0801")
    assert codes(east) == ("HN08", "HN0802")
    # On the border itself, the same answer as admin_codes (and so as a new report).
    assert codes(r["on_border"]) == admin_codes(14.0, BORDER_LON) == ("HN08", "HN0801")
    assert codes(r["on_border"]) == codes(report_at(14.0, BORDER_LON))


def test_department_precision_gets_no_municipality(imported):
    assert codes(imported["department"]) == ("HN08", "")


def test_outside_every_area_keeps_the_gazetteer_department(imported):
    assert codes(imported["outside"]) == ("HN01", "")


def test_relocated_reports_match_new_reports(imported):
    for report in imported.values():
        report.refresh_from_db()
        fresh = report_at(
            report.latitude, report.longitude, report.location_precision,
            categories=[c.slug for c in report.categories.all()],
        )  # fmt: skip
        assert codes(report) == codes(fresh)


def test_second_run_changes_nothing(imported, django_assert_max_num_queries):
    before = list(Report.objects.order_by("pk").values_list())
    total = Report.objects.count()
    # Area version and index, one batch, the empty end (and three PRAGMAs on SQLite).
    with django_assert_max_num_queries(7) as queries:
        assert relocate_reports() == relocate.RelocateResult(examined=total, changed=0)
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert list(Report.objects.order_by("pk").values_list()) == before


def test_the_import_command_reports_what_it_relocated(before_import, write_json, capsys):
    total = len(before_import)
    call_command("import_areas", str(write_json(DEPARTMENTS)))
    # Departments alone: only the island (outside HN08's polygon, HN08 by the gazetteer) and
    # La Ceiba (no polygon) keep their department; no report gets a municipality.
    out = capsys.readouterr().out
    assert "Areas: 2 created, 0 updated." in out
    assert f"Reports relocated: 0 of {total}." in out
    call_command("import_areas", str(write_json(MUNICIPALITIES)))
    out = capsys.readouterr().out
    # Every report but La Ceiba and the one at department precision gets a municipality.
    assert f"Reports relocated: {total - 2} of {total}." in out
    call_command("import_areas", str(write_json(MUNICIPALITIES)))
    assert f"Reports relocated: 0 of {total}." in capsys.readouterr().out


def test_no_relocate_then_the_standalone_command(before_import, write_json, capsys):
    report = before_import["tegucigalpa"]
    call_command("import_areas", str(write_json(MUNICIPALITIES)), "--no-relocate")
    assert "Reports relocated" not in capsys.readouterr().out
    assert codes(report) == ("HN08", "")
    call_command("relocate_reports", "--batch-size", "3", "-v", "2")
    out = capsys.readouterr().out
    assert "  3 examined, 3 relocated…\n" in out
    assert f"Reports relocated: 8 of {len(before_import)}." in out
    assert codes(report) == ("HN08", "HN0802")
    with pytest.raises(CommandError, match="at least 1"):
        call_command("relocate_reports", "--batch-size", "0")


def test_cli_passes_through(before_import, write_json, capsys):
    cli.main(["geo", "import-areas", str(write_json(MUNICIPALITIES))])
    assert "Reports relocated: 8 of 10." in capsys.readouterr().out
    cli.main(["manage", "relocate_reports"])
    assert "Reports relocated: 0 of 10." in capsys.readouterr().out


def test_reimported_areas_move_reports_again(imported, write_json):
    report = imported["tegucigalpa"]
    moved = copy.deepcopy(MUNICIPALITIES)
    moved["features"][1]["geometry"] = polygon(-86.0, 13.8, -85.9, 13.9)
    call_command("import_areas", str(write_json(moved)))
    assert codes(report) == ("HN08", "")  # department polygon, municipality gone


def test_small_batches_give_the_same_result(before_import, write_json):
    import_areas(write_json(MUNICIPALITIES))
    seen = []
    result = relocate_reports(batch_size=2, progress=lambda e, c: seen.append((e, c)))
    assert result == relocate.RelocateResult(examined=10, changed=8)
    assert [e for e, _ in seen] == [2, 4, 6, 8, 10]
    assert codes(before_import["east_of_border"]) == ("HN08", "HN0802")
    assert relocate_reports(batch_size=2).changed == 0


def test_reports_without_a_point_are_left_alone(before_import, write_json):
    nowhere = make_report(latitude=None, longitude=None, place_name="Colonia Kennedy")
    Report.objects.filter(pk=nowhere.pk).update(department_code="HN08")
    import_areas(write_json(MUNICIPALITIES))
    assert relocate_reports().examined == len(before_import)
    assert codes(nowhere) == ("HN08", "")


def test_a_location_edited_meanwhile_is_not_overwritten(before_import, write_json):
    report = before_import["tegucigalpa"]
    import_areas(write_json(MUNICIPALITIES))
    # As if the point had been edited between the read and the write of a batch.
    point = [report.pk], [report.latitude], [report.longitude]
    moved = [report.pk], [report.latitude + 1], [report.longitude]
    for both in (True, False):
        written = relocate._write(Report, *moved, ["exact"], ["X"], ["Y"], set_department=both)
        assert (written, codes(report)) == (0, ("HN08", ""))
        written = relocate._write(Report, *point, ["place"], ["X"], ["Y"], set_department=both)
        assert (written, codes(report)) == (0, ("HN08", ""))
    written = relocate._write(Report, *point, ["exact"], ["X"], ["Z"], set_department=False)
    assert (written, codes(report)) == (1, ("HN08", "Z"))
    written = relocate._write(Report, *point, ["exact"], ["X"], ["Y"], set_department=True)
    assert (written, codes(report)) == (1, ("X", "Y"))


def test_a_failed_relocation_keeps_the_import_and_says_what_to_do(
    before_import, write_json, monkeypatch
):
    def broken(*args, **kwargs):
        raise DatabaseError("disk I/O error")

    monkeypatch.setattr(relocate, "_write", broken)
    with pytest.raises(CommandError, match="Run `sereno manage relocate_reports` to finish"):
        call_command("import_areas", str(write_json(MUNICIPALITIES)))
    assert admin_codes(*TEGUCIGALPA) == ("HN08", "HN0802")


# --- the vectorised lookups give exactly the per-point answers -------------------------------

# Overlapping areas (the smallest code wins), a municipality with no known department (its
# department comes from the department polygon), and one whose department has no polygon.
AWKWARD = collection(
    feature({"code": "D1", "name": "Uno", "level": "department"}, polygon(-87.5, 13.8, -87, 14.3)),
    feature({"code": "D0", "name": "Cero", "level": "department"}, polygon(-87.3, 14, -86.8, 14.5)),
    feature(
        {"code": "MB", "name": "B", "parent_code": "D1", "level": "municipality"},
        polygon(-87.5, 13.8, -87.2, 14.1),
    ),
    feature(
        {"code": "MA", "name": "A", "parent_code": "D9", "level": "municipality"},
        polygon(-87.3, 14.0, -87.1, 14.2),
    ),
    feature(
        {"code": "MX", "name": "X", "level": "municipality"}, polygon(-87.1, 13.9, -86.9, 14.4)
    ),
)


def sample_points(rng, n=3000):
    """Random points over and around the test areas, plus every corner and edge midpoint."""
    points = [(rng.uniform(13.7, 14.6), rng.uniform(-87.7, -86.7)) for _ in range(n)]
    points += [(rng.uniform(14.39, 14.42), rng.uniform(-87.61, -87.58)) for _ in range(200)]
    edges_lat = [13.8, 13.9, 14.0, 14.1, 14.2, 14.3, 14.4, 14.5, *ISLAND[1::2]]
    edges_lon = [-87.5, -87.3, -87.25, -87.2, -87.1, -87.0, -86.9, -86.8, *ISLAND[::2]]
    for lat in edges_lat:
        for lon in edges_lon:
            for dlat in (-NUDGE, 0, NUDGE):
                for dlon in (-NUDGE, 0, NUDGE):
                    points.append((lat + dlat, lon + dlon))
    return points


@pytest.mark.parametrize("files", [(DEPARTMENTS, MUNICIPALITIES), (AWKWARD,), (DEPARTMENTS,)])
def test_admin_codes_many_equals_admin_codes(files, write_json):
    for i, doc in enumerate(files):
        import_areas(write_json(doc, f"{i}.geojson"))
    points = sample_points(random.Random(7))
    points += [(float("nan"), -87.2), (14.0, float("inf"))]
    lats, lons = np.array(points).T
    departments, municipalities = admin_codes_many(lats, lons)
    expected = [admin_codes(lat, lon) for lat, lon in points]
    assert list(zip(departments, municipalities, strict=True)) == expected
    assert {m for _, m in expected} > {""} or files == (DEPARTMENTS,)


def test_admin_codes_many_without_areas():
    departments, municipalities = admin_codes_many([14.0, 15.0], [-87.2, -88.0])
    assert list(departments) == list(municipalities) == ["", ""]
    assert [list(a) for a in admin_codes_many([], [])] == [[], []]


def test_departments_at_equals_department_at():
    rng = random.Random(3)
    # Honduras and well beyond it (nothing within 60 km), plus every gazetteer place itself.
    points = [(rng.uniform(12.0, 17.5), rng.uniform(-90.5, -82.0)) for _ in range(5000)]
    points += [(p.latitude, p.longitude) for p in gazetteer.places()]
    points += [(float("nan"), -87.0)]
    lats, lons = np.array(points).T
    got = gazetteer.departments_at(lats, lons, chunk=97)
    assert list(got) == [gazetteer.department_at(lat, lon) for lat, lon in points]
    assert "" in set(got) and len(set(got)) > 10


@pytest.mark.parametrize("files", [(DEPARTMENTS, MUNICIPALITIES), (AWKWARD,)])
def test_located_codes_equals_locate(files, write_json):
    for i, doc in enumerate(files):
        import_areas(write_json(doc, f"{i}.geojson"))
    rng = random.Random(11)
    points = sample_points(rng, 1500) + [LA_CEIBA, (16.5, -84.0)]
    precisions = [rng.choice(["exact", "place", "municipality", "department"]) for _ in points]
    lats, lons = np.array(points).T
    departments, municipalities = located_codes(lats, lons, precisions)
    expected = []
    for (lat, lon), precision in zip(points, precisions, strict=True):
        where = locate(lat, lon, precision=precision, sensitive=False)
        expected.append((where.department_code, where.municipality_code))
    assert list(zip(departments, municipalities, strict=True)) == expected


def test_the_index_is_the_current_one(before_import, write_json):
    import_areas(write_json(DEPARTMENTS))
    assert admin_codes(*TEGUCIGALPA) == ("HN08", "")
    stale = dict(areas._state)
    import_areas(write_json(MUNICIPALITIES))
    # As in a process that built its index before another process imported municipalities.
    areas._state.update(stale, checked=areas.time.monotonic())
    assert admin_codes(*TEGUCIGALPA) == ("HN08", "")
    relocate_reports()
    assert codes(before_import["tegucigalpa"]) == ("HN08", "HN0802")


def test_one_writer_inside_a_transaction_or_on_sqlite():
    # Other connections would not see this (test) transaction's rows; SQLite has one writer.
    assert relocate.writers(8) == relocate.writers() == 1


def stored_report(number, lat, lon):
    """A report row as intake left it before any area was imported, written directly: this
    test commits, and must not depend on the seeded taxonomy (a transactional test's flush
    removes it) or on a per-process cache of it."""
    now = timezone.now()
    return Report.objects.create(
        reference=f"RELOC{number:03d}", title="t", description="d", occurred_at=now,
        created_at=now, updated_at=now, status_changed_at=now, latitude=lat, longitude=lon,
        location_precision="exact", department_code=gazetteer.department_at(lat, lon),
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_parallel_writers_outside_a_transaction(write_json, monkeypatch):
    """Committed rows, as in the real command: on PostgreSQL several connections write."""
    points = (TEGUCIGALPA, WEST, SULA, LA_CEIBA) * 3
    reports = [stored_report(i, *point) for i, point in enumerate(points)]
    import_areas(write_json(MUNICIPALITIES))
    postgres = relocate.connection.vendor == "postgresql"
    assert relocate.writers(3) == (3 if postgres else 1)
    seen = []
    result = relocate_reports(batch_size=2, workers=3, progress=lambda *a: seen.append(a))
    assert result == relocate.RelocateResult(examined=12, changed=9)
    assert len(seen) == 6 and seen[-1] == (12, 9)
    assert [codes(r)[1] for r in reports[:4]] == ["HN0802", "HN0801", "HN0601", ""]
    assert relocate_reports(batch_size=2, workers=3).changed == 0

    # A failed write fails the whole run (what was committed stays: running again finishes).
    Report.objects.update(municipality_code="")
    calls = []

    def fail_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise DatabaseError("connection lost")
        return original(*args, **kwargs)

    original = relocate._write
    monkeypatch.setattr(relocate, "_write", fail_third)
    with pytest.raises(DatabaseError, match="connection lost"):
        relocate_reports(batch_size=2, workers=3)
    monkeypatch.setattr(relocate, "_write", original)
    assert 0 < relocate_reports().changed < 9
    assert [codes(r)[1] for r in reports[:4]] == ["HN0802", "HN0801", "HN0601", ""]


def test_the_public_map_follows_relocated_reports(before_import, write_json, moderator, client):
    """The map keeps counts per department and municipality; relocation rewrites those codes
    outside the report services, so the map recounts (a filter by municipality stays exact)."""
    from tests.factories import publish

    for report in before_import.values():
        publish(report, moderator)

    def on_map(municipality: str) -> int:
        answer = client.get("/api/v1/map", {"bbox": "-89.5,12.9,-83.1,16.6", "zoom": 6,
                                            "municipality": municipality})  # fmt: skip
        assert answer.status_code == 200, answer.content
        return answer.json()["total"]

    assert on_map("HN0802") == 0
    call_command("import_areas", str(write_json(DEPARTMENTS, "adm1.geojson")))
    call_command("import_areas", str(write_json(MUNICIPALITIES, "adm2.geojson")))
    expected = Report.objects.filter(status="published", municipality_code="HN0802").count()
    assert expected >= 3
    assert on_map("HN0802") == expected
