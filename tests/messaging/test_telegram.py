"""Telegram bot: updates with the secret-token header in, sendMessage out, setWebhook."""

import json
import logging

import pytest

from sereno.lib.errors import InvalidInput
from sereno.messaging.models import InboundMessage
from sereno.messaging.transports import transport_for
from sereno.messaging.transports.base import PermanentError, RetryableError
from tests.messaging.recorded import fakeprovider
from tests.messaging.recorded.fakeprovider import make_channel, outbound, recorded, recorded_json

pytestmark = pytest.mark.django_db

BOT = "7000000001:AAH-test-bot-token"
SECRET = "s3cr3t-Token_for-the-webhook"


@pytest.fixture
def channel():
    return make_channel("telegram", {"bot_token": BOT, "secret_token": SECRET})


@pytest.fixture
def provider():
    fake, server = fakeprovider.start()
    yield fake
    server.shutdown()


def post(client, channel, name: str, token: str | None = SECRET):
    headers = {"X-Telegram-Bot-Api-Secret-Token": token} if token else {}
    return client.post(f"/hooks/telegram/{channel.uuid}/", data=recorded(name),
                       content_type="application/json", headers=headers)  # fmt: skip


def test_an_update_with_the_secret_token_is_stored_once(client, channel):
    assert post(client, channel, "telegram_update_text.json").status_code == 200
    assert post(client, channel, "telegram_update_text.json").status_code == 200
    message = InboundMessage.objects.get(channel=channel)
    assert message.external_id == "6123456789:57"
    assert message.text == "Quiero reportar un asalto en Comayagüela"
    assert message.contact.scheme == "telegram"
    assert message.contact.address == "6123456789"


@pytest.mark.parametrize("token", [None, "wrong-token", SECRET[:-1]])
def test_an_update_without_the_right_token_is_refused_without_logging_it(
    client, channel, caplog, token
):
    with caplog.at_level(logging.DEBUG):
        assert post(client, channel, "telegram_update_text.json", token).status_code == 403
    assert not InboundMessage.objects.exists()
    assert "asalto" not in caplog.text and "6123456789" not in caplog.text


def test_group_chats_are_ignored(client, channel):
    assert post(client, channel, "telegram_update_group.json").status_code == 200
    assert not InboundMessage.objects.exists()


def test_send_message_goes_to_the_bot_api(provider):
    provider.answer(200, recorded_json("telegram_send_ok.json"))
    channel = make_channel("telegram", {"bot_token": BOT, "secret_token": SECRET,
                                        "api_base": provider.url})  # fmt: skip
    row = outbound(
        channel, to="6123456789", scheme="telegram", text="Gracias, recibimos su reporte."
    )
    sent = transport_for(channel).send(row, to="6123456789")
    assert sent.provider_id == "6123456789:58"
    (request,) = provider.requests
    assert request.path == f"/bot{BOT}/sendMessage"
    assert request.json() == {"chat_id": "6123456789", "text": "Gracias, recibimos su reporte."}


@pytest.mark.parametrize(
    ("status", "payload", "error", "code", "retry_after"),
    [
        (403, "telegram_error_403.json", PermanentError, "403", None),
        (429, "telegram_error_429.json", RetryableError, "429", 7.0),
        (502, None, RetryableError, "502", None),
    ],
)
def test_send_errors_are_told_apart(provider, status, payload, error, code, retry_after):
    provider.answer(status, recorded_json(payload) if payload else b"Bad Gateway")
    channel = make_channel("telegram", {"bot_token": BOT, "secret_token": SECRET,
                                        "api_base": provider.url})  # fmt: skip
    row = outbound(channel, to="6123456789", scheme="telegram")
    with pytest.raises(error) as raised:
        transport_for(channel).send(row, to="6123456789")
    assert raised.value.code == code
    assert raised.value.retry_after == retry_after


def test_set_webhook_registers_our_url_with_the_secret_token(provider, settings):
    settings.PUBLIC_URL = "https://sereno.example.org"
    provider.answer(200, recorded_json("telegram_setwebhook_ok.json"))
    channel = make_channel("telegram", {"bot_token": BOT, "secret_token": SECRET,
                                        "api_base": provider.url})  # fmt: skip
    transport_for(channel).set_webhook()
    body = json.loads(provider.requests[0].body)
    assert provider.requests[0].path == f"/bot{BOT}/setWebhook"
    assert body == {
        "url": f"https://sereno.example.org/hooks/telegram/{channel.uuid}/",
        "secret_token": SECRET,
        "allowed_updates": ["message"],
    }


def test_set_webhook_needs_a_public_https_address(settings, channel):
    settings.PUBLIC_URL = ""
    with pytest.raises(InvalidInput):
        transport_for(channel).set_webhook()


def test_a_message_gets_one_reply_in_the_outbox_even_when_telegram_retries(client, channel):
    from sereno.messaging.models import OutboundMessage

    post(client, channel, "telegram_update_text.json")
    post(client, channel, "telegram_update_text.json")
    message = InboundMessage.objects.get()
    assert message.status == "handled"
    reply = OutboundMessage.objects.get(channel=channel)
    assert reply.contact == message.contact and reply.encoding == "text"
