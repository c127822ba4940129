"""The whole journey on phones: a person reports through the form, a moderator signs in with
a TOTP code and publishes it on the desk, and anyone sees it counted on the public map at
country zoom and as a point (with a link to its page) at street zoom."""

import pytest
from django_otp.oath import TOTP

from sereno.reports.models import Report
from tests.browser.conftest import _context
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db(transaction=True)
expect = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture(autouse=True)
def _memory_cache(settings):
    # See test_map.py: concurrent cache writes on in-memory SQLite fail instead of waiting.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def totp_code(user) -> str:
    device = user.totpdevice_set.get()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def test_report_moderate_publish_and_see_it_on_the_map(browser, page, live_server, requests_seen):
    # 1. A person reports from a phone.
    page.goto(live_server.url + "/report/")
    page.fill("#id_title", "Disparos cerca de la escuela")
    page.check("input[name=categories][value=amenazas]")
    page.fill("#id_when_date", "2026-01-15")
    page.fill("#id_place_name", "La Ceiba")
    page.fill("#id_description", "Se escucharon disparos a la hora de salida.")
    page.click("button[type=submit].primary")
    page.wait_for_selector("#sent-box:not([hidden])")
    report = Report.objects.get()
    assert report.reference in page.locator("#sent-box").inner_text()

    # 2. A moderator signs in with password + TOTP on another phone and publishes it.
    moderator = make_user("mona", "moderator")
    desk = _context(browser, javascript=True)
    desk.on("request", requests_seen.record)
    staff = desk.new_page()
    staff.goto(f"{live_server.url}/desk/r/{report.reference}/")
    staff.fill("input[name=username]", moderator.username)
    staff.fill("input[name=password]", PASSWORD)
    staff.fill("input[name=otp_token]", totp_code(moderator))
    staff.click("button[type=submit].primary")
    staff.wait_for_url(f"**/desk/r/{report.reference}/")
    staff.keyboard.press("v")
    staff.wait_for_selector("#report-status.badge-verified")
    staff.keyboard.press("p")
    staff.wait_for_selector("#report-status.badge-published")
    desk.close()
    report.refresh_from_db()
    assert report.status == "published"

    # 3. Anyone sees it on the map: counted at country zoom, a point at street zoom.
    page.goto(live_server.url + "/")
    expect(page.locator("#map")).to_have_attribute("data-total", "1")
    assert page.get_attribute("#map", "data-mode") == "hexagons"
    lat, lon = report.public_latitude, report.public_longitude
    page.goto(f"{live_server.url}/?lat={lat}&lon={lon}&z=16")
    expect(page.locator("#map")).to_have_attribute("data-mode", "points")
    page.locator(".leaflet-overlay-pane .leaflet-interactive").first.click()
    expect(page.locator(".leaflet-popup-content a")).to_have_text("Disparos cerca de la escuela")
