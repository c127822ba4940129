"""What people type for "when" and "where", read the same way every time."""

from datetime import date

import pytest

from sereno.messaging.conversations import dates, places

pytestmark = pytest.mark.django_db  # the shared cache fixture uses the database

TODAY = date(2026, 11, 18)  # a Wednesday


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("hoy", date(2026, 11, 18)), ("Hoy en la mañana", date(2026, 11, 18)),
        ("today", date(2026, 11, 18)), ("ahorita", date(2026, 11, 18)),
        ("hace 2 horas", date(2026, 11, 18)),
        ("ayer", date(2026, 11, 17)), ("AYER!", date(2026, 11, 17)),
        ("yesterday", date(2026, 11, 17)), ("anoche", date(2026, 11, 17)),
        ("ayer lunes", date(2026, 11, 17)),
        ("anteayer", date(2026, 11, 16)), ("antier", date(2026, 11, 16)),
        ("antes de ayer", date(2026, 11, 16)), ("the day before yesterday", date(2026, 11, 16)),
        ("hace 3 días", date(2026, 11, 15)), ("hace tres dias", date(2026, 11, 15)),
        ("3 days ago", date(2026, 11, 15)), ("hace una semana", date(2026, 11, 11)),
        ("a week ago", date(2026, 11, 11)),
        ("12/11", date(2026, 11, 12)), ("12/11/2026", date(2026, 11, 12)),
        ("12-11-26", date(2026, 11, 12)), ("el 5.11", date(2026, 11, 5)),
        ("el lunes", date(2026, 11, 16)), ("Monday", date(2026, 11, 16)),
        ("miércoles", date(2026, 11, 18)), ("el sábado pasado", date(2026, 11, 14)),
        # 25 December has not come this year: the last one.
        ("25/12", date(2025, 12, 25)),
    ],
)  # fmt: skip
def test_days_people_write(typed, expected):
    assert dates.parse_day(typed, today=TODAY) == expected


@pytest.mark.parametrize("typed", ["cuando llovió", "", "31/02", "hace mucho", "1/1/1980"])
def test_what_is_not_a_day_is_none(typed):
    assert dates.parse_day(typed, today=TODAY) is None


@pytest.mark.parametrize("typed", ["19/11/2026", "1/1/2027"])
def test_a_day_still_to_come_is_refused(typed):
    with pytest.raises(dates.Future):
        dates.parse_day(typed, today=TODAY)


def test_a_known_town_is_one_place_at_its_centre():
    found = places.resolve("danli")
    assert found.unique is not None
    assert (found.unique.name, found.unique.department_code) == ("Danlí", "HN07")
    assert found.unique.precision == "place"


def test_the_most_specific_part_that_is_known_wins():
    found = places.resolve("Colonia Kennedy, Tegucigalpa")
    assert found.unique.name == "Tegucigalpa"


def test_an_ambiguous_name_lists_every_candidate_with_its_department():
    found = places.resolve("San Marcos")
    assert found.exact and found.unique is None
    labels = [c.label() for c in found.candidates]
    assert "San Marcos (Ocotepeque)" in labels and "San Marcos (Santa Bárbara)" in labels
    assert len(labels) <= places.MAX_CHOICES


def test_a_department_is_located_at_its_main_town_with_department_precision():
    found = places.resolve("Olancho")
    assert found.unique.precision == "department"
    assert found.unique.department_code == "HN15"


def test_a_name_that_only_starts_like_a_place_is_offered_to_confirm():
    found = places.resolve("Tegucig")
    assert not found.exact and found.candidates[0].name == "Tegucigalpa"


def test_a_local_place_added_by_the_organisation_is_found(db):
    from sereno.geo.models import Place

    Place.objects.create(name="Colonia Kennedy", key="colonia kennedy", latitude=14.0617,
                         longitude=-87.1818, department_code="HN08")  # fmt: skip
    found = places.resolve("colonia kennedy")
    assert found.unique.name == "Colonia Kennedy" and found.unique.precision == "place"


def test_an_imported_municipality_is_found_by_name(db):
    from sereno.geo.models import Area

    square = {"type": "Polygon", "coordinates": [[[-87.3, 14.0], [-87.1, 14.0], [-87.1, 14.2],
                                                  [-87.3, 14.2], [-87.3, 14.0]]]}  # fmt: skip
    Area.objects.create(code="HN0801", name="Distrito Central", level="municipality",
                        parent_code="HN08", department_code="HN08", geometry=square,
                        min_lat=14.0, min_lon=-87.3, max_lat=14.2, max_lon=-87.1)  # fmt: skip
    found = places.resolve("Distrito Central")
    kinds = {c.precision for c in found.candidates}
    assert "municipality" in kinds
    municipality = next(c for c in found.candidates if c.precision == "municipality")
    assert 14.0 < municipality.latitude < 14.2 and -87.3 < municipality.longitude < -87.1
