"""The Kannel transport without a gateway: the requests smsbox makes (post-url, get-url with
and without mo-recode, delivery reports), authentication, and the sendsms parameters.
Tests through a running Kannel are in tests/messaging/kannel/."""

import base64
import urllib.parse
from datetime import timedelta

import pytest
from django.utils import timezone

from sereno.messaging.models import Channel, InboundMessage, OutboundMessage

SECRET = "s3cret-Kannel-shared"
NUMBER = "+50499887766"

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel(db):
    channel = Channel(kind="kannel", name="Kannel", address="1234", enabled=True)
    channel.set_config({
        "sendsms_url": "http://127.0.0.1:13013/cgi-bin/sendsms",
        "username": "sereno", "password": "pw", "secret": SECRET,
        "callback_url": "http://10.0.0.5:8000/",
    })  # fmt: skip
    channel.save()
    return channel


def basic(secret=SECRET):
    return "Basic " + base64.b64encode(f"kannel:{secret}".encode()).decode()


def hook(channel, endpoint=""):
    return f"/hooks/kannel/{channel.uuid}/" + (f"{endpoint}/" if endpoint else "")


def post_url(client, channel, text, *, kannel_id="a1b2c3", auth=None, charset="UTF-8"):
    """What smsbox sends for `post-url = ".../?id=%I&time=%T"` with `send-sender = true`."""
    return client.post(
        hook(channel) + f"?id={kannel_id}&time=1795921376",
        data=text.encode(charset.lower().replace("utf-16be", "utf-16-be")),
        content_type=f'text/plain; charset="{charset}"',
        headers={
            "Authorization": auth or basic(),
            "X-Kannel-From": NUMBER,
            "X-Kannel-To": "1234",
            "X-Kannel-Time": "2026-11-29 03:02:56",
            "X-Kannel-SMSC": "operator",
            "X-Kannel-Coding": "0",
        },
    )


def test_post_url_message_is_stored_with_its_text_and_sender(client, channel):
    response = post_url(client, channel, "Hubo una balacera, ¿qué hacemos? Comayagüela")
    assert response.status_code == 200
    assert response.content == b""  # omit-empty: no SMS back from the webhook
    message = InboundMessage.objects.get()
    assert message.text == "Hubo una balacera, ¿qué hacemos? Comayagüela"
    assert message.contact.address == NUMBER
    assert message.external_id == "a1b2c3"
    assert message.received_at.timestamp() == 1795921376


def test_the_same_kannel_id_twice_is_one_message(client, channel):
    assert post_url(client, channel, "hola").status_code == 200
    assert post_url(client, channel, "hola").status_code == 200
    assert InboundMessage.objects.count() == 1


def test_get_url_with_every_field_in_the_query(client, channel):
    query = urllib.parse.urlencode({
        "id": "k-1", "from": NUMBER, "to": "1234", "text": "Robó el celular, ¿qué hago?",
        "time": "1795921376", "coding": "0", "charset": "UTF-8", "smsc": "operator",
        "secret": SECRET,
    })  # fmt: skip
    assert client.get(hook(channel) + "?" + query).status_code == 200
    assert InboundMessage.objects.get().text == "Robó el celular, ¿qué hago?"


def test_get_url_without_mo_recode_decodes_utf16(client, channel):
    # Without mo-recode Kannel passes a UCS-2 text on as UTF-16BE bytes, url-encoded.
    text = urllib.parse.quote("Pasó ayer, señor".encode("utf-16-be"))
    response = client.get(
        hook(channel) + f"?id=k-2&from={urllib.parse.quote(NUMBER)}&text={text}"
        "&coding=2&charset=UTF-16BE",
        headers={"Authorization": basic()},
    )
    assert response.status_code == 200
    assert InboundMessage.objects.get().text == "Pasó ayer, señor"


def test_post_url_in_utf16(client, channel):
    assert post_url(client, channel, "Pasó ayer", charset="UTF-16BE").status_code == 200
    assert InboundMessage.objects.get().text == "Pasó ayer"


@pytest.mark.parametrize(
    "auth",
    [None, basic("wrong"), "Basic !!!", "Bearer " + SECRET],
    ids=["none", "wrong", "garbage", "not-basic"],
)
def test_requests_without_the_secret_are_refused(client, channel, auth):
    headers = {"Authorization": auth} if auth else {}
    response = client.post(
        hook(channel) + "?id=x", data=b"hola", content_type="text/plain",
        headers={**headers, "X-Kannel-From": NUMBER},
    )  # fmt: skip
    assert response.status_code == 403
    assert InboundMessage.objects.count() == 0


