"""The public map in Chromium at phone size: hexagon counts at country zoom, the snapped point
with a popup at street zoom, filters and view in the URL, the timeline; no tiles reachable."""

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tests.factories import make_report, publish

pytestmark = pytest.mark.django_db(transaction=True)
expect = pytest.importorskip("playwright.sync_api").expect

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def screenshots(tmp_path) -> Path:
    """docs/screenshots with SERENO_SCREENSHOTS=1 (to refresh the committed pictures), else a
    temporary folder, so that a test run leaves the tree clean."""
    return DOCS_SCREENSHOTS if os.environ.get("SERENO_SCREENSHOTS") == "1" else tmp_path


SAN_PEDRO_SULA = (15.5042, -88.0250)


@pytest.fixture(autouse=True)
def _memory_cache(settings):
    """The map and the timeline are asked for at once; the test database is SQLite in memory
    (shared cache), where two writers to the cache table (rate limits) fail with "table is
    locked" instead of waiting. Production runs on a file in WAL mode or PostgreSQL/Redis."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.fixture
def published(moderator):
    now = timezone.now()
    reports = [
        make_report(title="Asalto en el bus", occurred_at=now - timedelta(days=1)),
        make_report(title="Asalto en la parada", occurred_at=now - timedelta(days=2)),
        make_report(
            title="Homicidio en la colonia",
            categories=["homicidio"],
            occurred_at=now - timedelta(days=2),
        ),  # fmt: skip
        make_report(
            title="Extorsión al taxi",
            categories=["extorsion"],
            latitude=SAN_PEDRO_SULA[0],
            longitude=SAN_PEDRO_SULA[1],
        ),  # fmt: skip
    ]
    make_report(title="Todavía sin revisar")  # received, never on the map
    return [publish(report, moderator) for report in reports]


def shown_total(page) -> int:
    page.wait_for_selector("#map[data-total]:not([aria-busy])")
    return int(page.get_attribute("#map", "data-total"))


def test_country_zoom_counts_published_reports_in_hexagons(page, live_server, published):
    page.goto(live_server.url + "/")
    assert shown_total(page) == 4
    assert page.get_attribute("#map", "data-mode") == "hexagons"
    assert page.locator(".leaflet-overlay-pane path.leaflet-interactive").count() >= 2
    assert page.locator("#map-total").inner_text() == "4 informes"
    assert page.locator("#legend .scale").is_visible()
    page.wait_for_selector("#timeline svg rect")
    assert page.locator("#timeline svg rect").count() >= 2
    # The view is in the URL, so it can be shared.
    expect(page).to_have_url(re.compile(r"[?&]z=\d+"))
    assert "lat=" in page.url and "lon=" in page.url


def test_street_zoom_shows_the_point_with_a_popup_to_the_report(page, live_server, published):
    report = published[3]
    lat, lon = report.public_latitude, report.public_longitude
    page.goto(f"{live_server.url}/?lat={lat}&lon={lon}&z=16")
    assert shown_total(page) == 1
    assert page.get_attribute("#map", "data-mode") == "points"
    page.locator(".leaflet-overlay-pane .leaflet-interactive").first.click()
    link = page.locator(".leaflet-popup-content a")
    assert link.inner_text() == "Extorsión al taxi"
    assert "Extorsión («impuesto de guerra»)" in page.locator(".leaflet-popup-content").inner_text()
    link.click()
    page.wait_for_url(f"**/r/{report.reference}/")
    assert page.locator("h1").inner_text() == "Extorsión al taxi"
    assert "nunca se publica" in page.locator(".where").inner_text()


def test_filters_change_the_counts_and_the_url(page, live_server, published):
    page.goto(live_server.url + "/")
    assert shown_total(page) == 4
    page.click("#filters-box summary")
    page.check("#filters input[name=category][value=homicidio]")
    expect(page.locator("#map")).to_have_attribute("data-total", "1")
    expect(page).to_have_url(re.compile("category=homicidio"))
    # The list below the map follows at once, without a reload.
    expect(page.locator("#report-list .reports li")).to_have_count(1)
    expect(page.locator("#report-list")).to_contain_text("Homicidio en la colonia")
    # The shared link opens the same filtered view, for the list below the map too.
    page.goto(page.url)
    assert shown_total(page) == 1
    assert page.locator(".reports li").count() == 1
    assert page.is_checked("#filters input[name=category][value=homicidio]")


def test_map_page_in_english_and_at_320_pixels(page, live_server, published):
    page.set_viewport_size({"width": 320, "height": 700})
    page.goto(live_server.url + "/lang/en/?next=/")
    assert shown_total(page) == 4
    assert page.locator("#map-total").inner_text() == "4 reports"
    assert page.evaluate("document.documentElement.scrollWidth") <= 320


def test_map_with_demo_data_and_screenshot(page, live_server, screenshots):
    from sereno.reports import demo
    from sereno.reports.models import Report

    demo.load(reports=3000, seed=7, days=60)  # counts the map too
    published = Report.objects.filter(status="published", merged_into__isnull=True).count()
    page.set_viewport_size({"width": 360, "height": 900})
    page.goto(live_server.url + "/")
    total = shown_total(page)
    assert 0 < total <= published  # reports without a public point are not on the map
    page.wait_for_selector("#timeline svg rect")
    screenshots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshots / "map.png"))
