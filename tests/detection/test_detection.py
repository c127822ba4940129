"""Detection inside Sereno: the daily run over verified reports, signals, the staff page."""

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from django.utils import timezone

from sereno.accounts.models import AuditEntry
from sereno.detection.models import DetectionRun, Signal
from sereno.detection.services import detection_run
from sereno.reports.models import Report
from tests.conftest import staff_client
from tests.factories import make_report

pytestmark = pytest.mark.django_db

# Barrios of Tegucigalpa and San Pedro Sula: background reports scattered over both cities.
TOWNS = [(14.0818, -87.2068), (15.5058, -88.0259), (14.0650, -87.1800), (15.4700, -88.0000)]
HOTSPOT = (14.1005, -87.1850)  # Colonia Kennedy area: the injected cluster
TODAY = dt.date(2026, 3, 15)  # the run's last day; time is set, never read from the clock


@pytest.fixture
def detect_settings(settings):
    settings.DETECT_STUDY_DAYS = 60
    settings.DETECT_REPLICATES = 99
    settings.DETECT_WORKERS = 1
    settings.DETECT_SEED = 42
    settings.DETECT_CATEGORIES = []
    settings.DETECT_RI_THRESHOLD_DAYS = 50
    settings.DETECT_CUSUM_BASELINE_DAYS = 40
    return settings


def add_reports(points_days, status="verified", today=TODAY, **extra):
    """Reports as users send them (intake service), then verified by moderation."""
    ids = []
    for (lat, lon), days_ago in points_days:
        when = timezone.make_aware(
            dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(12))
        )
        ids.append(make_report(latitude=lat, longitude=lon, occurred_at=when, **extra).pk)
    # Moderation itself is tested elsewhere; here only the status matters.
    Report.objects.filter(pk__in=ids).update(status=status)
    return ids


def background(n=160, seed=1):
    rng = np.random.default_rng(seed)
    towns = rng.integers(0, len(TOWNS), n)
    jitter = rng.normal(0, 0.02, (n, 2))
    days = rng.integers(0, 60, n)
    return [
        ((TOWNS[t][0] + j[0], TOWNS[t][1] + j[1]), int(d))
        for t, j, d in zip(towns, jitter, days, strict=True)
    ]


def hotspot(n=12, seed=2):
    rng = np.random.default_rng(seed)
    jitter = rng.normal(0, 0.003, (n, 2))
    return [
        ((HOTSPOT[0] + a, HOTSPOT[1] + b), int(d))
        for (a, b), d in zip(jitter, rng.integers(0, 2, n), strict=True)
    ]


def test_run_finds_the_injected_cluster_and_stores_it_once(detect_settings):
    add_reports(background() + hotspot())
    add_reports(hotspot(seed=3), status="received")  # not verified: never scanned
    run = detection_run(today=TODAY)
    assert run.state == DetectionRun.State.DONE and run.cases == 172
    assert run.replicates_done == 99 and run.duration_seconds > 0
    top = Signal.objects.get(detector="spacetime", rank=1)
    assert top.cases >= 10 and top.cases > 5 * top.expected
    assert top.end_date == TODAY
    assert (top.end_date - top.start_date).days <= 6
    assert abs(top.centre_latitude - HOTSPOT[0]) < 0.02
    assert abs(top.centre_longitude - HOTSPOT[1]) < 0.02
    assert top.p_value == 0.01 and top.recurrence_days == pytest.approx(100)
    assert all(cell.startswith("87") for cell in top.locations)  # H3 resolution-7 cells
    before = Signal.objects.count()
    detection_run(today=TODAY)
    assert Signal.objects.count() == before  # the same cluster again: refreshed, not copied
    assert DetectionRun.objects.count() == 2


def test_cusum_flags_a_city_wide_surge(detect_settings):
    rng = np.random.default_rng(5)
    city = [((14.0818 + a, -87.2068 + b), int(d)) for (a, b), d in zip(
        rng.normal(0, 0.03, (120, 2)), rng.integers(0, 60, 120), strict=True)]  # fmt: skip
    surge = [((14.0818 + a, -87.2068 + b), int(d)) for (a, b), d in zip(
        rng.normal(0, 0.03, (30, 2)), rng.integers(0, 3, 30), strict=True)]  # fmt: skip
    add_reports(city + surge)
    detection_run(today=TODAY)
    signal = Signal.objects.get(detector="cusum")
    assert signal.cases >= 30 and signal.observed_over_expected > 3
    assert signal.end_date == TODAY
    assert signal.recurrence_days > 365  # the CUSUM's in-control run length with k=0.5, h=5
    assert signal.locations == [
        Report.objects.first().municipality_code or Report.objects.first().department_code
    ]


