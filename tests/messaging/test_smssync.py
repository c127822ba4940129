"""An Android phone running SMSSync: inbound POSTs, polling for outbound (claimed with a
lease, so no message goes out twice), task=sent acknowledgements and task=result reports."""

import json
import logging
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode

import pytest
from django.utils import timezone

from sereno.messaging.models import InboundMessage, OutboundMessage
from tests.messaging.recorded.fakeprovider import make_channel, outbound, recorded

pytestmark = pytest.mark.django_db

SECRET = "frase-secreta-del-telefono"


@pytest.fixture
def channel():
    return make_channel("smssync", {"secret": SECRET, "batch_size": "2"})


def url(channel, **query):
    return f"/hooks/smssync/{channel.uuid}/" + (f"?{urlencode(query)}" if query else "")


def inbound_form(secret=SECRET):
    fields = dict(parse_qsl(recorded("smssync_inbound.txt").strip()))
    fields["secret"] = secret
    return urlencode(fields)


def post_inbound(client, channel, secret=SECRET):
    return client.post(url(channel), data=inbound_form(secret),
                       content_type="application/x-www-form-urlencoded")  # fmt: skip


def poll(client, channel, secret=SECRET):
    response = client.get(url(channel, task="send", secret=secret))
    assert response.status_code == 200
    return response.json()["payload"]


def test_an_sms_from_the_phone_is_stored_once_and_acknowledged(client, channel):
    first = post_inbound(client, channel)
    again = post_inbound(client, channel)
    assert first.json() == again.json() == {"payload": {"success": True, "error": None}}
    message = InboundMessage.objects.get(channel=channel)
    assert message.external_id == "82d6c8a9-3b8c-4f0e-9a1e-5c0f3a1b2c4d"
    assert message.text == "Hay un incendio en la aldea El Zamorano, ¡urgente!"
    assert message.contact.address == "+50499887766"
    assert message.received_at.year == 2026  # sent_timestamp in milliseconds


@pytest.mark.parametrize("secret", ["", "frase-secreta-del-telefonO", "x"])
def test_a_wrong_secret_is_refused_and_not_logged(client, channel, caplog, secret):
    with caplog.at_level(logging.DEBUG):
        assert post_inbound(client, channel, secret).status_code == 403
        assert client.get(url(channel, task="send", secret=secret)).status_code == 403
    assert not InboundMessage.objects.exists()
    assert "incendio" not in caplog.text and "99887766" not in caplog.text


def test_polling_hands_out_each_message_once(client, channel):
    rows = [outbound(channel, text=f"Mensaje {i} ñandú ¿sí?") for i in range(3)]
    first = poll(client, channel)
    assert first["task"] == "send" and first["secret"] == SECRET
    assert len(first["messages"]) == 2  # batch_size
    assert first["messages"][0] == {
        # GSM-7 smart encoding: ñ and ¿ stay, ú and í (not in GSM-7) lose their accent.
        "to": "+50499887766", "message": "Mensaje 0 ñandu ¿si?", "uuid": str(rows[0].uuid),
    }  # fmt: skip
    second = poll(client, channel)
    third = poll(client, channel)
    uuids = [m["uuid"] for m in first["messages"] + second["messages"] + third["messages"]]
    assert sorted(uuids) == sorted(str(r.uuid) for r in rows)  # each exactly once
    assert third["messages"] == []
    assert set(OutboundMessage.objects.values_list("status", flat=True)) == {"sending"}


def test_a_message_is_handed_out_again_only_after_its_lease_runs_out(client, channel):
    row = outbound(channel)
    assert len(poll(client, channel)["messages"]) == 1
    assert poll(client, channel)["messages"] == []
    OutboundMessage.objects.filter(pk=row.pk).update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )
    again = poll(client, channel)["messages"]
    assert [m["uuid"] for m in again] == [str(row.uuid)]


def test_task_sent_marks_the_queued_messages_sent_and_echoes_their_uuids(client, channel):
    rows = [outbound(channel, text=f"m{i}") for i in range(2)]
    poll(client, channel)
    stranger = "9b2f0c1e-0000-4000-8000-000000000000"
    # As the app sends it: JSON, no secret (the uuids it was handed are the credential).
    body = {"queued_messages": [str(r.uuid) for r in rows] + [stranger]}
    response = client.post(url(channel, task="sent"), data=json.dumps(body),
                           content_type="application/json")  # fmt: skip
    assert response.status_code == 200
    assert sorted(response.json()["message_uuids"]) == sorted(str(r.uuid) for r in rows)
    for row in rows:
        row.refresh_from_db()
        assert row.status == "sent" and row.sent_at is not None
    # Sent rows are never handed out again, even once their lease would have run out.
    OutboundMessage.objects.update(claimed_until=timezone.now() - timedelta(hours=1))
    assert poll(client, channel)["messages"] == []


