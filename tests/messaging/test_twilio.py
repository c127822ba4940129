"""Twilio SMS and WhatsApp: signed form POSTs in, REST API out, status callbacks."""

import base64
import hashlib
import hmac
import logging
from urllib.parse import parse_qsl, urlencode

import pytest

from sereno.messaging.models import Contact, InboundMessage, OutboundMessage
from sereno.messaging.transports import transport_for
from sereno.messaging.transports.base import PermanentError, RetryableError
from tests.messaging.recorded import fakeprovider
from tests.messaging.recorded.fakeprovider import make_channel, outbound, recorded, recorded_json

pytestmark = pytest.mark.django_db

PUBLIC = "https://sereno.example.org"
TOKEN = "12345678901234567890123456789012"
SID = "AC00000000000000000000000000000001"


def twilio_signature(token: str, url: str, params: list[tuple[str, str]]) -> str:
    """As Twilio documents it: the full URL, then each POST parameter's name and value sorted
    by name, HMAC-SHA1 with the auth token, base64."""
    data = url + "".join(name + value for name, value in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def form(name: str) -> list[tuple[str, str]]:
    return parse_qsl(recorded(name).strip(), keep_blank_values=True)


@pytest.fixture(autouse=True)
def _public_url(settings):
    settings.PUBLIC_URL = PUBLIC


@pytest.fixture
def sms_channel():
    return make_channel(
        "twilio_sms",
        {"account_sid": SID, "auth_token": TOKEN, "from_number": "+50422345678"},
    )


@pytest.fixture
def provider():
    fake, server = fakeprovider.start()
    yield fake
    server.shutdown()


def post(client, channel, params, *, endpoint="", query="", signature=None, token=TOKEN):
    path = f"/hooks/{channel.kind}/{channel.uuid}/" + (f"{endpoint}/" if endpoint else "")
    path += f"?{query}" if query else ""
    headers = {}
    if signature is None:
        signature = twilio_signature(token, PUBLIC + path, params)
    if signature:
        headers["X-Twilio-Signature"] = signature
    return client.post(
        path, data=urlencode(params), content_type="application/x-www-form-urlencoded",
        headers=headers,
    )  # fmt: skip


def test_a_signed_sms_is_stored_once_even_when_twilio_retries(client, sms_channel):
    params = form("twilio_sms_inbound.txt")
    first = post(client, sms_channel, params)
    again = post(client, sms_channel, params)
    assert first.status_code == again.status_code == 200
    assert first["Content-Type"].startswith("text/xml")
    assert b"<Response/>" in first.content
    rows = InboundMessage.objects.filter(channel=sms_channel)
    assert rows.count() == 1
    message = rows.get()
    assert message.external_id == "SM1f0e8ae6ade43cb3c0ce4525424e404f"
    assert message.text == "Hubo un tiroteo en la colonia Kennedy, ¿pueden ayudar?"
    assert message.contact.address == "+50499887766"


def test_whatsapp_through_twilio_is_the_same_person_as_sms(client, sms_channel):
    wa = make_channel(
        "twilio_whatsapp",
        {"account_sid": SID, "auth_token": TOKEN, "from_number": "+14155238886"},
    )
    post(client, sms_channel, form("twilio_sms_inbound.txt"))
    response = post(client, wa, form("twilio_whatsapp_inbound.txt"))
    assert response.status_code == 200
    message = InboundMessage.objects.get(channel=wa)
    assert message.text == "Robo en el mercado Zonal Belén"
    # "whatsapp:+50499887766" and "+50499887766" are one contact: opting out covers both.
    assert Contact.objects.count() == 1
    assert message.contact.address == "+50499887766"


@pytest.mark.parametrize(
    "signature",
    ["", "bm90IHRoZSByaWdodCBzaWduYXR1cmU=", "signed-with-another-token"],
    ids=["missing", "wrong", "other-token"],
)
def test_a_request_without_a_valid_signature_is_refused_and_its_content_not_logged(
    client, sms_channel, caplog, signature
):
    params = form("twilio_sms_inbound.txt")
    if signature == "signed-with-another-token":
        signature = twilio_signature("x" * 32, PUBLIC + f"/hooks/twilio_sms/{sms_channel.uuid}/",
                                     params)  # fmt: skip
    with caplog.at_level(logging.DEBUG):
        response = post(client, sms_channel, params, signature=signature)
    assert response.status_code == 403
    assert not InboundMessage.objects.exists()
    assert "refused" in caplog.text
    for secret in ("tiroteo", "Kennedy", "99887766", "SM1f0e8ae6"):
        assert secret not in caplog.text


def test_a_forged_body_under_a_real_signature_is_refused(client, sms_channel):
    params = form("twilio_sms_inbound.txt")
    signature = twilio_signature(TOKEN, PUBLIC + f"/hooks/twilio_sms/{sms_channel.uuid}/", params)
    forged = [(k, "Todo tranquilo" if k == "Body" else v) for k, v in params]
    assert post(client, sms_channel, forged, signature=signature).status_code == 403


def test_the_signature_is_checked_against_the_public_url_behind_a_proxy(client, sms_channel):
    params = form("twilio_sms_inbound.txt")
    # Signed for the address the proxy forwards to (what Django alone would see): refused,
    # because Twilio signs the public address it called.
    inner = twilio_signature(TOKEN, f"http://testserver/hooks/twilio_sms/{sms_channel.uuid}/",
                             params)  # fmt: skip
    assert post(client, sms_channel, params, signature=inner).status_code == 403
    assert post(client, sms_channel, params).status_code == 200


def test_without_a_public_url_the_request_host_is_used(client, sms_channel, settings):
    settings.PUBLIC_URL = ""
    params = form("twilio_sms_inbound.txt")
    signature = twilio_signature(
        TOKEN, f"http://testserver/hooks/twilio_sms/{sms_channel.uuid}/", params
    )
    assert post(client, sms_channel, params, signature=signature).status_code == 200


def test_a_disabled_channel_answers_404(client, sms_channel):
    sms_channel.enabled = False
    sms_channel.save()
    assert post(client, sms_channel, form("twilio_sms_inbound.txt")).status_code == 404


def test_status_callbacks_move_the_row_to_delivered_or_failed(client, sms_channel):
    row = outbound(sms_channel)
    OutboundMessage.objects.filter(pk=row.pk).update(
        status="sent", provider_id="SM3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c"
    )
    response = post(client, sms_channel, form("twilio_status_delivered.txt"), endpoint="status",
                     query=f"m={row.uuid}")  # fmt: skip
    assert response.status_code == 200
    row.refresh_from_db()
    assert row.status == "delivered" and row.delivered_at is not None

    other = outbound(sms_channel, text="otro")
    OutboundMessage.objects.filter(pk=other.pk).update(
        status="sent", provider_id="SM3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c"
    )
    post(client, sms_channel, form("twilio_status_undelivered.txt"), endpoint="status",
         query=f"m={other.uuid}")  # fmt: skip
    other.refresh_from_db()
    assert other.status == "failed"
    assert other.events.filter(status="failed", code="30003").exists()


def test_a_status_callback_before_the_sender_stored_twilios_id_finds_its_row(client, sms_channel):
    row = outbound(sms_channel)
    OutboundMessage.objects.filter(pk=row.pk).update(status="sending")
    post(client, sms_channel, form("twilio_status_delivered.txt"), endpoint="status",
         query=f"m={row.uuid}")  # fmt: skip
    row.refresh_from_db()
    assert row.status == "delivered"


def test_an_unsigned_status_callback_changes_nothing(client, sms_channel):
    row = outbound(sms_channel)
    OutboundMessage.objects.filter(pk=row.pk).update(status="sent")
    response = post(client, sms_channel, form("twilio_status_delivered.txt"), endpoint="status",
                    query=f"m={row.uuid}", signature="")  # fmt: skip
    assert response.status_code == 403
    row.refresh_from_db()
    assert row.status == "sent"


# ---- outbound ------------------------------------------------------------------------------


def configured(kind, provider, **extra):
    config = {"account_sid": SID, "auth_token": TOKEN, "api_base": provider.url, **extra}
    return make_channel(kind, config)


def test_send_posts_to_the_messages_api_with_basic_auth_and_a_status_callback(provider):
    provider.answer(201, recorded_json("twilio_message_created.json"))
    channel = configured("twilio_sms", provider, from_number="+50422345678")
    row = outbound(channel, text="Gracias, recibimos su reporte.")
    sent = transport_for(channel).send(row, to="+50499887766")
    assert sent.provider_id == "SM3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c"
    (request,) = provider.requests
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == expected
    data = request.form()
    assert data["To"] == "+50499887766"
    assert data["From"] == "+50422345678"
    assert data["Body"] == "Gracias, recibimos su reporte."
    assert data["StatusCallback"] == (
        f"{PUBLIC}/hooks/twilio_sms/{channel.uuid}/status/?m={row.uuid}"
    )


def test_whatsapp_through_twilio_sends_to_whatsapp_addresses(provider):
    provider.answer(201, recorded_json("twilio_message_created.json"))
    channel = configured("twilio_whatsapp", provider, from_number="+14155238886")
    row = outbound(channel, text="¿Dónde ocurrió?")
    transport_for(channel).send(row, to="+50499887766")
    data = provider.requests[0].form()
    assert data["To"] == "whatsapp:+50499887766"
    assert data["From"] == "whatsapp:+14155238886"
    assert row.encoding == "text"  # not cut into SMS segments


@pytest.mark.parametrize(
    ("status", "payload", "headers", "error", "code"),
    [
        (429, "twilio_error_20429.json", {"Retry-After": "12"}, RetryableError, "20429"),
        (500, "twilio_error_20500.json", {}, RetryableError, "20500"),
        (503, None, {}, RetryableError, "503"),
        (400, "twilio_error_21211.json", {}, PermanentError, "21211"),
        (401, "twilio_error_20003.json", {}, PermanentError, "20003"),
    ],
)
def test_send_errors_are_told_apart(provider, status, payload, headers, error, code):
    provider.answer(status, recorded_json(payload) if payload else b"<html>busy</html>", headers)
    channel = configured("twilio_sms", provider, from_number="+50422345678")
    row = outbound(channel)
    with pytest.raises(error) as raised:
        transport_for(channel).send(row, to="+50499887766")
    assert raised.value.code == code
    assert "99887766" not in raised.value.detail  # Twilio's message names the number
    if headers:
        assert raised.value.retry_after == 12


def test_an_unreachable_api_is_retryable():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    channel = make_channel("twilio_sms", {"account_sid": SID, "auth_token": TOKEN,
                                          "from_number": "+50422345678",
                                          "api_base": f"http://127.0.0.1:{port}"})  # fmt: skip
    with pytest.raises(RetryableError):
        transport_for(channel).send(outbound(channel), to="+50499887766")


def test_a_first_sms_opens_a_conversation_and_its_question_is_queued_as_a_reply(
    client, sms_channel
):
    post(client, sms_channel, form("twilio_sms_inbound.txt"))
    post(client, sms_channel, form("twilio_sms_inbound.txt"))  # Twilio retried
    message = InboundMessage.objects.get()
    assert message.status == "handled" and message.outcome
    replies = OutboundMessage.objects.filter(channel=sms_channel, contact=message.contact)
    assert replies.count() == 1  # one reply, even though the webhook came twice
    assert replies.get().status == "queued"


def test_the_sender_sends_through_twilio_and_records_success_and_refusal(provider, client):
    from sereno.messaging.sender import ChannelSender

    provider.answer(201, recorded_json("twilio_message_created.json"))
    provider.answer(400, recorded_json("twilio_error_21211.json"))
    channel = configured("twilio_sms", provider, from_number="+50422345678")
    good = outbound(channel, text="Gracias, recibimos su reporte.")
    bad = outbound(channel, to="+50433445566", text="otro")
    ChannelSender(channel, threads=1).run(once=True)
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.status == "sent"
    assert good.provider_id == "SM3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c"
    assert bad.status == "failed" and bad.events.filter(code="21211").exists()
    assert len(provider.requests) == 2  # a permanent refusal is not retried
    # Twilio then reports the delivery of the first one.
    post(client, channel, form("twilio_status_delivered.txt"), endpoint="status",
         query=f"m={good.uuid}")  # fmt: skip
    good.refresh_from_db()
    assert good.status == "delivered"


def test_without_a_public_url_no_status_callback_is_asked_for(provider, settings):
    settings.PUBLIC_URL = ""
    provider.answer(201, recorded_json("twilio_message_created.json"))
    channel = configured("twilio_sms", provider, from_number="+50422345678")
    transport_for(channel).send(outbound(channel), to="+50499887766")
    assert "StatusCallback" not in provider.requests[0].form()
