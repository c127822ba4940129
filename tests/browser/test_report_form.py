"""The report form in Chromium at phone size: without JavaScript (a plain POST), offline (kept
on the phone and sent once when the connection returns), the first-load budget, languages."""

import gzip
import os
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from sereno.reports.models import Report

pytestmark = pytest.mark.django_db(transaction=True)
expect = pytest.importorskip("playwright.sync_api").expect

BUDGET = 60 * 1024  # bytes transferred, gzip-compressed, for the form's first load
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def screenshots(tmp_path) -> Path:
    """docs/screenshots with SERENO_SCREENSHOTS=1 (to refresh the committed pictures), else a
    temporary folder, so that a test run leaves the tree clean."""
    return DOCS_SCREENSHOTS if os.environ.get("SERENO_SCREENSHOTS") == "1" else tmp_path


def fill(page, title="Extorsión a la pulpería"):
    page.fill("#id_title", title)
    page.check("input[name=categories][value=extorsion]")
    page.fill("#id_when_date", (timezone.localdate() - timedelta(days=2)).isoformat())
    page.fill("#id_place_name", "Comayagüela")
    page.fill("#id_description", "Cobran el impuesto de guerra cada semana.")


def test_submit_without_javascript_shows_the_reference(page_no_js, live_server):
    page_no_js.goto(live_server.url + "/report/")
    fill(page_no_js)
    page_no_js.click("button[type=submit].primary")
    reference = page_no_js.locator("#reference").inner_text()
    report = Report.objects.get()
    assert reference == report.reference
    assert report.channel == "web" and report.latitude is not None
    assert page_no_js.get_by_text("Qué pasa ahora").is_visible()


def test_errors_without_javascript_are_next_to_the_fields(page_no_js, live_server):
    page_no_js.goto(live_server.url + "/report/")
    page_no_js.click("button[type=submit].primary")
    assert page_no_js.locator("#id_title-error").inner_text() == "Este campo es obligatorio."
    assert Report.objects.count() == 0


def test_submit_with_javascript_online(page, live_server):
    page.goto(live_server.url + "/report/")
    fill(page)
    page.click("button[type=submit].primary")
    page.wait_for_selector("#sent-box:not([hidden])")
    report = Report.objects.get()
    assert report.reference in page.locator("#sent-box").inner_text()
    assert report.channel == "web" and report.intake_key.startswith("web:web-")


def test_double_tap_with_javascript_makes_one_report(page, live_server):
    page.goto(live_server.url + "/report/")
    fill(page)
    page.dblclick("button[type=submit].primary")
    page.wait_for_selector("#sent-box:not([hidden])")
    page.wait_for_load_state("networkidle")
    assert Report.objects.count() == 1


def test_a_server_error_is_retried_within_seconds_and_the_reference_shown(page, live_server):
    """A busy server (503) keeps the report on the phone; it is sent again within seconds (by
    the page or the service worker) and the page shows its reference."""
    page.goto(live_server.url + "/report/")
    page.evaluate("navigator.serviceWorker.ready")
    refused = []

    def busy_once(route):
        if route.request.method == "POST" and not refused:
            refused.append(route.request.headers.get("idempotency-key"))
            route.fulfill(status=503, body="busy")
        else:
            route.continue_()

    page.route("**/report/", busy_once)
    fill(page, title="Reintento tras un error")
    page.click("button[type=submit].primary")
    page.wait_for_selector("#sent-box:not([hidden])", timeout=10000)
    report = Report.objects.get()
    assert refused and report.title == "Reintento tras un error"
    assert report.reference in page.locator("#sent-box").inner_text()


