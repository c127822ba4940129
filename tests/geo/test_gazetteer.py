import json
import math
import random
import time

import pytest

from sereno.geo import gazetteer
from sereno.geo.gazetteer import GazetteerPlace, normalize
from sereno.geo.models import Place

pytestmark = pytest.mark.django_db  # the shared autouse fixtures clear a database cache

TEGUCIGALPA = (14.0818, -87.2068)


def names(results):
    return [p.name for p in results]


def test_eighteen_departments_with_ocha_pcodes():
    assert [code for code, _ in gazetteer.DEPARTMENTS] == [f"HN{i:02d}" for i in range(1, 19)]
    assert gazetteer.department_name("HN08") == "Francisco Morazán"
    assert gazetteer.department_name("hn11") == "Islas de la Bahía"
    assert gazetteer.department_name("HN99") == ""
    assert gazetteer.department_by_name("cortes") == "HN06"
    assert gazetteer.department_by_name("SANTA BÁRBARA") == "HN16"
    assert gazetteer.department_by_name("hn07") == "HN07"
    assert gazetteer.department_by_name("Narnia") == ""


def test_every_place_is_honduran_with_a_known_department():
    places = gazetteer.places()
    assert len(places) > 500
    codes = {code for code, _ in gazetteer.DEPARTMENTS}
    assert {p.department_code for p in places} == codes
    for place in places:
        assert 12.9 < place.latitude < 17.5 and -89.4 < place.longitude < -83.1
        assert all(gazetteer._is_latin(alias) for alias in place.alternate_names)


def test_places_is_loaded_once():
    assert gazetteer._get() is gazetteer._get()
    assert gazetteer.places()[0] is gazetteer.places()[0]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Comayagüela", "comayaguela"),
        ("  SANTA   Bárbara ", "santa barbara"),
        ("San-Pedro-Sula", "san pedro sula"),
        ("Tegusigal'pa", "tegusigalpa"),
        ("Sta. Rosa de Copán", "santa rosa de copan"),
        ("Peña Blanca", "pena blanca"),
        ("", ""),
        ("¡¿…?!", ""),
    ],
)
def test_normalize(text, key):
    assert normalize(text) == key


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tegucigalpa", "Tegucigalpa"),
        ("TEGUCIGALPA", "Tegucigalpa"),
        ("Tegucígalpa", "Tegucigalpa"),
        ("tegucigalpa.", "Tegucigalpa"),
        ("Distrito Central", "Tegucigalpa"),
        ("san pedro sula", "San Pedro Sula"),
        ("San-Pedro Sula!", "San Pedro Sula"),
        ("comayaguela", "Comayagüela"),
        ("Comayagüela", "Comayagüela"),
        ("COMAYAGÜELA", "Comayagüela"),
        ("puerto cortes", "Puerto Cortés"),
        ("danli", "Danlí"),
        ("sta rosa de copan", "Santa Rosa de Copán"),
    ],
)
def test_search_resolves_spellings(text, expected):
    results = gazetteer.search(text, local=False)
    assert results and results[0].name == expected


def test_search_ambiguous_name_returns_every_candidate_with_its_department():
    results = gazetteer.search("San José", local=False)
    exact = [p for p in results if normalize(p.name) == "san jose"]
    assert len(exact) >= 3
    assert len({p.department_name for p in exact}) == len(exact)
    assert all(p.department_name for p in exact)
    # exact matches first, then longer names starting with it, by population
    assert results[: len(exact)] == exact
    assert [p.population for p in exact] == sorted((p.population for p in exact), reverse=True)


def test_search_exact_before_prefix_even_when_less_populous():
    results = gazetteer.search("santa cruz", limit=20, local=False)
    first_prefix = next(i for i, p in enumerate(results) if normalize(p.name) != "santa cruz")
    assert all(normalize(p.name) == "santa cruz" for p in results[:first_prefix])
    assert "Santa Cruz de Yojoa" in names(results[first_prefix:])
    assert max(p.population for p in results[:first_prefix]) < next(
        p.population for p in results if p.name == "Santa Cruz de Yojoa"
    )


def test_search_prefix_word_and_limit():
    assert names(gazetteer.search("tegucig", local=False)) == ["Tegucigalpa"]
    assert "La Ceiba" in names(gazetteer.search("ceiba", local=False))
    assert len(gazetteer.search("san", limit=4, local=False)) == 4
    assert gazetteer.search("", local=False) == []
    assert gazetteer.search("xyzzy", local=False) == []


def test_la_ceiba_listed_twice_in_geonames_is_one_place():
    assert len([p for p in gazetteer.search("La Ceiba", local=False) if p.name == "La Ceiba"]) == 1


def test_airport_codes_and_foreign_scripts_are_not_names():
    assert "Tegucigalpa" not in names(gazetteer.search("TGU", local=False))
    assert gazetteer.search("Тегусигальпа", local=False) == []
    assert gazetteer.search("テグシガルパ", local=False) == []


