"""Subscribing to alerts in Chromium at phone size: a circle and a polygon drawn on the map
(the zone picker), and the same form without JavaScript."""

import json
import re

import pytest

from sereno.messaging.models import Channel, OutboundMessage
from sereno.subscriptions.models import Subscription

pytestmark = pytest.mark.django_db(transaction=True)
pytest.importorskip("playwright.sync_api")


@pytest.fixture
def channels(db):
    sms = Channel.objects.create(kind="kannel", name="SMS", address="2222", enabled=True)
    mail = Channel.objects.create(kind="email", name="Mail", address="a@example.org", enabled=True)
    return sms, mail


def _code() -> str:
    return re.search(r"\b(\d{6})\b", OutboundMessage.objects.latest("id").text).group(1)


def _map(page):
    page.wait_for_selector(".zone-map.leaflet-container")
    return page.locator(".zone-map")


def test_draw_a_circle_and_subscribe_by_phone(page, live_server, channels):
    page.goto(live_server.url + "/alertas/")
    _map(page).click(position={"x": 170, "y": 150})
    assert page.input_value("#id_drawn_lat") and page.input_value("#id_drawn_lon")
    page.fill("#id_drawn_radius", "5")
    assert "5 km" in page.locator(".zone-status").inner_text()
    page.check("input[name=method][value=phone]")
    page.fill("#id_phone", "9988-7766")
    page.click("#subscribe-form button[type=submit]")
    page.wait_for_selector("#code-form")
    page.fill("#id_code", _code())
    page.click("#code-form button[type=submit]")
    page.wait_for_selector("#subscribed")
    subscription = Subscription.objects.get()
    assert subscription.status == "active" and subscription.zone.kind == "circle"
    assert subscription.zone.radius_km == 5
    assert (
        12.5 < subscription.zone.centre_lat < 17 and -90 < subscription.zone.centre_lon < -83
    )  # Honduras


def test_draw_a_polygon_and_subscribe_by_email(page, live_server, channels):
    page.goto(live_server.url + "/alertas/")
    area = _map(page)
    page.click("button[data-mode=polygon]")
    page.click("button[data-action=finish]")
    assert "3" in page.locator(".zone-status").inner_text()  # "needs at least 3 corners"
    for x, y in ((120, 100), (220, 100), (220, 200), (120, 200)):
        area.click(position={"x": x, "y": y})
    page.click("button[data-action=finish]")
    geometry = json.loads(page.input_value("input[name=drawn_polygon]"))
    assert geometry["type"] == "Polygon" and len(geometry["coordinates"][0]) == 5
    assert page.input_value("#id_drawn_lat") == ""
    page.check("input[name=language][value=en]")
    page.check("input[name=method][value=email]")
    page.fill("#id_email", "ana@example.org")
    page.click("#subscribe-form button[type=submit]")
    page.wait_for_selector("#email-sent")
    subscription = Subscription.objects.get()
    assert (subscription.zone.kind, subscription.language) == ("polygon", "en")
    link = re.search(r"https?://[^/]+(/alertas/correo/\S+)", OutboundMessage.objects.get().text)
    page.goto(live_server.url + link.group(1))
    page.click("main button[type=submit]")
    page.wait_for_selector("#subscribed")
    assert Subscription.objects.get().status == "active"


def test_without_javascript_the_circle_is_typed(page_no_js, live_server, channels):
    page = page_no_js
    page.goto(live_server.url + "/alertas/")
    assert page.locator(".zone-map").is_hidden()
    page.fill("#id_drawn_lat", "14.0723")
    page.fill("#id_drawn_lon", "-87.1921")
    page.fill("#id_drawn_radius", "3")
    page.check("input[name=method][value=phone]")
    page.fill("#id_phone", "9988-7766")
    page.click("#subscribe-form button[type=submit]")
    page.fill("#id_code", _code())
    page.click("#code-form button[type=submit]")
    assert page.locator("#subscribed").is_visible()
    assert Subscription.objects.get().status == "active"
