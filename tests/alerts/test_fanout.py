from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from sereno.alerts import fanout
from sereno.alerts.models import Alert, AlertRecipient, FanoutPart
from sereno.lib import gsm7
from sereno.messaging import outbox
from sereno.messaging.models import Channel, OutboundMessage
from sereno.subscriptions.models import Subscription
from tests.alerts.fanout_support import COMAYAGUELA, SAN_PEDRO, published_alert, subscriber

pytestmark = pytest.mark.django_db

HINT = {
    "es": "Responda BAJA para no recibir más mensajes.",
    "en": "Reply STOP to stop all messages.",
}


@pytest.fixture
def sms(db):
    return Channel.objects.create(kind="kannel", name="SMS", address="2222", enabled=True)


@pytest.fixture
def alert(moderator):
    return published_alert(moderator)


def sent_to(alert):
    rows = OutboundMessage.objects.filter(
        pk__in=AlertRecipient.objects.filter(alert=alert).values("message_id")
    )
    return Counter(rows.values_list("contact_id", flat=True))


def test_every_subscriber_in_the_area_gets_one_message_and_no_one_else(sms, alert):
    near = [subscriber(sms, i) for i in range(5)]
    comayaguela = subscriber(sms, 10, at=COMAYAGUELA)
    far = subscriber(sms, 11, at=SAN_PEDRO)
    pending = subscriber(sms, 12, status=Subscription.Status.PENDING)
    cancelled = subscriber(sms, 13, status=Subscription.Status.CANCELLED)

    result = fanout.fan_out(alert_id=alert.pk)

    reached = sent_to(alert)
    assert set(reached) == {s.contact_id for s in near} | {comayaguela.contact_id}
    assert set(reached.values()) == {1}
    assert far.contact_id not in reached and pending.contact_id not in reached
    assert cancelled.contact_id not in reached
    alert.refresh_from_db()
    assert (result.recipients, alert.recipients, alert.fanout) == (6, 6, Alert.Fanout.DONE)
    row = OutboundMessage.objects.filter(cause="alert").first()
    assert row.valid_until == alert.expires and row.priority == fanout.PRIORITY
    assert row.status == OutboundMessage.Status.QUEUED and row.channel == sms


def test_a_contact_with_two_matching_areas_gets_one_message(sms, alert):
    first = subscriber(sms, 1)
    Subscription.objects.create(
        contact=first.contact,
        channel=sms,
        zone=subscriber(sms, 2, at=COMAYAGUELA).zone,
        source=Subscription.Source.WEB,
        status=Subscription.Status.ACTIVE,
    )
    fanout.fan_out(alert_id=alert.pk)
    assert sent_to(alert)[first.contact_id] == 1


def test_each_subscriber_reads_their_language(sms, alert):
    es = subscriber(sms, 1, language="es")
    en = subscriber(sms, 2, language="en")
    fanout.fan_out(alert_id=alert.pk)
    by_contact = dict(
        OutboundMessage.objects.filter(cause="alert").values_list("contact_id", "text")
    )
    assert by_contact[es.contact_id].startswith("ALERTA: Balacera en el centro")
    assert "BAJA" in by_contact[es.contact_id]
    assert by_contact[en.contact_id].startswith("ALERT: Shooting in central Tegucigalpa")


def test_someone_who_opted_out_a_second_before_publishing_gets_nothing(sms, moderator):
    stays, leaves = subscriber(sms, 1), subscriber(sms, 2)
    leaves.contact.opted_out_at = timezone.now()
    leaves.contact.save()
    alert = published_alert(moderator)
    fanout.fan_out(alert_id=alert.pk)
    assert set(sent_to(alert)) == {stays.contact_id}


def test_running_it_again_sends_nothing_more(sms, alert):
    for i in range(7):
        subscriber(sms, i)
    fanout.fan_out(alert_id=alert.pk, batch_size=3)
    Alert.objects.filter(pk=alert.pk).update(fanout=Alert.Fanout.RUNNING)  # as if unsure
    fanout.fan_out(alert_id=alert.pk, batch_size=3)
    assert sum(sent_to(alert).values()) == 7
    assert AlertRecipient.objects.filter(alert=alert).count() == 7


