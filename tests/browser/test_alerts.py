"""Alerts in Chromium at phone size: a moderator drafts an alert without JavaScript, another
approves it and watches the sending; the public map's banner leads to the alert page, whose
map draws the area; no request leaves the machine."""

import pytest
from django.conf import settings
from django.test import Client

from sereno.alerts.models import Alert
from sereno.messaging.models import Channel
from tests.alerts.conftest import draft, publish
from tests.alerts.fanout_support import subscriber
from tests.conftest import make_user, staff_client

pytestmark = pytest.mark.django_db(transaction=True)


def sign_in(page, live_server, user, path):
    client = staff_client(Client(), user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )
    page.goto(live_server.url + path)


def test_draft_without_javascript_then_a_second_moderator_approves(
    browser, page_no_js, live_server
):
    drafter, approver = make_user("mona", "moderator"), make_user("mateo", "moderator")
    sms = Channel.objects.create(kind="kannel", name="SMS", address="2222", enabled=True)
    for i in range(2):
        subscriber(sms, i)
    page = page_no_js
    sign_in(page, live_server, drafter, "/staff/alerts/new/?circle=14.0723,-87.1921+2")
    page.fill("#id_event_es", "Balacera")
    page.fill("#id_headline_es", "Balacera en la colonia Kennedy")
    page.fill("#id_instruction_es", "Evite la zona.")
    page.click("button[type=submit].primary")
    page.wait_for_selector("#do-submit")
    page.click("#do-submit")
    page.wait_for_selector("#alert-state.badge-alert-submitted")
    assert page.locator("#do-approve").count() == 0  # not for the drafter
    alert = Alert.objects.get()

    context = browser.new_context(viewport={"width": 360, "height": 740})
    try:
        other = context.new_page()
        sign_in(other, live_server, approver, f"/staff/alerts/{alert.identifier}/")
        other.click("#do-approve")
        other.wait_for_selector("#alert-state.badge-alert-published")
        # the sending counts; once the fan-out is done the fragment stops polling
        other.wait_for_selector("#n-recipients:text('2')")
        assert other.locator("#fanout-progress[hx-trigger]").count() == 0
    finally:
        context.close()
    assert Alert.objects.get().approved_by == approver


def test_the_map_banner_leads_to_the_alert_page_and_its_map(page, live_server):
    moderator, other = make_user("mona", "moderator"), make_user("mateo", "moderator")
    alert = publish(draft(moderator), moderator, other)
    page.goto(live_server.url + "/")
    banner = page.locator("#alert-banner")
    assert banner.is_visible()
    banner.get_by_role("link", name="Balacera en la colonia Kennedy").click()
    page.wait_for_url(f"**/alerts/{alert.identifier}/")
    page.wait_for_selector("#alert-map path.leaflet-interactive")
    assert page.get_by_role("heading", name="Qué hacer").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
