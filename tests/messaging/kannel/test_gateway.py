"""SMS through a real Kannel: a phone's message reaches Sereno once, Sereno's messages reach
the phone intact (GSM-7 and UCS-2), and Kannel's delivery reports move the outbox rows."""

import pytest

from tests.messaging.kannel.conftest import SECRET, SHORT_CODE, db_wait
from tests.messaging.kannel.harness import Gateway

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

NUMBER = "+50499887766"


def _inbound():
    from sereno.messaging.models import InboundMessage

    return list(InboundMessage.objects.select_related("contact").order_by("id"))


def test_phone_messages_arrive_intact_in_both_encodings(kannel_channel, phone, sereno_server):
    # A handset sends ¿, é, ü and ñ as GSM-7, and anything with á/í/ó/ú as UCS-2.
    gsm = "Hubo una balacera en la colonia, ¿qué hacemos? Comayagüela, señora"
    ucs2 = "Pasó ayer en la Kennedy, frente a la pulpería ¡auxilio!"
    phone.send(NUMBER, gsm)
    # smsbox calls the webhook for two messages at once on two connections, in no set order:
    # the second is sent once the first is stored, so that their ids follow the phone's order.
    db_wait(sereno_server, lambda: len(_inbound()) == 1, what="the first message")
    phone.send(NUMBER, ucs2)

    rows = db_wait(sereno_server, lambda: len(r := _inbound()) == 2 and r, what="2 messages")
    assert [row.text for row in rows] == [gsm, ucs2]
    assert {row.contact.address for row in rows} == {NUMBER}
    assert rows[0].channel == kannel_channel
    assert all(len(row.external_id) == 36 for row in rows)  # Kannel's %I, a UUID


def test_a_message_kannel_retries_is_stored_once(kannel_channel, phone, sereno_server):
    # The first request is processed but its answer is lost (the server answers 500):
    # smsbox retries the same message (same %I), which must not make a second one.
    app = sereno_server.thread.httpd.get_app()
    original = app.app
    calls = []

    def answer_lost(environ, start_response):
        body = original(environ, lambda *a, **k: None)
        list(body)
        calls.append(environ["QUERY_STRING"])
        if len(calls) == 1:
            start_response("500 Internal Server Error", [("Content-Length", "0")])
            return [b""]
        return original(environ, start_response)

    app.app = answer_lost
    try:
        phone.send(NUMBER, "¿Alguien me puede ayudar?")
        db_wait(sereno_server, lambda: len(calls) >= 2, what="Kannel's retry")
    finally:
        app.app = original
    rows = _inbound()
    assert len(rows) == 1
    assert rows[0].text == "¿Alguien me puede ayudar?"
    # Same Kannel id both times, so the retry found the stored row.
    assert calls[0] == calls[1]
    assert not [m for m in phone.received() if m.text.startswith("KANNEL")]


def test_outbound_gsm7_and_ucs2_reach_the_phone_and_are_delivered(
    kannel_channel, phone, sereno_server, send_outbox
):
    from sereno.messaging import outbox
    from sereno.messaging.contacts import contact_for
    from sereno.messaging.models import OutboundMessage

    with sereno_server.lock:
        contact = contact_for(scheme="tel", raw=NUMBER, channel=kannel_channel)
        gsm = outbox.enqueue(
            contact=contact, cause="test", text="¿Dónde ocurrió? Responda con la colonia, señora."
        )
        ucs2 = outbox.enqueue(
            contact=contact, cause="test", text="Reporte R-12 recibido ✓ ¿Algo más? Gracias."
        )
        long_text = "Gracias por su mensaje. " * 9  # 216 characters: two GSM-7 parts
        long = outbox.enqueue(contact=contact, cause="test", text=long_text.strip())
    assert (gsm.encoding, ucs2.encoding, long.segments) == ("gsm7", "ucs2", 2)
    # Smart encoding kept it in GSM-7: ó became o; ¿ and ñ are GSM-7 and stay.
    assert gsm.text == "¿Donde ocurrio? Responda con la colonia, señora."

    stats = send_outbox(kannel_channel)
    assert stats.sent == 3

    received = phone.wait_for(3, to=NUMBER)
    by_text = {m.text: m for m in received}
    assert by_text[gsm.text].coding == "gsm7"
    assert by_text[gsm.text].sender == SHORT_CODE
    assert by_text["Reporte R-12 recibido ✓ ¿Algo más? Gracias."].coding == "ucs2"
    assert by_text[long_text.strip()].parts == 2

    # The fake SMSC reports "accepted by the SMSC" (8) then "delivered" (1); by default a
    # message asks only for the reports that move it (1, 2, 16): one request per message.
    S = OutboundMessage.Status
    db_wait(
        sereno_server,
        lambda: OutboundMessage.objects.filter(status=S.DELIVERED).count() == 3,
        what="3 delivery reports",
    )
    with sereno_server.lock:
        for row in OutboundMessage.objects.all():
            assert row.delivered_at is not None and row.sent_at is not None
            reports = list(row.events.exclude(code="").values_list("code", flat=True))
            assert reports == ["dlr-1"], reports