def test_offline_report_is_kept_and_sent_once(page, live_server):
    context = page.context
    page.goto(live_server.url + "/report/")
    page.evaluate("navigator.serviceWorker.ready")
    fill(page, title="Reportado sin conexión")
    context.set_offline(True)
    page.click("button[type=submit].primary")
    status = page.locator("#outbox-status")
    status.get_by_text("Sin conexión").wait_for()
    assert Report.objects.count() == 0
    # The form itself opens without a connection (service worker), and still knows the report.
    page.reload()
    page.locator("#outbox-status").get_by_text("esperando").wait_for()
    context.set_offline(False)
    page.locator("#outbox-status").get_by_text("Referencia").wait_for()
    # Going offline and online again, and reloading, sends nothing more.
    context.set_offline(True)
    context.set_offline(False)
    page.reload()
    page.wait_for_load_state("networkidle")
    report = Report.objects.get()
    assert report.title == "Reportado sin conexión"
    assert (
        page.evaluate(
            """() => new Promise(ok => { const r = indexedDB.open('sereno-outbox', 1);
        r.onsuccess = () => {
          const q = r.result.transaction('outbox').objectStore('outbox').count();
          q.onsuccess = () => ok(q.result); }; })"""
        )
        == 0
    )


def test_first_load_fits_the_budget(page, live_server):
    """Every response of the first visit (the service worker's too), gzip-compressed as the
    production server sends them (the test server does not compress), plus their headers."""
    responses = []
    page.context.on("response", lambda response: responses.append(response))
    page.goto(live_server.url + "/report/")
    page.evaluate("navigator.serviceWorker.ready")
    page.wait_for_load_state("networkidle")
    sizes = []
    for response in responses:
        if "/no-tiles/" in response.url:
            continue
        with urllib.request.urlopen(response.url) as again:  # noqa: S310 (our live server)
            body = again.read()
        headers = sum(len(k) + len(v) + 4 for k, v in response.headers.items())
        sizes.append(
            (response.url.removeprefix(live_server.url), len(gzip.compress(body, 6)) + headers)
        )
    total = sum(size for _, size in sizes)
    print(f"form first load: {total} bytes (gzip) in {len(sizes)} responses: {sizes}")
    assert not any("leaflet" in url for url, _ in sizes)  # the map library only when asked for
    assert total <= BUDGET


def test_map_picker_loads_leaflet_on_demand_and_sets_the_location(page, live_server):
    page.goto(live_server.url + "/report/")
    page.click("#pick-on-map")
    page.wait_for_selector("#pick-map .leaflet-container, #pick-map.leaflet-container")
    box = page.locator("#pick-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert page.input_value("#id_location_precision") == "exact"
    assert 12 < float(page.input_value("#id_latitude")) < 17
    assert "aproximada" in page.locator("#location-status").inner_text()


def test_place_autocomplete_sets_the_coordinates(page, live_server):
    page.goto(live_server.url + "/report/")
    page.locator("#id_place_name").press_sequentially("La Ceib", delay=20)
    option = page.locator("#place-options option").first
    option.wait_for(state="attached")
    label = option.get_attribute("value")
    assert label.startswith("La Ceiba")
    page.fill("#id_place_name", label)  # as when the person picks it from the list
    assert page.input_value("#id_location_precision") == "place"
    assert 15.6 < float(page.input_value("#id_latitude")) < 15.9
    assert page.input_value("#id_department") == "HN01"  # Atlántida


def test_use_my_location_says_the_spot_is_not_published(page, live_server):
    page.context.grant_permissions(["geolocation"], origin=live_server.url)
    page.context.set_geolocation({"latitude": 15.5042, "longitude": -88.025})
    page.goto(live_server.url + "/report/")
    page.click("#use-location")
    expect(page.locator("#id_latitude")).not_to_have_value("")
    assert page.input_value("#id_location_precision") == "exact"
    assert "aproximada" in page.locator("#location-status").inner_text()


def test_language_switch_to_english_and_back(page, live_server):
    page.goto(live_server.url + "/report/")
    assert page.locator("h1").inner_text() == "Enviar un informe"
    page.click("header .lang a[lang=en]")
    page.wait_for_url("**/report/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Send a report"
    assert "never published" in page.locator("form#report-form").inner_text()
    page.click("header .lang a[lang=es]")
    page.wait_for_url("**/report/")
    assert page.locator("h1").inner_text() == "Enviar un informe"


def test_form_fits_320_pixels_and_saves_a_screenshot(page, live_server, screenshots):
    page.set_viewport_size({"width": 320, "height": 740})
    page.goto(live_server.url + "/report/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    page.set_viewport_size({"width": 360, "height": 740})
    screenshots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshots / "form.png"), full_page=True,
                    clip={"x": 0, "y": 0, "width": 360, "height": 1480})  # fmt: skip