def test_task_result_lists_awaiting_rows_and_records_delivery_reports(client, channel):
    delivered, failed, pending = (outbound(channel, text=t) for t in ("a", "b", "c"))
    poll(client, channel)
    poll(client, channel)
    client.post(url(channel, task="sent"),
                data=json.dumps({"queued_messages": [
                    str(delivered.uuid), str(failed.uuid), str(pending.uuid)]}),
                content_type="application/json")  # fmt: skip
    awaiting = client.get(url(channel, task="result", secret=SECRET)).json()["message_uuids"]
    assert sorted(awaiting) == sorted(str(r.uuid) for r in (delivered, failed, pending))
    report = {
        "secret": SECRET,
        "message_result": [
            {"uuid": str(delivered.uuid), "sent_result_code": 0,
             "sent_result_message": "SMSSync Message Sent", "delivered_result_code": 0,
             "delivered_result_message": "SMS Delivered"},
            {"uuid": str(failed.uuid), "sent_result_code": 1,
             "sent_result_message": "Failed to send SMS - Maybe insufficient air time.",
             "delivered_result_code": -1, "delivered_result_message": ""},
            {"uuid": str(pending.uuid), "sent_result_code": 0,
             "sent_result_message": "SMSSync Message Sent", "delivered_result_code": -1,
             "delivered_result_message": ""},
        ],
    }  # fmt: skip
    response = client.post(url(channel, task="result"), data=json.dumps(report),
                           content_type="application/json")  # fmt: skip
    assert response.status_code == 200
    statuses = dict(OutboundMessage.objects.values_list("uuid", "status"))
    assert statuses[delivered.uuid] == "delivered"
    assert statuses[failed.uuid] == "failed"
    assert statuses[pending.uuid] == "sent"
    awaiting = client.get(url(channel, task="result", secret=SECRET)).json()["message_uuids"]
    assert awaiting == [str(pending.uuid)]


def test_task_requests_without_the_secret_are_refused(client, channel):
    outbound(channel)
    assert client.get(url(channel, task="send")).status_code == 403
    assert client.get(url(channel, task="result")).status_code == 403
    assert OutboundMessage.objects.get().status == "queued"


def test_an_expired_or_opted_out_message_is_not_handed_out(client, channel):
    late = outbound(channel, text="tarde")
    OutboundMessage.objects.filter(pk=late.pk).update(
        valid_until=timezone.now() - timedelta(minutes=1)
    )
    quiet = outbound(channel, to="+50433445566", text="para alguien que dijo BAJA")
    quiet.contact.opted_out_at = timezone.now()
    quiet.contact.save(update_fields=["opted_out_at"])
    assert poll(client, channel)["messages"] == []
    late.refresh_from_db()
    quiet.refresh_from_db()
    assert late.status == "expired"
    assert quiet.status == "failed" and quiet.error == "opted out"


def test_other_channels_messages_are_never_handed_to_this_phone(client, channel):
    other = make_channel("smssync", {"secret": "otro-secreto"})
    outbound(other)
    assert poll(client, channel)["messages"] == []


def test_the_reply_to_an_sms_reaches_the_phone_at_its_next_poll(client, channel):
    post_inbound(client, channel)
    post_inbound(client, channel)  # the phone retried
    message = InboundMessage.objects.get()
    assert message.status == "handled"
    (reply,) = poll(client, channel)["messages"]
    assert reply["to"] == "+50499887766" and reply["message"]
    assert poll(client, channel)["messages"] == []


def test_an_acknowledgement_with_a_wrong_secret_or_unknown_uuids_changes_nothing(client, channel):
    row = outbound(channel)
    poll(client, channel)
    wrong = {"secret": "adivinanza", "queued_messages": [str(row.uuid)]}
    response = client.post(url(channel, task="sent"), data=json.dumps(wrong),
                           content_type="application/json")  # fmt: skip
    assert response.status_code == 403
    guessed = {"queued_messages": ["6f1c1d4e-1111-4222-8333-444455556666"]}
    response = client.post(url(channel, task="sent"), data=json.dumps(guessed),
                           content_type="application/json")  # fmt: skip
    assert response.json() == {"message_uuids": []}
    row.refresh_from_db()
    assert row.status == "sending"


def test_an_sms_from_an_operator_name_is_acknowledged_and_skipped(client, channel):
    fields = dict(parse_qsl(recorded("smssync_inbound.txt").strip()))
    fields.update({"secret": SECRET, "from": "Tigo", "message_id": "promo-1"})
    response = client.post(url(channel), data=urlencode(fields),
                           content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert response.json() == {"payload": {"success": True, "error": None}}
    assert not InboundMessage.objects.exists()
