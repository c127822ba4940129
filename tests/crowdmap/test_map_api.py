"""GET /api/v1/map, /map/timeline and /places: exact counts, filters, errors, rate limits."""

import random
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from sereno.reports.services import report_transition
from tests.crowdmap.helpers import naive_count
from tests.factories import make_report, publish

pytestmark = pytest.mark.django_db

HONDURAS = "-89.5,12.9,-83.0,16.6"
TEGUS = "-87.30,14.00,-87.10,14.16"


def get_map(client, **params):
    response = client.get("/api/v1/map", params)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert body["total"] == sum(f["properties"]["count"] for f in body["features"])
    return body


def spread(moderator, n=40, seed=3, **overrides):
    """n published reports scattered around Tegucigalpa and San Pedro Sula, plus a few that
    stay unpublished."""
    rng = random.Random(seed)
    cats = ["homicidio", "sicariato", "robo-asalto", "extorsion", "violencia-domestica"]
    reports = []
    for i in range(n):
        lat, lon = rng.choice([(14.08, -87.2), (15.5, -88.02)])
        report = make_report(
            latitude=lat + rng.uniform(-0.08, 0.08),
            longitude=lon + rng.uniform(-0.08, 0.08),
            categories=rng.sample(cats, rng.choice([1, 1, 2])),
            occurred_at=timezone.now() - timedelta(days=rng.randint(0, 60), hours=i),
            location_precision=rng.choice(["exact", "place", "municipality"]),
            **overrides,
        )
        if i % 5 != 4:
            publish(report, moderator)
        reports.append(report)
    return reports


