"""`sereno demo`: the synthetic reports checked the way a user would look at them.

One load of N reports is shared by the module (rolled back at its end); each test runs in its
own savepoint on top of it, so tests that write (a second load, a transition) leave nothing.
"""

import math
import re
from collections import Counter
from datetime import datetime, time, timedelta
from io import StringIO

import h3
import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from sereno.geo import gazetteer
from sereno.geo.services import INDEX_RESOLUTIONS, PUBLIC_RESOLUTION
from sereno.reports import demo
from sereno.reports.models import Category, Report, Status
from sereno.reports.selectors import ReportFilters, public_reports
from sereno.reports.services import report_create, report_transition
from tests.factories import report_input

pytestmark = pytest.mark.django_db

N = 4000
DAYS = 120
SEED = 7
LETHAL = {"homicidio", "sicariato", "masacre"}
SENSITIVE = {"violencia-domestica", "violencia-sexual"}


@pytest.fixture(scope="module")
def loaded(django_db_setup, django_db_blocker):
    now = timezone.now()
    with django_db_blocker.unblock(), transaction.atomic():
        result = demo.load(reports=N, seed=SEED, days=DAYS, now=now)
        yield result, now
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def rows(loaded):
    """Every loaded report with its category slugs, read once through the ORM."""
    with transaction.atomic():  # the module's connection is already unblocked by `loaded`
        reports = list(Report.objects.prefetch_related("categories").order_by("id"))
    return [(r, sorted(c.slug for c in r.categories.all())) for r in reports]


