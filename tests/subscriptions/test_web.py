"""Subscribing on the web (/alertas/): a phone and a code by SMS, or an e-mail and a link —
the messages asserted as the outbox rows a sender would deliver."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from sereno.geo import zones
from sereno.geo.areas import import_areas
from sereno.lib.crypto import keyed_hash
from sereno.messaging.contacts import find_contact
from sereno.messaging.models import Channel, Contact, OutboundMessage
from sereno.subscriptions import services
from sereno.subscriptions.models import Subscription
from tests.geo.helpers import MUNICIPALITIES, polygon
from tests.messaging import conversation_support as support

sms_channel, clock = support.sms_channel, support.clock

pytestmark = pytest.mark.django_db

PHONE = "9988-7766"  # as people write it; stored as +50499887766, sealed
CIRCLE = {"drawn_lat": "14.0723", "drawn_lon": "-87.1921", "drawn_radius": "3"}


@pytest.fixture
def email_channel(db):
    return Channel.objects.create(kind="email", name="Mail", address="alertas@example.org",
                                  enabled=True)  # fmt: skip


def _form(**fields):
    return {"language": "es", "method": "phone", "phone": PHONE, **fields}


def _code(contact) -> str:
    text = OutboundMessage.objects.filter(contact=contact).latest("id").text
    return re.search(r"\b(\d{6})\b", text).group(1)


def test_phone_subscription_with_a_circle_and_the_code_sent_by_sms(client, sms_channel):
    page = client.get("/alertas/")
    assert page.status_code == 200 and page["Referrer-Policy"] == "same-origin"
    assert 'name="drawn_lat"' in page.content.decode()  # the picker works without JavaScript

    response = client.post("/alertas/", _form(**CIRCLE))
    assert response.status_code == 302 and "/alertas/codigo/" in response["Location"]
    subscription = Subscription.objects.get()
    assert (subscription.status, subscription.source) == ("pending", "web")
    assert subscription.channel == sms_channel
    assert subscription.zone.kind == "circle" and subscription.zone.radius_km == 3
    contact = find_contact("tel", "+50499887766")
    assert subscription.contact == contact
    sms = OutboundMessage.objects.get(contact=contact)
    assert sms.channel == sms_channel and sms.segments == 1 and sms.cause == "subscription"
    assert sms.text.startswith("Sereno: su codigo para confirmar las alertas es ")
    code = _code(contact)
    # Only a keyed hash of the code is kept, never the code or the number in clear.
    assert subscription.confirmation_hash == keyed_hash(
        f"{subscription.pk}:{code}", purpose=services.CODE_PURPOSE
    )
    assert code not in str(Subscription.objects.values().get())

    page = client.post(response["Location"], {"code": code})
    assert page.status_code == 200 and "recibirá alertas" in page.content.decode()
    subscription.refresh_from_db()
    assert subscription.status == "active" and subscription.language == "es"


def test_a_wrong_code_counts_and_five_wrong_codes_end_it(client, sms_channel):
    location = client.post("/alertas/", _form(**CIRCLE))["Location"]
    code = _code(find_contact("tel", PHONE))
    wrong = "000000" if code != "000000" else "111111"
    page = client.post(location, {"code": wrong})
    assert page.status_code == 422 and "Le quedan 4 intentos" in page.content.decode()
    for _attempt in range(4):
        page = client.post(location, {"code": wrong})
    assert page.status_code == 410 and "Demasiados códigos incorrectos" in page.content.decode()
    # Even the right code is refused now: a new one must be asked for.
    assert client.post(location, {"code": code}).status_code == 410
    assert Subscription.objects.get().status == "pending"


def test_the_code_expires(client, sms_channel, clock):
    location = client.post("/alertas/", _form(**CIRCLE))["Location"]
    code = _code(find_contact("tel", PHONE))
    clock.advance(minutes=16)
    assert client.post(location, {"code": code}).status_code == 410
    assert Subscription.objects.get().status == "pending"


def test_a_forged_code_page_is_refused(client, sms_channel):
    client.post("/alertas/", _form(**CIRCLE))
    pk = Subscription.objects.get().pk
    assert client.post(f"/alertas/codigo/{pk}/", {"code": "123456"}).status_code == 404


def test_codes_are_limited_per_number_and_per_client(client, sms_channel, settings):
    settings.RATE_SUBSCRIBE_ADDRESS = "3/3600"
    settings.RATE_SUBSCRIBE_CLIENT = "6/3600"
    for _n in range(3):
        assert client.post("/alertas/", _form(**CIRCLE)).status_code == 302
    page = client.post("/alertas/", _form(**CIRCLE))
    assert page.status_code == 422 and "Demasiados intentos" in page.content.decode()
    assert OutboundMessage.objects.count() == 3  # no SMS bombing of one number
    # Every try counts for the client (the refused one too): two more, then it is stopped.
    for number in ("9911-2233", "9911-2244"):
        assert client.post("/alertas/", _form(phone=number, **CIRCLE)).status_code == 302
    assert client.post("/alertas/", _form(phone="9911-2255", **CIRCLE)).status_code == 422
    assert OutboundMessage.objects.count() == 5


def test_an_opted_out_number_gets_no_code_and_the_page_does_not_tell(client, sms_channel):
    from sereno.messaging.contacts import contact_for
    from sereno.messaging.services import contact_opt_out

    contact_opt_out(contact=contact_for(scheme="tel", raw=PHONE))
    response = client.post("/alertas/", _form(**CIRCLE))
    assert response.status_code == 302  # same answer as for any number
    assert not OutboundMessage.objects.exists()


def test_bad_input_is_explained_and_nothing_is_sent(client, sms_channel):
    cases = [
        (_form(), "Elija una zona"),
        (_form(place="Danlí", **CIRCLE), "Indique una sola zona"),
        (_form(drawn_lat="14.07", drawn_radius="2"), "Un círculo necesita"),
        (_form(drawn_lat="14.07", drawn_lon="-87.19", drawn_radius="500"), "El radio debe"),
        (_form(drawn_polygon="{not json"), "No se pudo leer el área dibujada"),
        (_form(phone="12", **CIRCLE), "No es un número de teléfono"),
        (_form(phone="", **CIRCLE), "Escriba el número"),
        (_form(place="Xyzzyqwerty"), "No encontramos este lugar"),
    ]
    for data, message in cases:
        page = client.post("/alertas/", data)
        assert page.status_code == 422, message
        assert message in page.content.decode(), message
    # A refused shape's error is shown next to the map, not only at the top.
    page = client.post(
        "/alertas/", _form(drawn_lat="14.07", drawn_lon="-87.19", drawn_radius="500")
    )
    assert re.search(r'class="error" role="alert">El radio debe', page.content.decode())
    assert not OutboundMessage.objects.exists() and not Subscription.objects.exists()


def test_an_ambiguous_place_is_chosen_on_the_page(client, sms_channel):
    page = client.post("/alertas/", _form(place="San Marcos"))
    html = page.content.decode()
    assert page.status_code == 422 and "Varios lugares tienen este nombre" in html
    labels = re.findall(r'value="(\d)"[^>]*>\s*([^<]+)<', html)
    number = next(n for n, label in labels if "Ocotepeque" in label)
    response = client.post("/alertas/", _form(place="San Marcos", place_choice=number))
    assert response.status_code == 302
    zone = Subscription.objects.get().zone
    assert zone.label == "San Marcos" and zone.centre_lon < -88.9


def test_an_imported_municipality_from_the_list(client, sms_channel, write_json):
    import_areas(write_json(MUNICIPALITIES, "adm2.geojson"))
    page = client.get("/alertas/")
    assert '<option value="HN0802">Este</option>' in page.content.decode()
    assert client.post("/alertas/", _form(area="HN0802")).status_code == 302
    assert Subscription.objects.get().zone.key == "area:HN0802"


def test_email_subscription_with_a_polygon_link_and_unsubscribe(client, email_channel):
    import json

    shape = json.dumps(polygon(-87.25, 14.03, -87.15, 14.12))
    data = {"language": "en", "method": "email", "email": "Ana@Example.org",
            "drawn_polygon": shape, "drawn_radius": "2"}  # fmt: skip
    page = client.post("/alertas/", data, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and "Check your e-mail" in page.content.decode()
    subscription = Subscription.objects.get()
    assert (subscription.status, subscription.language) == ("pending", "en")
    assert subscription.zone.kind == "polygon"
    assert zones.point_cell(14.0723, -87.1921) in zones.cells_of([subscription.zone_id])
    mail = OutboundMessage.objects.get(contact=find_contact("mailto", "ana@example.org"))
    assert mail.channel == email_channel and mail.cause == "subscription"
    confirm = re.search(r"http://testserver(/alertas/correo/\S+)", mail.text).group(1)
    unsubscribe = re.search(r"http://testserver(/alertas/baja/\S+)", mail.text).group(1)

    assert client.get(confirm).status_code == 200  # a mail scanner's GET confirms nothing
    assert Subscription.objects.get().status == "pending"
    assert client.post(confirm).status_code == 200
    assert Subscription.objects.get().status == "active"
    assert client.post(confirm).status_code == 200  # opened twice: still fine

    assert (
        "Stop the alerts about"
        in client.get(unsubscribe, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    )
    assert Subscription.objects.get().status == "active"
    assert client.post(unsubscribe).status_code == 200
    assert Subscription.objects.get().status == "cancelled"


def test_a_tampered_link_is_refused(client, email_channel):
    data = {"language": "es", "method": "email", "email": "a@example.org", **CIRCLE}
    client.post("/alertas/", data)
    subscription = Subscription.objects.get()
    assert client.post(f"/alertas/correo/{subscription.pk}/forged/").status_code == 410
    assert client.post("/alertas/baja/forged-token/").status_code == 404
    assert Subscription.objects.get().status == "pending"


def test_the_email_link_expires(client, email_channel, clock):
    data = {"language": "es", "method": "email", "email": "a@example.org", **CIRCLE}
    client.post("/alertas/", data)
    mail = OutboundMessage.objects.get()
    confirm = re.search(r"http://testserver(/alertas/correo/\S+)", mail.text).group(1)
    clock.advance(hours=49)
    assert client.post(confirm).status_code == 410


def test_without_channels_the_page_says_so(client):
    page = client.get("/alertas/")
    assert "no tiene configurado ningún canal" in page.content.decode()


def test_sms_channel_choice(sms_channel, settings):
    twilio = Channel.objects.create(kind="twilio_sms", name="Twilio", enabled=True)
    Channel.objects.create(kind="smssync", name="Phone", enabled=False)
    assert services.sms_channel() == sms_channel  # the organisation's own gateway first
    settings.ALERTS_SMS_CHANNEL = str(twilio.uuid)
    assert services.sms_channel() == twilio
    sms_channel.enabled = False
    sms_channel.save()
    settings.ALERTS_SMS_CHANNEL = ""
    assert services.sms_channel() == twilio


def test_unconfirmed_web_subscriptions_never_receive_alerts(client, sms_channel):
    from sereno.subscriptions.selectors import recipients

    client.post("/alertas/", _form(**CIRCLE))
    zone_id = Subscription.objects.get().zone_id
    assert list(recipients([zone_id])) == []
    Subscription.objects.update(confirmation_expires_at=timezone.now() - timedelta(minutes=1))
    assert list(recipients([zone_id])) == []


def test_the_page_in_english(client, sms_channel):
    client.cookies["django_language"] = "en"
    html = client.get("/alertas/").content.decode()
    assert "Early-warning alerts" in html and "Draw a circle" in html
    assert re.search(r'name="language" value="en"[^>]*checked', html)  # alerts in English


def test_unconfirmed_requests_are_deleted_after_a_week(client, sms_channel, clock):
    from sereno.subscriptions.tasks import purge_unconfirmed_task

    client.post("/alertas/", _form(**CIRCLE))
    clock.advance(days=6)
    assert purge_unconfirmed_task.call_local() == 0
    clock.advance(days=2)
    client.post("/alertas/", _form(**CIRCLE))  # asked again: kept while the new code is valid
    assert purge_unconfirmed_task.call_local() == 0
    clock.advance(minutes=16)
    OutboundMessage.objects.update(status=OutboundMessage.Status.DELIVERED)  # the codes went
    assert purge_unconfirmed_task.call_local() == 1
    assert not Subscription.objects.exists()
    # The sealed number typed on the page and the code messages sent to it are gone too.
    assert not Contact.objects.exists() and not OutboundMessage.objects.exists()


def test_the_purge_keeps_a_contact_that_has_anything_else(client, sms_channel, clock):
    from sereno.messaging.services import inbound_receive
    from sereno.messaging.transports.base import Incoming
    from sereno.subscriptions.tasks import purge_unconfirmed_task

    client.post("/alertas/", _form(**CIRCLE))
    contact = Contact.objects.get()
    clock.advance(days=8)
    # The code has not gone yet (the gateway was down): the contact and its message stay.
    assert purge_unconfirmed_task.call_local() == 1
    assert Contact.objects.filter(pk=contact.pk).exists()
    assert OutboundMessage.objects.filter(contact=contact).exists()
    # A phone that also writes to the line is a reporter: kept once its code has gone.
    client.post("/alertas/", _form(**CIRCLE))
    inbound_receive(
        channel=sms_channel, incoming=Incoming(external_id="x1", sender=PHONE, text="hola"),
        route="deferred",
    )  # fmt: skip
    OutboundMessage.objects.update(status=OutboundMessage.Status.DELIVERED)
    clock.advance(days=8)
    assert purge_unconfirmed_task.call_local() == 1
    assert Contact.objects.filter(pk=contact.pk).exists()