def test_hexagons_at_country_zoom_count_every_published_report(client, moderator):
    spread(moderator)
    body = get_map(client, bbox=HONDURAS, zoom=7)
    assert body["mode"] == "hexagons" and body["resolution"] == 4
    assert body["total"] == 32 == naive_count(HONDURAS)
    feature = body["features"][0]
    assert feature["geometry"]["type"] == "Polygon"
    ring = feature["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and -90 < ring[0][0] < -83  # [lon, lat]
    assert set(feature["properties"]) == {"cell", "count"}


@pytest.mark.parametrize("zoom,resolution", [(5, 4), (9, 6), (10, 6), (11, 8), (13, 8)])
def test_zoom_bands(client, moderator, zoom, resolution):
    spread(moderator, n=10)
    body = get_map(client, bbox=TEGUS, zoom=zoom)
    assert body["resolution"] == resolution
    assert body["total"] == naive_count(TEGUS)


def test_counts_are_exact_for_random_viewports_and_filters(client, moderator):
    spread(moderator, n=60)
    rng = random.Random(7)
    today = timezone.localdate()
    filter_sets = [
        {}, {"category": ["violencia-letal"]}, {"category": ["robo-asalto", "extorsion"]},
        {"date_from": (today - timedelta(days=20)).isoformat()},
        {"date_to": (today - timedelta(days=10)).isoformat(), "category": ["homicidio"]},
        {"department": "HN08"},
    ]  # fmt: skip
    for _ in range(25):
        lat, lon = rng.choice([(14.08, -87.2), (15.5, -88.02)])
        half = rng.choice([0.02, 0.05, 0.1, 0.4, 1.5])
        bbox = (
            lon - half * rng.uniform(0.3, 1.5),
            lat - half * rng.uniform(0.3, 1.5),
            lon + half * rng.uniform(0.3, 1.5),
            lat + half * rng.uniform(0.3, 1.5),
        )
        text = ",".join(f"{v:.5f}" for v in bbox)
        zoom = rng.choice([6, 8, 9, 11, 12, 14, 16])
        for filters in filter_sets:
            body = get_map(client, bbox=text, zoom=zoom, **filters)
            expected = naive_count(
                text, categories=filters.get("category"), department=filters.get("department"),
                date_from=_date(filters.get("date_from")), date_to=_date(filters.get("date_to")),
            )  # fmt: skip
            assert body["total"] == expected, (text, zoom, filters)


def _date(text):
    return datetime.fromisoformat(text).date() if text else None


def test_only_published_reports_count(client, moderator):
    report = make_report()
    assert get_map(client, bbox=TEGUS, zoom=7)["total"] == 0
    publish(report, moderator)
    assert get_map(client, bbox=TEGUS, zoom=7)["total"] == 1
    report_transition(actor=moderator, report_id=report.pk, to_status="archived", reason="old")
    assert get_map(client, bbox=TEGUS, zoom=7)["total"] == 0


def test_points_at_street_zoom_list_newest_reports(client, moderator):
    older = publish(make_report(title="Primero", occurred_at=timezone.now() - timedelta(days=3)),
                    moderator)  # fmt: skip
    newer = publish(make_report(title="Segundo", occurred_at=timezone.now() - timedelta(days=1)),
                    moderator)  # fmt: skip
    for _ in range(11):
        publish(make_report(occurred_at=timezone.now() - timedelta(days=9)), moderator)
    lat, lon = newer.public_latitude, newer.public_longitude
    bbox = f"{lon - 0.005},{lat - 0.004},{lon + 0.005},{lat + 0.004}"
    body = get_map(client, bbox=bbox, zoom=16)
    assert body["mode"] == "points" and body["resolution"] is None
    assert body["total"] == 13
    [feature] = body["features"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [lon, lat]}
    reports = feature["properties"]["reports"]
    assert feature["properties"]["count"] == 13 and len(reports) == 10
    assert [r["reference"] for r in reports[:2]] == [newer.reference, older.reference]
    assert reports[0] == {
        "reference": newer.reference, "title": "Segundo", "occurred": reports[0]["occurred"],
        "category": "robo-asalto",
    }  # fmt: skip
    assert "latitude" not in str(body)  # exact points never leave the server


def test_wide_viewport_at_street_zoom_gets_hexagons(client, moderator):
    spread(moderator, n=5)
    body = get_map(client, bbox=HONDURAS, zoom=16)
    assert body["mode"] == "hexagons" and body["total"] == naive_count(HONDURAS)


@pytest.mark.parametrize(
    "params,field",
    [
        ({"bbox": "1,2,3", "zoom": 7}, "bbox"),
        ({"bbox": "a,b,c,d", "zoom": 7}, "bbox"),
        ({"bbox": "-87,15,-88,16", "zoom": 7}, "bbox"),  # crosses the antimeridian
        ({"bbox": "-87,16,-86,15", "zoom": 7}, "bbox"),  # south > north
        ({"bbox": HONDURAS, "zoom": 40}, "zoom"),
        ({"bbox": HONDURAS, "zoom": "x"}, "zoom"),
        ({"zoom": 7}, "bbox"),
        ({"bbox": HONDURAS, "zoom": 7, "category": "nope"}, "category"),
        ({"bbox": HONDURAS, "zoom": 7, "date_from": "2026-02-30"}, "date_from"),
        ({"bbox": HONDURAS, "zoom": 7, "date_from": "2025-05-02", "date_to": "2025-05-01"},
         "date_from"),
    ],
)  # fmt: skip
def test_bad_input_is_a_clear_422(client, params, field):
    response = client.get("/api/v1/map", params, headers={"Accept-Language": "en"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and error["field"] == field
    assert error["message"]


def test_errors_in_the_request_language(client):
    es = client.get("/api/v1/map", {"bbox": "1,2", "zoom": 3}, headers={"Accept-Language": "es"})
    en = client.get("/api/v1/map", {"bbox": "1,2", "zoom": 3}, headers={"Accept-Language": "en"})
    assert en.json()["error"]["message"] == "bbox must be four numbers: west,south,east,north."
    assert es.json()["error"]["message"] != en.json()["error"]["message"]


def test_timeline_counts_local_days(client, moderator, settings):
    assert settings.TIME_ZONE == "America/Tegucigalpa"
    local = timezone.get_default_timezone()
    late = datetime(2026, 3, 4, 23, 30, tzinfo=local)  # 05:30 UTC on the 5th
    early = datetime(2026, 3, 5, 0, 30, tzinfo=local)
    for when in (late, late, early):
        publish(make_report(occurred_at=when, occurred_precision="exact"), moderator)
    publish(make_report(occurred_at=early, latitude=None, longitude=None), moderator)
    body = client.get("/api/v1/map/timeline").json()
    assert body == {"total": 4, "days": [{"date": "2026-03-04", "count": 2},
                                         {"date": "2026-03-05", "count": 2}]}  # fmt: skip
    located = client.get("/api/v1/map/timeline", {"bbox": TEGUS}).json()
    assert located["total"] == 3  # a report without a location is on no viewport
    outside = client.get("/api/v1/map/timeline", {"bbox": "-84,15,-83.5,15.5"}).json()
    assert outside == {"total": 0, "days": []}


def test_timeline_with_filters_matches_the_map(client, moderator):
    spread(moderator, n=40)
    since = (timezone.localdate() - timedelta(days=15)).isoformat()
    for params in ({}, {"category": "violencia-letal"}, {"department": "HN06"},
                   {"date_from": since}):  # fmt: skip
        for bbox in (TEGUS, HONDURAS, "-88.1,15.45,-87.95,15.55"):
            timeline = client.get("/api/v1/map/timeline", {"bbox": bbox, **params}).json()
            assert timeline["total"] == sum(d["count"] for d in timeline["days"])
            assert timeline["total"] == get_map(client, bbox=bbox, zoom=9, **params)["total"]


def test_places_search_ignores_accents(client):
    body = client.get("/api/v1/places", {"q": "comayaguela"}).json()
    assert body[0]["name"] == "Comayagüela"
    assert body[0]["department"] == "HN08" and body[0]["department_name"] == "Francisco Morazán"
    assert set(body[0]) == {"name", "department", "department_name", "latitude", "longitude"}
    assert len(client.get("/api/v1/places", {"q": "san"}).json()) == 10
    assert client.get("/api/v1/places", {"q": "zzzzqx"}).json() == []
    assert client.get("/api/v1/places").status_code == 422


def test_public_reads_are_rate_limited(client, settings):
    settings.RATE_PUBLIC_READ = "2/60"
    for _ in range(2):
        assert client.get("/api/v1/map", {"bbox": HONDURAS, "zoom": 7}).status_code == 200
    response = client.get("/api/v1/map/timeline")
    assert response.status_code == 429 and response["Retry-After"]
    assert client.get("/api/v1/places", {"q": "san"}).status_code == 429


def test_street_points_show_each_date_at_its_precision_and_the_first_category(client, moderator):
    from sereno.reports.schemas import occurred_text

    local = timezone.get_default_timezone()
    late = datetime(2026, 3, 31, 23, 30, tzinfo=local)  # already April in UTC
    made = [
        publish(
            make_report(occurred_at=late, occurred_precision=precision, categories=categories),
            moderator,
        )  # fmt: skip
        for precision, categories in [
            ("exact", ["sicariato", "homicidio"]),
            ("day", ["extorsion"]),
            ("month", ["amenazas", "robo-asalto"]),
        ]  # fmt: skip
    ]
    lat, lon = made[0].public_latitude, made[0].public_longitude
    body = get_map(client, bbox=f"{lon - 0.005},{lat - 0.004},{lon + 0.005},{lat + 0.004}",
                   zoom=16)  # fmt: skip
    [feature] = body["features"]
    listed = {r["reference"]: r for r in feature["properties"]["reports"]}
    for report in made:
        report.refresh_from_db()
        assert listed[report.reference]["occurred"] == occurred_text(report)
        first = report.categories.through.objects.filter(report=report).order_by("id").first()
        assert listed[report.reference]["category"] == first.category.slug
    assert [listed[r.reference]["occurred"] for r in made] == [
        "2026-03-31T23:30-06:00", "2026-03-31", "2026-03"
    ]  # fmt: skip