def km(lat1, lon1, lat2, lon2) -> float:
    dlat, dlon = math.radians(lat2 - lat1), math.radians(lon2 - lon1)
    a = (
        math.sin(dlat / 2) ** 2
        + math.cos(math.radians(lat1)) * math.cos(math.radians(lat2)) * math.sin(dlon / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def local(dt: datetime) -> datetime:
    return timezone.localtime(dt)


def test_loads_the_requested_number(loaded, rows):
    result, _ = loaded
    assert result.created == N and not result.skipped
    assert Report.objects.count() == N == len(rows)
    assert len({r.reference for r, _ in rows}) == N


def test_if_empty_does_nothing_when_reports_exist(loaded):
    assert demo.load(reports=50, if_empty=True).skipped
    assert Report.objects.count() == N
    Report.objects.all().delete()
    again = demo.load(reports=50, if_empty=True)
    assert not again.skipped and Report.objects.count() == 50


def test_departments_and_places_come_from_the_gazetteer(rows):
    codes = {code for code, _ in gazetteer.DEPARTMENTS}
    by_name: dict[tuple[str, str], list] = {}
    for place in gazetteer.places():
        by_name.setdefault((place.name, place.department_code), []).append(place)
    departments = Counter()
    for report, _ in rows:
        assert report.department_code in codes
        departments[report.department_code] += 1
        twins = by_name.get((report.place_name, report.department_code))
        assert twins, f"{report.place_name!r} is not a gazetteer place in {report.department_code}"
        # Honduras, and near the place it names.
        assert 12.9 < report.latitude < 17.5 and -89.4 < report.longitude < -83.1
        nearest = min(km(report.latitude, report.longitude, p.latitude, p.longitude) for p in twins)
        assert nearest < 50
    # San Pedro Sula (Cortés) and the Distrito Central (Francisco Morazán) lead, and reports
    # come from all over the country.
    assert {code for code, _ in departments.most_common(2)} == {"HN06", "HN08"}
    assert len(departments) >= 15


def test_category_mix_is_plausible(rows):
    leaves = set(Category.objects.filter(parent__isnull=False).values_list("slug", flat=True))
    first = Counter()
    two = 0
    for _, slugs in rows:
        assert 1 <= len(slugs) <= 2
        assert set(slugs) <= leaves  # specific categories, not their groups
        two += len(slugs) == 2
        first.update(slugs)
    robbery_extortion = {"robo-asalto", "extorsion"}
    assert {slug for slug, _ in first.most_common(2)} == robbery_extortion
    lethal = sum(1 for _, slugs in rows if LETHAL & set(slugs))
    assert 0.1 < lethal / N < 0.35
    assert 0.05 < two / N < 0.3
    assert len(first) >= 10  # the whole taxonomy is used, not two or three categories


def test_sensitive_reports_are_flagged_and_published_coarser(rows):
    resolutions = {True: [], False: []}
    for report, slugs in rows:
        assert report.sensitive == bool(SENSITIVE & set(slugs) or report.involves_minors)
        assert not report.sensitive_by_moderator
        expected = PUBLIC_RESOLUTION[report.location_precision][int(report.sensitive)]
        assert report.public_resolution == expected
        resolutions[report.sensitive].append(report.public_resolution)
        # The public point is the centre of the public cell, and that cell holds the exact
        # point (for a municipality or department, the place's centre).
        cell = h3.latlng_to_cell(report.latitude, report.longitude, report.public_resolution)
        centre = h3.cell_to_latlng(cell)
        assert report.public_latitude == pytest.approx(centre[0], abs=2e-6)
        assert report.public_longitude == pytest.approx(centre[1], abs=2e-6)
        for res in INDEX_RESOLUTIONS:
            stored = getattr(report, f"h3_r{res}")
            assert h3.get_resolution(h3.int_to_str(stored)) == res
            if res <= report.public_resolution:
                assert h3.int_to_str(stored) == h3.cell_to_parent(cell, res)
    assert resolutions[True] and resolutions[False]
    assert max(resolutions[True]) <= 7 < max(resolutions[False])
    mean = {k: sum(v) / len(v) for k, v in resolutions.items()}
    assert mean[True] < mean[False] - 0.5


def test_published_sensitive_report_shows_only_the_coarse_point(client, rows):
    report = next(r for r, _ in rows if r.sensitive and r.status == Status.PUBLISHED)
    data = client.get(f"/api/v1/reports/{report.reference}").json()
    assert data["location"]["resolution"] <= 7
    assert (data["location"]["latitude"], data["location"]["longitude"]) == (
        report.public_latitude,
        report.public_longitude,
    )
    body = str(data)
    assert str(report.latitude) not in body and str(report.longitude) not in body


def test_dates_are_in_the_window_and_never_in_the_future(loaded, rows):
    _, now = loaded
    today = local(now).date()
    first_day = today - timedelta(days=DAYS - 1)
    window_start = timezone.make_aware(datetime.combine(first_day, time.min))
    month_start = timezone.make_aware(datetime.combine(first_day.replace(day=1), time.min))
    for report, _ in rows:
        for value in (report.occurred_at, report.created_at, report.status_changed_at):
            assert value <= now
        assert report.occurred_at <= report.created_at <= report.status_changed_at
        assert report.updated_at == report.status_changed_at
        occurred = local(report.occurred_at)
        if report.occurred_precision == "month":
            # Known to the month: stored as its first day, a month that overlaps the window.
            assert occurred.day == 1 and occurred.time() == time.min
            assert report.occurred_at >= month_start
        else:
            assert report.occurred_at >= window_start
            if report.occurred_precision == "day":
                assert occurred.time() == time.min
        assert report.created_at >= window_start
        if report.status in (Status.PUBLISHED, Status.ARCHIVED):
            assert report.created_at <= report.published_at <= now
        else:
            assert report.published_at is None
    statuses = Counter(r.status for r, _ in rows)
    assert set(statuses) == set(Status.values)
    assert statuses.most_common(1)[0][0] == Status.PUBLISHED
    assert 0.05 < statuses[Status.RECEIVED] / N < 0.4  # a moderation queue to work on


def test_daily_and_weekly_rhythms(rows):
    by_hour = Counter()
    by_weekday = Counter()
    for report, slugs in rows:
        occurred = local(report.occurred_at)
        if report.occurred_precision == "exact" and LETHAL & set(slugs):
            by_hour[occurred.hour] += 1
        if report.occurred_precision != "month" and (LETHAL | SENSITIVE) & set(slugs):
            by_weekday[occurred.weekday()] += 1
    night = sum(by_hour[h] for h in (20, 21, 22, 23, 0, 1, 2)) / 7
    morning = sum(by_hour[h] for h in (8, 9, 10, 11)) / 4
    assert night > 2 * morning, by_hour
    weekend = (by_weekday[5] + by_weekday[6]) / 2
    weekdays = sum(by_weekday[d] for d in range(4)) / 4
    assert weekend > 1.25 * weekdays, by_weekday


def test_injected_clusters_are_real_excesses(loaded, rows):
    result, _ = loaded
    assert [c.category for c in result.clusters] == [s.category for s in demo.CLUSTERS]
    statuses = set()
    for cluster in result.clusters:
        span = (cluster.end - cluster.start).days + 1
        assert 1 <= span <= 14 and cluster.end <= local(loaded[1]).date()

        def nearby(first, last, cluster=cluster):
            return [
                r
                for r, slugs in rows
                if cluster.category in slugs
                and first <= local(r.occurred_at).date() <= last
                and km(r.latitude, r.longitude, cluster.latitude, cluster.longitude)
                <= cluster.radius_km + 0.005
            ]

        inside = nearby(cluster.start, cluster.end)
        assert len(inside) >= cluster.reports >= 6
        assert sum(r.place_name == cluster.place for r in inside) >= cluster.reports
        before = nearby(cluster.start - timedelta(days=span), cluster.start - timedelta(days=1))
        assert len(before) <= max(2, cluster.reports // 4)
        statuses |= {r.status for r in inside}
    # Detection and moderators have work: not every cluster report is published yet.
    assert {Status.RECEIVED, Status.VERIFIED} <= statuses


def test_only_published_reports_are_public(client, rows):
    published = {r.pk for r, _ in rows if r.status == Status.PUBLISHED}
    assert set(public_reports(ReportFilters()).values_list("pk", flat=True)) == published
    listing = client.get("/api/v1/reports").json()
    assert listing["count"] == len(published)
    for status in (Status.RECEIVED, Status.VERIFIED, Status.REJECTED, Status.ARCHIVED):
        hidden = next(r for r, _ in rows if r.status == status)
        assert client.get(f"/api/v1/reports/{hidden.reference}").status_code == 404
    shown = next(r for r, _ in rows if r.status == Status.PUBLISHED)
    data = client.get(f"/api/v1/reports/{shown.reference}").json()
    assert data["title"] == shown.title and data["categories"]


SPANISH = re.compile(r"\b(en|de|la|el|los|las|una?|por|que|se|y)\b")
ENGLISH = re.compile(r"\b(the|and|was|were|with|of)\b", re.IGNORECASE)
TIME_OF_DAY = {
    " en la madrugada": range(0, 6),
    " por la mañana": range(6, 12),
    " al mediodía": range(12, 14),
    " por la tarde": range(14, 19),
    " por la noche": range(19, 24),
}


def test_texts_are_spanish_and_agree_with_the_data(rows):
    accented = 0
    for report, slugs in rows:
        assert report.language == "es"
        text = f"{report.title} {report.description}"
        assert "{" not in text and "}" not in text
        assert SPANISH.search(report.description) and not ENGLISH.search(text)
        assert report.place_name in report.title
        accented += bool(re.search("[áéíóúñ«¿]", text))
        said = [phrase for phrase in TIME_OF_DAY if phrase in report.description]
        if report.occurred_precision == "exact" and said:
            assert local(report.occurred_at).hour in TIME_OF_DAY[said[0]], report.description
        if report.occurred_precision != "exact":
            assert not said, report.description
        if "No hubo heridos." in report.description:
            assert not report.injured and not report.killed
        if "masacre" in slugs:
            assert report.killed >= 3 and str(report.killed) in text
        if LETHAL & set(slugs):
            assert report.killed >= 1
    assert accented > N / 3


def test_loading_twice_never_collides_on_references(loaded):
    again = demo.load(reports=500, seed=SEED, days=DAYS)  # the same seed: the same reports
    assert again.created == 500
    assert Report.objects.count() == N + 500
    assert Report.objects.values("reference").distinct().count() == N + 500


def test_loaded_reports_work_with_the_orm_and_services(moderator, rows):
    homicides = Report.objects.filter(categories__slug="homicidio")
    assert homicides.count() == sum("homicidio" in slugs for _, slugs in rows) > 0
    report = Report.objects.filter(status=Status.RECEIVED).first()
    assert report.categories.exists()
    report_transition(actor=moderator, report_id=report.pk, to_status="verified")
    assert Report.objects.get(pk=report.pk).status == Status.VERIFIED
    # Intake after a load: no clash with the ids the loader took.
    fresh, created = report_create(data=report_input())
    assert created and fresh.pk > max(r.pk for r, _ in rows)
    assert Report.objects.get(reference=fresh.reference).categories.count() == 1


def test_command(loaded):
    out = StringIO()
    call_command("demo", reports=300, seed=3, days=30, stdout=out)
    assert "loaded 300 reports" in out.getvalue()
    assert "cluster: " in out.getvalue()  # 300 reports are enough for clusters
    assert Report.objects.count() == N + 300
    out = StringIO()
    call_command("demo", reports=10, if_empty=True, stdout=out)
    assert "already exist" in out.getvalue()
    assert Report.objects.count() == N + 300
    for bad in ({"reports": -1}, {"days": 0}):
        with pytest.raises(CommandError):
            call_command("demo", **bad)


def _schema() -> set[str]:
    """Definitions of the report tables' indexes and constraints."""
    tables = [Report._meta.db_table, Report.categories.through._meta.db_table]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT type, name, sql FROM sqlite_master WHERE tbl_name IN (%s, %s)", tables
            )
        else:
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN (%s, %s) UNION "
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid IN (%s::regclass, %s::regclass)",
                tables + tables,
            )
        return {" ".join(map(str, row)) for row in cursor.fetchall()}


def test_large_load_rebuilds_indexes_exactly(loaded, monkeypatch):
    before = _schema()
    Report.objects.all().delete()
    monkeypatch.setattr(demo, "REBUILD_INDEXES_AT", 100)
    monkeypatch.setattr(demo, "CHUNK", 200)
    result = demo.load(reports=500, seed=2, days=30)
    assert result.created == Report.objects.count() == 500
    assert _schema() == before
    assert Report.objects.filter(categories__slug="extorsion").exists()


def test_a_failed_large_load_leaves_the_table_as_it_was(loaded, monkeypatch):
    before = _schema()
    Report.objects.all().delete()
    monkeypatch.setattr(demo, "REBUILD_INDEXES_AT", 100)
    monkeypatch.setattr(demo, "CHUNK", 200)
    real = demo._allocate_ids
    calls = []

    def failing(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(*args)

    monkeypatch.setattr(demo, "_allocate_ids", failing)
    with pytest.raises(RuntimeError):
        demo.load(reports=500, seed=2, days=30)
    assert Report.objects.count() == 0
    assert _schema() == before


def test_with_imported_areas_every_report_gets_the_codes_of_its_exact_point(tmp_path):
    """Once boundaries are imported, demo reports carry the department and municipality that
    `locate` would give each of them (the exact point, not a cell centre)."""
    import json

    from sereno.geo import areas
    from sereno.geo.services import locate
    from tests.geo.helpers import DEPARTMENTS, MUNICIPALITIES

    for name, doc in (("adm1", DEPARTMENTS), ("adm2", MUNICIPALITIES)):
        path = tmp_path / f"{name}.geojson"
        path.write_text(json.dumps(doc), encoding="utf-8")
        areas.import_areas(str(path), "auto")
    areas.invalidate()
    try:
        before = Report.objects.order_by("-id").values_list("id", flat=True).first() or 0
        demo.load(reports=600, seed=3, days=60)
        checked = 0
        for report in Report.objects.filter(id__gt=before).exclude(latitude=None).iterator():
            where = locate(
                report.latitude,
                report.longitude,
                precision=report.location_precision,
                sensitive=report.sensitive,
            )
            assert (report.department_code, report.municipality_code) == (
                where.department_code, where.municipality_code
            ), report.reference  # fmt: skip
            checked += report.municipality_code != ""
        assert checked > 0  # some reports fell inside the made-up municipalities
    finally:
        areas.invalidate()