def test_search_includes_local_places():
    Place.objects.create(
        name="Colonia Kennedy", key=normalize("Colonia Kennedy"), latitude=14.06,
        longitude=-87.18, department_code="HN08", population=40000,
    )  # fmt: skip
    Place.objects.create(name="San José", key="san jose", latitude=14.1, longitude=-87.2)
    assert gazetteer.search("colonia kennedy") == [
        GazetteerPlace("Colonia Kennedy", 14.06, -87.18, "HN08", 40000)
    ]
    assert names(gazetteer.search("Kennedy")) == ["Colonia Kennedy"]
    assert names(gazetteer.search("colonia kenn")) == ["Colonia Kennedy"]
    results = gazetteer.search("san jose", limit=30)
    exact = [p for p in results if "san jose" in map(normalize, (p.name, *p.alternate_names))]
    assert results[: len(exact)] == exact  # exact (name or alias) first, local ones included
    assert [p for p in exact if p.latitude == 14.1] == [
        GazetteerPlace("San José", 14.1, -87.2, "", 0)
    ]


def test_nearest_place_of_tegucigalpa():
    place = gazetteer.nearest_place(*TEGUCIGALPA)
    assert place.name == "Tegucigalpa"
    assert place.department_code == "HN08"
    assert place.department_name == "Francisco Morazán"
    assert gazetteer.department_at(*TEGUCIGALPA) == "HN08"
    assert gazetteer.department_at(15.50585, -88.02588) == "HN06"  # San Pedro Sula


def test_nearest_place_far_away_or_invalid_is_none():
    assert gazetteer.nearest_place(0.0, 0.0) is None
    assert gazetteer.nearest_place(TEGUCIGALPA[0], TEGUCIGALPA[1] + 1.0, max_km=5) is None
    assert gazetteer.nearest_place(math.nan, -87.2) is None
    assert gazetteer.department_at(40.0, -3.7) == ""


def test_nearest_place_agrees_with_brute_force_great_circle():
    rng = random.Random(7)
    places = gazetteer.places()
    for _ in range(300):
        lat, lon = rng.uniform(13.0, 16.5), rng.uniform(-89.3, -83.2)
        found = gazetteer.nearest_place(lat, lon, max_km=10_000)
        best = min(gazetteer._haversine_km(lat, lon, p.latitude, p.longitude) for p in places)
        got = gazetteer._haversine_km(lat, lon, found.latitude, found.longitude)
        assert got <= best * 1.01 + 0.05


def test_nearest_place_is_fast():
    gazetteer.nearest_place(*TEGUCIGALPA)
    n = 2000
    start = time.perf_counter()
    for i in range(n):
        gazetteer.nearest_place(14.0 + i * 1e-4, -87.0)
    per_call = (time.perf_counter() - start) / n
    assert per_call < 200e-6  # typically ~5 µs; generous for slow CI machines


def test_extract_is_cached_on_disk(settings, tmp_path, monkeypatch):
    settings.DATA_DIR = tmp_path
    rows = [
        {"name": "Aldea", "latitude": 14.0, "longitude": -87.0, "admin1code": "08",
         "population": 600, "alternatenames": ["Aldéa", "TGX", "Алдеа"]},
    ]  # fmt: skip
    calls = []
    monkeypatch.setattr(gazetteer, "_extract_rows", lambda: calls.append(1) or rows)
    assert gazetteer._raw_rows() == rows
    assert gazetteer._raw_rows() == rows
    assert calls == [1]
    (cached,) = (tmp_path / "geo").glob("gazetteer-HN-*.json")
    assert json.loads(cached.read_text(encoding="utf-8")) == rows
    (place, *_) = gazetteer._build_places(rows)
    assert place.alternate_names == ()  # accent-only variant, airport code, Cyrillic: dropped


def test_department_by_name_of_nothing():
    assert gazetteer.department_by_name("") == ""
    assert gazetteer.department_by_name("  ") == ""


def test_search_limits_and_short_words_with_local_places():
    Place.objects.create(name="Barrio Xyzal", key="barrio xyzal", latitude=14.1, longitude=-87.2)
    Place.objects.create(name="Xylo", key="xylo", latitude=14.2, longitude=-87.2)
    assert gazetteer.search("san", limit=0) == []
    assert gazetteer.search("¡¿?!") == []
    # Two letters match names and their beginnings, not a word inside a name, as for GeoNames.
    assert names(gazetteer.search("xy")) == ["Xylo"]
    assert names(gazetteer.search("xyz")) == ["Barrio Xyzal"]


def test_nearest_place_respects_max_km():
    place = gazetteer.nearest_place(*TEGUCIGALPA)
    d = gazetteer._haversine_km(*TEGUCIGALPA, place.latitude, place.longitude)
    assert gazetteer.nearest_place(*TEGUCIGALPA, max_km=d + 0.01) == place
    assert gazetteer.nearest_place(*TEGUCIGALPA, max_km=d / 2) is None
