"""WhatsApp Cloud API: the subscription handshake, signed events in, Graph API out."""

import hashlib
import hmac
import json
import logging

import pytest

from sereno.messaging.models import InboundMessage, OutboundMessage
from sereno.messaging.transports import transport_for
from sereno.messaging.transports.base import PermanentError, RetryableError
from tests.messaging.recorded import fakeprovider
from tests.messaging.recorded.fakeprovider import make_channel, outbound, recorded, recorded_json

pytestmark = pytest.mark.django_db

APP_SECRET = "6c1f0b0d4c1e4a4e9d2c7b3a8f5e6d70"
VERIFY = "verify-me-please-123"
WAMID_OUT = "wamid.HBgLNTA0OTk4ODc3NjYVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"


def config(**extra):
    return {"phone_number_id": "106540352242922", "access_token": "EAAG-test-token",
            "app_secret": APP_SECRET, "verify_token": VERIFY, **extra}  # fmt: skip


@pytest.fixture
def channel():
    return make_channel("whatsapp", config())


@pytest.fixture
def provider():
    fake, server = fakeprovider.start()
    yield fake
    server.shutdown()


def meta_signature(body: bytes, secret: str = APP_SECRET) -> str:
    """As Meta documents it: sha256= and the hex HMAC-SHA256 of the raw body with the app
    secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(client, channel, body: bytes, signature: str | None = None):
    headers = {"X-Hub-Signature-256": meta_signature(body) if signature is None else signature}
    if not headers["X-Hub-Signature-256"]:
        headers = {}
    return client.post(f"/hooks/whatsapp/{channel.uuid}/", data=body,
                       content_type="application/json", headers=headers)  # fmt: skip


def test_the_verification_handshake_echoes_the_challenge(client, channel):
    url = f"/hooks/whatsapp/{channel.uuid}/"
    ok = client.get(url, {"hub.mode": "subscribe", "hub.verify_token": VERIFY,
                          "hub.challenge": "1158201444"})  # fmt: skip
    assert ok.status_code == 200 and ok.content == b"1158201444"
    wrong = client.get(url, {"hub.mode": "subscribe", "hub.verify_token": "guess",
                             "hub.challenge": "1158201444"})  # fmt: skip
    assert wrong.status_code == 403 and b"1158201444" not in wrong.content


def test_a_signed_message_is_stored_once_even_when_meta_retries(client, channel):
    body = recorded("whatsapp_inbound_text.json").encode()
    assert post(client, channel, body).status_code == 200
    assert post(client, channel, body).status_code == 200
    message = InboundMessage.objects.get(channel=channel)
    assert message.external_id.startswith("wamid.")
    assert message.text == "Extorsión a los buseros en la Colonia Rivera Hernández"
    assert message.contact.address == "+50499887766"


@pytest.mark.parametrize("signature", ["", "sha256=" + "0" * 64, "sha1=abc"],
                         ids=["missing", "wrong", "other-scheme"])  # fmt: skip
def test_an_unsigned_or_badly_signed_event_is_refused_without_logging_it(
    client, channel, caplog, signature
):
    body = recorded("whatsapp_inbound_text.json").encode()
    with caplog.at_level(logging.DEBUG):
        assert post(client, channel, body, signature).status_code == 403
    assert not InboundMessage.objects.exists()
    assert "Extorsi" not in caplog.text and "99887766" not in caplog.text


def test_a_body_changed_after_signing_is_refused(client, channel):
    body = recorded("whatsapp_inbound_text.json").encode()
    forged = body.replace("Extorsión".encode(), b"Nada nuevo")
    assert post(client, channel, forged, meta_signature(body)).status_code == 403


def test_delivery_statuses_update_our_rows_and_create_no_message(client, channel):
    row = outbound(channel)
    OutboundMessage.objects.filter(pk=row.pk).update(status="sent", provider_id=WAMID_OUT)
    body = recorded("whatsapp_status_delivered.json").encode()
    assert post(client, channel, body).status_code == 200
    row.refresh_from_db()
    assert row.status == "delivered"
    assert not InboundMessage.objects.exists()

    failed = outbound(channel, text="otro")
    OutboundMessage.objects.filter(pk=row.pk).update(provider_id="")
    OutboundMessage.objects.filter(pk=failed.pk).update(status="sent", provider_id=WAMID_OUT)
    post(client, channel, recorded("whatsapp_status_failed.json").encode())
    failed.refresh_from_db()
    assert failed.status == "failed"
    assert failed.events.filter(code="131026").exists()


def test_send_calls_the_graph_api_with_the_bearer_token(provider):
    provider.answer(200, recorded_json("whatsapp_send_ok.json"))
    channel = make_channel("whatsapp", config(api_base=provider.url + "/v21.0"))
    row = outbound(channel, text="¿Cuándo pasó? Responda: hoy, ayer o una fecha.")
    sent = transport_for(channel).send(row, to="+50499887766")
    assert sent.provider_id == WAMID_OUT
    (request,) = provider.requests
    assert request.path == "/v21.0/106540352242922/messages"
    assert request.headers["Authorization"] == "Bearer EAAG-test-token"
    assert request.json() == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": "50499887766",
        "type": "text",
        "text": {"preview_url": False, "body": "¿Cuándo pasó? Responda: hoy, ayer o una fecha."},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("status", "payload", "error", "code"),
    [
        (400, "whatsapp_error_131026.json", PermanentError, "131026"),
        (400, "whatsapp_error_130429.json", RetryableError, "130429"),
        (429, "whatsapp_error_130429.json", RetryableError, "130429"),
        (500, None, RetryableError, "500"),
    ],
)
def test_send_errors_are_told_apart(provider, status, payload, error, code):
    provider.answer(status, recorded_json(payload) if payload else {"error": {}})
    channel = make_channel("whatsapp", config(api_base=provider.url))
    with pytest.raises(error) as raised:
        transport_for(channel).send(outbound(channel), to="+50499887766")
    assert raised.value.code == code


def test_non_text_messages_are_not_routed(client, channel):
    payload = json.loads(recorded("whatsapp_inbound_text.json"))
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message.pop("text")
    message.update(type="image", image={"id": "1479537139650973", "mime_type": "image/jpeg"})
    body = json.dumps(payload).encode()
    assert post(client, channel, body).status_code == 200
    assert not InboundMessage.objects.exists()


def test_a_message_gets_one_reply_in_the_outbox_even_when_meta_retries(client, channel):
    body = recorded("whatsapp_inbound_text.json").encode()
    post(client, channel, body)
    post(client, channel, body)
    message = InboundMessage.objects.get()
    assert message.status == "handled"
    reply = OutboundMessage.objects.get(channel=channel)
    assert reply.contact == message.contact