def test_get_url_configuration_works_too(kannel_installed, kannel_channel, sereno_server, tmp_path):
    # The documented get-url (every field in the query string), UCS-2 recoded to UTF-8.
    with Gateway(tmp_path / "get", service_url=sereno_server.hook_url(method="get"),
                 method="get") as gateway:  # fmt: skip
        text = "Comayagüela: robó el celular a una señora, ¿qué hago?"
        gateway.phone.send(NUMBER, SHORT_CODE, text)
        # One at a time, as above: smsbox calls the webhook for both at once otherwise.
        db_wait(sereno_server, lambda: len(_inbound()) == 1, what="the first message")
        gateway.phone.send(NUMBER, SHORT_CODE, "Colonia 21 de Octubre & calle #3 + 50%")
        rows = db_wait(sereno_server, lambda: len(r := _inbound()) == 2 and r, what="2 rows")
    assert [r.text for r in rows] == [text, "Colonia 21 de Octubre & calle #3 + 50%"]


def test_kannel_with_a_wrong_secret_is_refused(
    kannel_installed, kannel_channel, sereno_server, tmp_path, caplog
):
    url = sereno_server.hook_url(secret=SECRET + "x")
    with Gateway(tmp_path / "bad", service_url=url, http_retries=0) as gateway:
        gateway.phone.send(NUMBER, SHORT_CODE, "hola, ¿me oyen?")
        db_wait(
            sereno_server,
            lambda: "inbound request refused" in caplog.text,
            what="the refusal",
        )
    assert _inbound() == []
    # Logged without the payload: neither the text nor the number.
    assert "hola" not in caplog.text and NUMBER not in caplog.text


def test_send_errors_are_retryable_or_permanent(kannel_channel, gateway, sereno_server):
    from sereno.messaging import outbox
    from sereno.messaging.contacts import contact_for
    from sereno.messaging.transports.base import PermanentError, RetryableError
    from sereno.messaging.transports.kannel import KannelTransport
    from tests.messaging.kannel.harness import free_port

    with sereno_server.lock:
        contact = contact_for(scheme="tel", raw=NUMBER, channel=kannel_channel)
        message = outbox.enqueue(contact=contact, cause="test", text="hola")
    config = dict(kannel_channel.config)

    # Refused credentials: Kannel answers 403; never worth retrying.
    kannel_channel.set_config({**config, "password": "wrong"})
    with pytest.raises(PermanentError) as refused:
        KannelTransport(kannel_channel).send(message, to=NUMBER)
    assert refused.value.code == "403"
    assert NUMBER not in refused.value.detail

    # Kannel not listening: try again later.
    kannel_channel.set_config(
        {**config, "sendsms_url": f"http://127.0.0.1:{free_port()}/cgi-bin/sendsms"}
    )
    with pytest.raises(RetryableError):
        KannelTransport(kannel_channel).send(message, to=NUMBER)

    # The right configuration sends.
    kannel_channel.set_config(config)
    assert KannelTransport(kannel_channel).send(message, to=NUMBER).provider_id == ""
