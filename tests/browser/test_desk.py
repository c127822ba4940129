"""The moderation desk in Chromium at phone size: a moderator signs in with a password and a
TOTP code, works the review queue with the keyboard, and publishes a report."""

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django_otp.oath import TOTP

from sereno.reports.models import Report
from tests.conftest import PASSWORD, make_user, staff_client
from tests.factories import make_report

pytestmark = pytest.mark.django_db(transaction=True)

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "desk.png"


def current_code(user) -> str:
    device = user.totpdevice_set.get()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def sign_in_with_totp(page, live_server, user):
    page.goto(live_server.url + "/desk/")
    assert "/accounts/login/" in page.url  # anonymous: sent to sign in, and back afterwards
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=otp_token]", current_code(user))
    page.click("button[type=submit].primary")
    page.wait_for_load_state()
    assert page.url == live_server.url + "/desk/", page.content()[:300]


def sign_in(page, live_server, user):
    """A session as after password + TOTP (the cookie of a verified session)."""
    client = staff_client(Client(), user)
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[
            settings.SESSION_COOKIE_NAME].value, "url": live_server.url}]
    )  # fmt: skip
    page.goto(live_server.url + "/desk/")


def fits_the_phone(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= 360


def test_moderator_publishes_a_report_with_the_keyboard(page, live_server, tmp_path):
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    moderator = make_user("mona", "moderator")
    first = make_report(title="Extorsión a buses de la ruta 5", categories=["extorsion"])
    make_report(title="Robo en el mercado Zonal Belén", contact="+504 9999-0000")
    make_report(title="Amenazas a una lideresa comunitaria", categories=["amenazas"])

    sign_in_with_totp(page, live_server, moderator)
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.get_by_role("heading", name="Cola de revisión").is_visible()
    assert page.locator(".tabs a[aria-current=page]").inner_text().startswith("Recibido")
    assert fits_the_phone(page)
    if os.environ.get("SERENO_SCREENSHOTS") == "1":  # refresh docs/ on purpose only
        page.screenshot(path=str(SCREENSHOT))
    else:
        page.screenshot(path=str(tmp_path / "desk.png"))

    # j highlights the first row (the report that waited longest), Enter opens it.
    page.keyboard.press("j")
    assert page.locator(".queue-row.current .row-link").inner_text() == first.title
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/desk/r/{first.reference}/")
    assert page.locator("code.coords").inner_text() == "14.081800, -87.206800"
    page.locator("#map.leaflet-container").wait_for()  # the map works without tiles
    assert fits_the_phone(page)

    page.keyboard.press("v")
    page.wait_for_selector("#report-status.badge-verified")
    page.keyboard.press("p")
    page.wait_for_selector("#report-status.badge-published")
    first.refresh_from_db()
    assert first.status == "published" and first.published_at is not None
    history = page.locator("ol.audit").inner_text()
    assert "Verificado" in history and "Publicado" in history

    page.keyboard.press("u")
    page.wait_for_url(live_server.url + "/desk/")
    assert Report.objects.filter(status="published").count() == 1
    # No script errors and no CSP violations; the only failures allowed are the missing tiles.
    assert [p for p in problems if "404" not in p] == []


def test_bulk_verify_on_a_phone(page, live_server):
    moderator = make_user("mona", "moderator")
    reports = [make_report(title=f"Informe de prueba {i}") for i in range(3)]
    sign_in(page, live_server, moderator)
    for report in reports[:2]:
        page.check(f"#pick-{report.reference}")
    page.get_by_role("button", name="Verificar").click()
    page.wait_for_selector(".messages .success")
    statuses = [Report.objects.get(pk=r.pk).status for r in reports]
    assert statuses == ["verified", "verified", "received"]


def test_desk_works_without_javascript(page_no_js, live_server):
    page = page_no_js
    moderator = make_user("mona", "moderator")
    report = make_report(title="Desaparición de un joven en Choloma")
    sign_in(page, live_server, moderator)
    page.click(f"text={report.title}")
    page.wait_for_url(f"**/desk/r/{report.reference}/")
    page.fill("#reason", "")
    page.click("#do-rejected")  # no reason: refused, nothing written
    page.wait_for_selector(".messages .error")
    assert Report.objects.get(pk=report.pk).status == "received"
    page.click("#do-verified")
    page.wait_for_selector("#report-status.badge-verified")
    page.fill("#comment-body", "Confirmado con la familia")
    page.click("text=Añadir comentario")
    page.wait_for_selector("text=Confirmado con la familia")
    assert Report.objects.get(pk=report.pk).status == "verified"
    assert fits_the_phone(page)
