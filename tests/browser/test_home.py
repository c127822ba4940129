"""The public home page in Chromium at phone size, with and without JavaScript."""

import pytest

from tests.factories import make_report, publish

pytestmark = pytest.mark.django_db(transaction=True)


def test_home_lists_published_reports_without_javascript(page_no_js, live_server, moderator):
    report = make_report(title="Bloqueo en la carretera al norte")
    publish(report, moderator)
    page_no_js.goto(live_server.url + "/")
    assert page_no_js.locator("html").get_attribute("lang") == "es"
    assert page_no_js.get_by_text("Bloqueo en la carretera al norte").is_visible()


def test_home_fits_a_phone_and_stays_on_this_machine(page, live_server):
    page.goto(live_server.url + "/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_keyboard_reaches_the_skip_link_then_the_navigation(page, live_server):
    page.goto(live_server.url + "/")
    # Once the map has drawn: its first draw writes the view into the URL (replaceState), and
    # a fragment navigation begun in the same instant can be dropped by Chromium.
    page.wait_for_selector("#map[data-total]:not([aria-busy])")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    page.goto(live_server.url + "/")
    reached = []
    for _ in range(6):  # skip link, brand, map, alerts, get alerts, report
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.getAttribute('href')"))
    assert reached[2:] == ["/", "/alerts/", "/alertas/", "/report/"]