def test_a_crash_midway_resumes_after_the_last_batch(sms, alert, monkeypatch):
    for i in range(10):
        subscriber(sms, i)
    real, calls = outbox.enqueue_select, []

    def dies_in_the_third_batch(**kwargs):
        calls.append(1)
        if len(calls) == 3:  # one INSERT per batch: the third batch dies
            raise SystemExit("killed")
        return real(**kwargs)

    monkeypatch.setattr(outbox, "enqueue_select", dies_in_the_third_batch)
    with pytest.raises(SystemExit):
        fanout.fan_out(alert_id=alert.pk, batch_size=3, parts=2)
    alert.refresh_from_db()
    # Part 0 (even contact ids) wrote its two batches; part 1's first batch rolled back.
    assert alert.fanout == Alert.Fanout.RUNNING
    assert fanout.progress(alert)["recipients"] == 5
    assert OutboundMessage.objects.filter(cause="alert").count() == 5
    assert list(FanoutPart.objects.filter(alert=alert).values_list("part", "recipients")) == [
        (0, 5),
        (1, 0),
    ]

    monkeypatch.setattr(outbox, "enqueue_select", real)
    fanout.fan_out(alert_id=alert.pk, batch_size=3, parts=4)  # the parts stay as they were
    reached = sent_to(alert)
    assert len(reached) == 10 and set(reached.values()) == {1}
    alert.refresh_from_db()
    assert alert.recipients == 10 and FanoutPart.objects.filter(alert=alert).count() == 2


def test_the_periodic_task_resumes_only_fan_outs_that_stopped(sms, moderator):
    subscriber(sms, 1)
    long_ago = timezone.now() - timedelta(minutes=10)
    dead = published_alert(moderator, fanout=Alert.Fanout.RUNNING, fanout_beat_at=long_ago)
    lost = published_alert(moderator, published_at=long_ago)
    busy = published_alert(moderator, fanout=Alert.Fanout.RUNNING, fanout_beat_at=timezone.now())
    draft = published_alert(moderator, state=Alert.State.DRAFT, published_at=None)

    assert fanout.resume_unfinished() == 2
    states = dict(Alert.objects.values_list("pk", "fanout"))
    assert states[dead.pk] == states[lost.pk] == Alert.Fanout.DONE
    assert states[busy.pk] == Alert.Fanout.RUNNING and states[draft.pk] == Alert.Fanout.NONE


def test_a_draft_is_never_fanned_out(sms, moderator):
    subscriber(sms, 1)
    draft = published_alert(moderator, state=Alert.State.DRAFT, published_at=None)
    assert fanout.fan_out(alert_id=draft.pk).recipients == 0
    assert not OutboundMessage.objects.exists()


def test_progress_counts_messages_by_status(sms, alert):
    for i in range(4):
        subscriber(sms, i)
    fanout.fan_out(alert_id=alert.pk)
    first = OutboundMessage.objects.filter(cause="alert").order_by("pk").first()
    OutboundMessage.objects.filter(pk=first.pk).update(status=OutboundMessage.Status.DELIVERED)
    shown = fanout.progress(alert)
    assert shown["recipients"] == 4 and shown["done"]
    assert (shown["queued"], shown["delivered"], shown["failed"]) == (3, 1, 0)


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize("msg_type", list(Alert.MsgType))
def test_every_message_fits_two_segments_with_the_opt_out_hint(moderator, language, msg_type):
    alert = published_alert(
        moderator,
        msg_type=msg_type,
        status=Alert.Status.EXERCISE,
        headline_es="Bloqueo de la carretera CA-5 a la altura de Zambrano " * 3,
        headline_en="Road blockade on the CA-5 highway near Zambrano " * 3,
        instruction_es="Busque rutas alternas y siga las indicaciones de las autoridades. " * 4,
        instruction_en="Take other roads and follow the authorities' instructions. " * 4,
    )
    text = fanout.message_text(alert, language)
    assert gsm7.encode(text).segments <= 2
    assert text.endswith(HINT[language])
    assert text.startswith("PRUEBA - " if language == "es" else "TEST - ")
    assert "…" in text or "..." in text


def test_a_short_message_is_left_whole(moderator):
    text = fanout.message_text(published_alert(moderator), "es")
    assert text == (
        "ALERTA: Balacera en el centro de Tegucigalpa (Centro de Tegucigalpa). "
        "Evite la zona y resguárdese. Responda BAJA para no recibir más mensajes."
    )
