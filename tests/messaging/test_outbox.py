"""The outbox's writing side: what a row holds when a cause enqueues a message."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from sereno.messaging import outbox
from sereno.messaging.contacts import contact_for
from sereno.messaging.models import Channel, DeliveryEvent, OutboundMessage
from sereno.messaging.services import contact_opt_out

pytestmark = pytest.mark.django_db
S = OutboundMessage.Status


@pytest.fixture
def sms(db):
    return Channel.objects.create(
        kind="kannel", name="SMS", enabled=True, price_per_segment=Decimal("0.0350")
    )


@pytest.fixture
def contact(sms):
    return contact_for(scheme="tel", raw="+50499887766", channel=sms)


def test_a_spanish_sms_stays_gsm7_and_staff_see_its_segments_and_cost(sms, contact):
    text = "Su reporte fue recibido. ¿Dónde ocurrió? Responda “BAJA” para salir…"
    row = outbox.enqueue(contact=contact, text=text, cause="conversation")
    assert row.encoding == "gsm7" and row.segments == 1
    assert row.text == 'Su reporte fue recibido. ¿Donde ocurrio? Responda "BAJA" para salir...'
    assert row.cost_estimate == Decimal("0.0350")
    long = outbox.enqueue(contact=contact, text="ñ" * 161, cause="alert")
    assert (long.segments, long.cost_estimate) == (2, Decimal("0.0700"))


def test_text_gsm7_cannot_carry_goes_as_ucs2_and_costs_more(sms, contact):
    row = outbox.enqueue(contact=contact, text="Alerta 🚨 en Tegucigalpa", cause="alert")
    assert row.encoding == "ucs2" and row.text == "Alerta 🚨 en Tegucigalpa"
    assert row.segments == 1 and row.cost_estimate == Decimal("0.0350")


def test_without_a_price_the_cost_is_unknown_not_zero(contact):
    free = Channel.objects.create(kind="kannel", name="free", enabled=True)
    assert (
        outbox.enqueue(contact=contact, text="hola", cause="x", channel=free).cost_estimate is None
    )


def test_a_chat_message_is_plain_text_in_one_piece(contact):
    telegram = Channel.objects.create(kind="telegram", name="bot", enabled=True)
    row = outbox.enqueue(contact=contact, text="á" * 500, cause="x", channel=telegram)
    assert (row.encoding, row.segments, row.text) == ("text", 1, "á" * 500)


def test_one_message_per_cause(sms, contact):
    first = outbox.enqueue(contact=contact, text="uno", cause="reply", dedupe_key="reply:1")
    again = outbox.enqueue(contact=contact, text="dos", cause="reply", dedupe_key="reply:1")
    assert again.pk == first.pk and OutboundMessage.objects.count() == 1


def test_the_row_is_written_with_its_cause_or_not_at_all(sms, contact):
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.enqueue(contact=contact, text="hola", cause="x")
        raise RuntimeError("the cause failed")
    assert OutboundMessage.objects.count() == 0


def test_opting_out_cancels_what_is_queued_but_not_the_confirmation(sms, contact):
    queued = outbox.enqueue(contact=contact, text="alerta", cause="alert")
    contact_opt_out(contact=contact)
    confirmation = outbox.enqueue(
        contact=contact, text="Ya no recibira mensajes.", cause="opt_out", even_if_opted_out=True
    )
    assert outbox.enqueue(contact=contact, text="otra", cause="alert") is None
    queued.refresh_from_db()
    assert queued.status == S.FAILED and queued.error == "opted out"
    assert list(DeliveryEvent.objects.filter(message=queued).values_list("code", flat=True)) == [
        "opted_out"
    ]
    assert confirmation.even_if_opted_out and confirmation.status == S.QUEUED
    assert outbox.cancel_queued_for(contact=contact) == 0  # the confirmation stays


def test_nothing_is_sent_to_a_contact_without_channel():
    lost = contact_for(scheme="tel", raw="+50499001122")
    assert outbox.enqueue(contact=lost, text="hola", cause="x") is None


def test_a_failed_wake_up_never_fails_the_cause(
    sms, contact, settings, django_capture_on_commit_callbacks
):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there: the wake-up fails
    outbox._last_wake = 0.0
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        row = outbox.enqueue(contact=contact, text="hola", cause="x")
    assert callbacks  # the wake-up ran after the commit, failed, and was only logged
    assert OutboundMessage.objects.get(pk=row.pk).status == S.QUEUED


def test_a_claim_takes_due_rows_highest_priority_first_and_leaves_the_rest(sms, contact):
    low = outbox.enqueue(contact=contact, text="baja", cause="x")
    high = outbox.enqueue(contact=contact, text="alta", cause="x", priority=5)
    later = outbox.enqueue(contact=contact, text="luego", cause="x")
    OutboundMessage.objects.filter(pk=later.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    policy = outbox.Policy(lease_seconds=30)
    claimed = outbox.claim(channel=sms, limit=10, token="a", policy=policy)
    assert [row.pk for row in claimed] == [high.pk, low.pk]
    assert all(row.status == S.SENDING and row.claim_token == "a" for row in claimed)
    assert outbox.claim(channel=sms, limit=10, token="b", policy=policy) == []
    # Only the holder records; another token changes nothing.
    assert outbox.record_sent([(claimed[0], "", timezone.now())], token="b") == 0
    assert outbox.record_sent([(claimed[0], "", timezone.now())], token="a") == 1


def test_a_sender_never_takes_over_its_own_expired_claims(sms, contact):
    row = outbox.enqueue(contact=contact, text="hola", cause="x")
    policy = outbox.Policy(lease_seconds=30)
    assert outbox.claim(channel=sms, limit=10, token="a", policy=policy)
    later = timezone.now() + timedelta(seconds=31)
    # Still in its own pool, perhaps: "a" gives it back itself rather than holding it twice.
    assert outbox.claim(channel=sms, limit=10, token="a", policy=policy, now=later) == []
    [taken] = outbox.claim(channel=sms, limit=10, token="b", policy=policy, now=later)
    assert taken.pk == row.pk and taken.attempts == 2
    assert outbox.release([row], token="a") == 0  # the old holder's late word changes nothing
    assert OutboundMessage.objects.get(pk=row.pk).claim_token == "b"