def test_quiet_data_gives_no_signal_above_the_threshold(detect_settings, client, moderator):
    add_reports(background(seed=9))
    detection_run(today=TODAY)
    page = staff_client(client, moderator).get("/staff/signals/")
    assert page.status_code == 200
    assert "Ninguna señal supera el umbral." in page.content.decode()


@pytest.fixture
def signal(detect_settings):
    add_reports(background() + hotspot())
    detection_run(today=TODAY)
    return Signal.objects.get(detector="spacetime", rank=1)


def test_moderator_sees_signal_and_drafts_an_alert(signal, client, moderator):
    c = staff_client(client, moderator)
    c.cookies["django_language"] = "en"
    page = c.get("/staff/signals/")
    html = page.content.decode()
    assert page.status_code == 200
    assert f"{signal.cases} observed" in html
    links = [
        part.split('"')[0].replace("&amp;", "&")
        for part in html.split('href="')[1:]
        if part.startswith("/staff/alerts/new/?")
    ]
    link = next(x for x in links if parse_qs(urlsplit(x).query)["signal"] == [str(signal.pk)])
    query = parse_qs(urlsplit(link).query)
    lat_lon, radius = query["circle"][0].split(" ")
    lat, lon = (float(x) for x in lat_lon.split(","))
    assert (lat, lon) == (round(signal.centre_latitude, 5), round(signal.centre_longitude, 5))
    assert float(radius) > signal.radius_km  # covers the member cells, not just their centres
    assert query["event"] == ["Reports of violence"]  # all categories scanned together


def test_page_in_spanish(signal, client, moderator):
    html = staff_client(client, moderator).get("/staff/signals/").content.decode()
    assert "Redactar una alerta" in html and f"{signal.cases} observados" in html
    assert "Detectada por primera vez" in html


def test_dismiss_hides_the_signal_and_is_audited(signal, client, moderator):
    c = staff_client(client, moderator)
    answer = c.post(f"/staff/signals/{signal.pk}/dismiss/")
    assert answer.status_code == 302
    signal.refresh_from_db()
    assert signal.state == Signal.State.DISMISSED and signal.state_changed_by == moderator
    assert AuditEntry.objects.filter(action="detection.signal_dismissed").count() == 1
    assert f"/staff/signals/{signal.pk}/dismiss/" not in c.get("/staff/signals/").content.decode()
    detection_run(today=TODAY)  # found again: stays dismissed
    signal.refresh_from_db()
    assert signal.state == Signal.State.DISMISSED


def near_hotspot():
    def near(s):
        return (
            abs(s.centre_latitude - HOTSPOT[0]) < 0.02
            and abs(s.centre_longitude - HOTSPOT[1]) < 0.02
        )

    return [s for s in Signal.objects.filter(detector="spacetime") if near(s)]


def test_a_cluster_still_going_on_the_next_day_stays_one_signal(signal, client, moderator):
    staff_client(client, moderator).post(f"/staff/signals/{signal.pk}/dismiss/")
    tomorrow = TODAY + dt.timedelta(days=1)
    add_reports(hotspot(n=6, seed=4), today=tomorrow)  # more shootings there the next day
    detection_run(today=tomorrow)
    [followed] = near_hotspot()  # not a second signal for the same place
    assert followed.pk == signal.pk and followed.end_date == tomorrow
    assert followed.cases > signal.cases  # today's figures
    assert followed.created_at == signal.created_at  # first found the day before
    assert followed.state == Signal.State.DISMISSED  # the moderator is not asked again


def test_a_cluster_that_stopped_and_came_back_is_a_new_signal(signal):
    later = TODAY + dt.timedelta(days=20)
    add_reports(hotspot(seed=5), today=later)
    detection_run(today=later)
    assert {s.end_date for s in near_hotspot()} == {TODAY, later}


def test_outsiders_and_anonymous_are_refused(signal, client, outsider):
    anonymous = client.get("/staff/signals/")
    assert anonymous.status_code == 302 and "/accounts/" in anonymous["Location"]
    assert client.post(f"/staff/signals/{signal.pk}/dismiss/").status_code == 302
    c = staff_client(client, outsider)
    assert c.get("/staff/signals/").status_code == 403
    assert c.post(f"/staff/signals/{signal.pk}/dismiss/").status_code == 403
    signal.refresh_from_db()
    assert signal.state == Signal.State.NEW


def test_periodic_task_runs_detection(detect_settings):
    from sereno.detection.tasks import detection_periodic_task

    yesterday = timezone.localdate() - dt.timedelta(days=1)
    add_reports(background(n=40), today=yesterday)
    detection_periodic_task.call_local()
    assert DetectionRun.objects.get().state == DetectionRun.State.DONE