def test_a_request_without_kannel_id_is_rejected(client, channel):
    response = client.post(
        hook(channel), data=b"hola", content_type="text/plain",
        headers={"Authorization": basic(), "X-Kannel-From": NUMBER},
    )  # fmt: skip
    assert response.status_code == 400
    assert InboundMessage.objects.count() == 0


@pytest.mark.parametrize(
    "event,status",
    [("8", "sent"), ("4", "sent"), ("1", "delivered"), ("2", "failed"), ("16", "failed")],
)
def test_delivery_reports_move_the_row(client, channel, event, status):
    from sereno.messaging import outbox
    from sereno.messaging.contacts import contact_for

    contact = contact_for(scheme="tel", raw=NUMBER, channel=channel)
    row = outbox.enqueue(contact=contact, cause="test", text="hola")
    OutboundMessage.objects.filter(pk=row.pk).update(status=OutboundMessage.Status.SENDING)
    response = client.get(
        hook(channel, "status") + f"?id={row.uuid}&event={event}",
        headers={"Authorization": basic()},
    )
    assert response.status_code == 200
    row.refresh_from_db()
    assert row.status == status
    assert row.events.filter(code=f"dlr-{event}").exists()


def test_delivery_report_needs_the_secret(client, channel):
    response = client.get(hook(channel, "status") + "?id=x&event=1")
    assert response.status_code == 403


def _row(channel, text, **extra):
    from sereno.messaging import outbox
    from sereno.messaging.contacts import contact_for

    contact = contact_for(scheme="tel", raw=NUMBER, channel=channel)
    return outbox.enqueue(contact=contact, cause="test", text=text, **extra)


def test_sendsms_headers_for_ucs2_and_gsm7(channel):
    from sereno.messaging.transports.kannel import KannelTransport

    transport = KannelTransport(channel)
    gsm = _row(channel, "¿Dónde? señora")
    ucs2 = _row(channel, "Recibido ✓ ¿más?")
    assert gsm.text == "¿Donde? señora"
    h = transport.send_headers(gsm, to=NUMBER)
    assert h["Content-Type"] == "text/plain; charset=UTF-8" and "X-Kannel-Coding" not in h
    h = transport.send_headers(ucs2, to=NUMBER)
    assert h["X-Kannel-Coding"] == "2"
    # The reports that move a row: delivered (1), failed (2), rejected by the SMSC (16).
    assert (h["X-Kannel-From"], h["X-Kannel-To"], h["X-Kannel-DLR-Mask"]) == ("1234", NUMBER, "19")
    assert (h["X-Kannel-Username"], h["X-Kannel-Password"]) == ("sereno", "pw")
    assert h["X-Kannel-DLR-Url"] == (
        f"http://kannel:{SECRET}@10.0.0.5:8000/hooks/kannel/{channel.uuid}/status/"
        f"?id={ucs2.uuid}&event=%d"
    )


def test_a_channel_can_ask_for_every_delivery_report(channel):
    from sereno.messaging.transports.kannel import KannelTransport

    channel.set_config({**channel.config, "dlr_mask": "31"})
    headers = KannelTransport(channel).send_headers(_row(channel, "hola"), to=NUMBER)
    assert headers["X-Kannel-DLR-Mask"] == "31"


def test_delivery_reports_can_be_switched_off(channel):
    from sereno.messaging.transports.kannel import KannelTransport

    channel.set_config({**channel.config, "dlr_mask": "0"})
    headers = KannelTransport(channel).send_headers(_row(channel, "hola"), to=NUMBER)
    assert "X-Kannel-DLR-Mask" not in headers and "X-Kannel-DLR-Url" not in headers


def test_validity_period_is_passed_in_minutes(channel):
    from sereno.messaging.transports.base import PermanentError
    from sereno.messaging.transports.kannel import KannelTransport

    transport = KannelTransport(channel)
    row = _row(channel, "alerta", valid_until=timezone.now() + timedelta(minutes=90))
    assert transport.send_headers(row, to=NUMBER)["X-Kannel-Validity"] in ("90", "91")
    row.valid_until = timezone.now() - timedelta(minutes=1)
    with pytest.raises(PermanentError):
        transport.send_headers(row, to=NUMBER)
