"""The outbox sender: claims, leases, retries, validity, opt-outs, delivery reports, shutdown.

The gateway is a `Transport` subclass defined here (our own interface): it records each call
and raises the errors a gateway would. Everything else is real: the database, the claims, the
token bucket.
"""

import logging
import threading
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from sereno.messaging import outbox, transports
from sereno.messaging.contacts import contact_for
from sereno.messaging.models import Channel, DeliveryEvent, OutboundMessage
from sereno.messaging.sender import ChannelSender, run_senders
from sereno.messaging.transports.base import (
    PermanentError,
    RetryableError,
    Sent,
    StatusUpdate,
    Transport,
)

S = OutboundMessage.Status
pytestmark = pytest.mark.django_db


class RecordingTransport(Transport):
    """A gateway double: records (row id, address, text, time) per send; `script` maps a
    row's text to what to do (an exception to raise, or a callable run before answering)."""

    kind = "kannel"
    is_sms = True
    calls: list = []
    script: dict = {}
    delay = 0.0

    def __init__(self, channel):
        super().__init__(channel)
        self.lock = threading.Lock()

    def send(self, message, *, to):
        action = type(self).script.get(message.text)
        if isinstance(action, list):  # one action per attempt
            action = action.pop(0) if action else None
        if callable(action) and not isinstance(action, type):
            action(message)
        if type(self).delay:
            time.sleep(type(self).delay)
        if isinstance(action, Exception):
            raise action
        with self.lock:
            type(self).calls.append((message.pk, to, message.text, time.monotonic()))
        return Sent(provider_id=f"gw-{message.pk}")


@pytest.fixture(autouse=True)
def recording_transport(monkeypatch):
    monkeypatch.setitem(transports.TRANSPORTS, "kannel", f"{__name__}:RecordingTransport")
    RecordingTransport.calls = []
    RecordingTransport.script = {}
    RecordingTransport.delay = 0.0
    return RecordingTransport


@pytest.fixture
def channel(db):
    return Channel.objects.create(
        kind="kannel", name="SMS", enabled=True, rate_per_second=0, burst=10
    )


def phone(n: int) -> str:
    return f"+5049{n:07d}"


def queue(channel, count: int, *, text="Hola {n}", start: int = 0, **kwargs):
    rows = []
    for n in range(start, start + count):
        contact = contact_for(scheme="tel", raw=phone(n), channel=channel)
        rows.append(
            outbox.enqueue(contact=contact, text=text.format(n=n), cause="test", channel=channel,
                           **kwargs)
        )  # fmt: skip
    return rows


def sender(channel, **kwargs) -> ChannelSender:
    kwargs.setdefault("threads", 4)
    kwargs.setdefault("policy", outbox.Policy(lease_seconds=60, max_attempts=3))
    return ChannelSender(channel, **kwargs)


def statuses(rows) -> list[str]:
    return [OutboundMessage.objects.get(pk=row.pk).status for row in rows]


def events(row) -> list[str]:
    return list(DeliveryEvent.objects.filter(message=row).values_list("status", flat=True))


def test_queued_messages_go_out_once_to_the_right_phone_and_are_recorded(channel):
    rows = queue(channel, 5, text="Su reporte R-{n} fue recibido. ¿Algo más?")
    stats = sender(channel).run(once=True)
    assert stats.sent == 5
    calls = sorted(RecordingTransport.calls)
    assert [(pk, to) for pk, to, _, _ in calls] == [(row.pk, phone(n)) for n, row in
                                                    enumerate(rows)]  # fmt: skip
    assert calls[0][2] == "Su reporte R-0 fue recibido. ¿Algo más?".replace("á", "a")
    for row in rows:
        row.refresh_from_db()
        assert row.status == S.SENT and row.provider_id == f"gw-{row.pk}"
        assert row.sent_at is not None and row.attempts == 1 and row.claimed_until is None
        assert events(row) == ["sending", "sent"]


@pytest.mark.django_db(transaction=True)
def test_two_senders_at_once_never_send_the_same_row_twice():
    channel = Channel.objects.create(kind="kannel", name="SMS", enabled=True, rate_per_second=0)
    rows = queue(channel, 300)
    RecordingTransport.delay = 0.002
    stop = threading.Event()
    senders = [sender(channel, batch=40, stop=stop) for _ in range(2)]
    results = {}

    def run(index):
        try:
            results[index] = senders[index].run(once=True)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    sent_ids = [pk for pk, *_ in RecordingTransport.calls]
    assert sorted(sent_ids) == sorted(row.pk for row in rows)  # each exactly once
    assert results[0].sent + results[1].sent == 300
    if connection.vendor == "postgresql":  # SKIP LOCKED: both take rows at the same time
        assert results[0].sent > 0 and results[1].sent > 0
    assert set(statuses(rows)) == {S.SENT}


def test_a_dead_senders_rows_wait_for_its_lease_then_go_out_again(channel):
    [row] = queue(channel, 1)
    policy = outbox.Policy(lease_seconds=60, max_attempts=3)
    # A sender claims the row and dies before recording anything.
    outbox.claim(channel=channel, limit=10, token="dead", policy=policy)
    assert sender(channel).run(once=True).sent == 0  # its lease still holds
    assert RecordingTransport.calls == []
    # The lease runs out (time moved on, not slept).
    OutboundMessage.objects.filter(pk=row.pk).update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )
    assert sender(channel).run(once=True).sent == 1
    row.refresh_from_db()
    assert row.status == S.SENT and row.attempts == 2
    assert events(row) == ["sending", "sending", "sent"]


def test_a_stale_lease_on_a_channel_without_sender_is_released_by_the_periodic_task(channel):
    [row, spent] = queue(channel, 2)
    policy = outbox.Policy(lease_seconds=60, max_attempts=2)
    outbox.claim(channel=channel, limit=10, token="dead", policy=policy)
    past = timezone.now() - timedelta(seconds=1)
    OutboundMessage.objects.filter(pk=row.pk).update(claimed_until=past)
    OutboundMessage.objects.filter(pk=spent.pk).update(claimed_until=past, attempts=2)
    assert outbox.release_stale_leases(policy=policy) == 2
    row.refresh_from_db()
    spent.refresh_from_db()
    assert row.status == S.QUEUED and row.claim_token == ""
    assert spent.status == S.FAILED and spent.error == "lease expired"


def test_a_slow_gateway_gets_no_more_rows_than_it_can_send_within_their_lease(channel):
    rows = queue(channel, 40, text="lento {n}")
    RecordingTransport.delay = 0.1  # 2 threads: 20 messages/s
    slow = sender(channel, threads=2, batch=500, policy=outbox.Policy(lease_seconds=2))
    stats = slow.run(once=True)
    assert (stats.sent, stats.released) == (40, 0)  # none waited until its lease ran short
    assert set(statuses(rows)) == {S.SENT}
    assert OutboundMessage.objects.filter(pk=rows[-1].pk).get().attempts == 1


def test_a_retryable_error_backs_off_honours_retry_after_then_sends(channel):
    [row] = queue(channel, 1, text="reintento")
    RecordingTransport.script = {"reintento": [RetryableError("HTTP 503", code="503",
                                                                retry_after=120)]}  # fmt: skip
    before = timezone.now()
    stats = sender(channel).run(once=True)
    assert stats.retried == 1 and stats.sent == 0
    row.refresh_from_db()
    assert row.status == S.QUEUED and row.attempts == 1 and row.error == "HTTP 503"
    assert row.next_attempt_at >= before + timedelta(seconds=120)
    assert sender(channel).run(once=True).sent == 0  # not due yet
    OutboundMessage.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert sender(channel).run(once=True).sent == 1
    row.refresh_from_db()
    assert row.status == S.SENT and row.attempts == 2
    assert events(row) == ["sending", "queued", "sending", "sent"]


def test_backoff_doubles_with_jitter_up_to_a_ceiling():
    policy = outbox.Policy(backoff_seconds=5, backoff_max_seconds=60)
    for attempts, ceiling in [(1, 5), (2, 10), (3, 20), (4, 40), (5, 60), (9, 60)]:
        delays = [policy.backoff(attempts) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 10  # jittered, not all equal
    assert policy.backoff(1, retry_after=300) >= 300


def test_retries_stop_at_max_attempts_and_the_row_fails(channel):
    [row] = queue(channel, 1, text="siempre falla")
    RecordingTransport.script = {"siempre falla": RetryableError("timeout", code="timeout")}
    for _ in range(3):
        sender(channel).run(once=True)
        OutboundMessage.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    row.refresh_from_db()
    assert row.status == S.FAILED and row.attempts == 3 and row.failed_at is not None
    assert RecordingTransport.calls == []
    assert events(row)[-1] == "failed"


def test_a_permanent_error_fails_at_once_and_logs_neither_number_nor_text(channel, caplog):
    [row] = queue(channel, 1, text="texto privado")
    RecordingTransport.script = {"texto privado": PermanentError("invalid number", code="21211")}
    with caplog.at_level(logging.DEBUG):
        stats = sender(channel).run(once=True)
    assert stats.failed == 1
    row.refresh_from_db()
    assert row.status == S.FAILED and row.attempts == 1 and row.error == "invalid number"
    assert "21211" in caplog.text
    assert phone(0) not in caplog.text and "texto privado" not in caplog.text


def test_an_unexpected_exception_is_retried_and_its_text_never_logged(channel, caplog):
    [row] = queue(channel, 1, text="x")
    RecordingTransport.script = {"x": [ValueError(f"bad url http://gw/?to={phone(0)}")]}
    with caplog.at_level(logging.DEBUG):
        sender(channel).run(once=True)
    row.refresh_from_db()
    assert row.status == S.QUEUED and row.error == "ValueError"
    assert phone(0) not in caplog.text


def test_past_its_validity_a_message_expires_and_is_never_sent_late(channel):
    soon = timezone.now() + timedelta(seconds=30)
    [late, fine] = queue(channel, 2, text="alerta {n}", valid_until=soon)
    OutboundMessage.objects.filter(pk=late.pk).update(valid_until=timezone.now())
    stats = sender(channel).run(once=True)
    assert (stats.sent, stats.expired) == (1, 1)
    assert statuses([late, fine]) == [S.EXPIRED, S.SENT]
    assert [pk for pk, *_ in RecordingTransport.calls] == [fine.pk]


def test_a_retry_that_would_fall_past_validity_expires_instead(channel):
    [row] = queue(channel, 1, text="breve", valid_until=timezone.now() + timedelta(seconds=60))
    RecordingTransport.script = {"breve": RetryableError("busy", retry_after=600)}
    assert sender(channel).run(once=True).expired == 1
    assert statuses([row]) == [S.EXPIRED]


def test_expire_due_ends_queued_rows_nobody_sends(channel):
    [row] = queue(channel, 1, valid_until=timezone.now() + timedelta(minutes=5))
    assert outbox.expire_due(now=timezone.now() + timedelta(minutes=6)) == 1
    assert statuses([row]) == [S.EXPIRED] and events(row) == ["expired"]


def test_an_opted_out_contact_is_never_sent_to_but_gets_the_confirmation(channel):
    [before] = queue(channel, 1, text="antes")
    contact = before.contact
    # The opt-out lands after the row was queued and without cancelling it (a race with a
    # fan-out): the sender still checks at claim time.
    type(contact).objects.filter(pk=contact.pk).update(opted_out_at=timezone.now())
    contact.refresh_from_db()
    confirmation = outbox.enqueue(
        contact=contact, text="Ya no recibira mensajes.", cause="opt_out", channel=channel,
        even_if_opted_out=True,
    )  # fmt: skip
    assert outbox.enqueue(contact=contact, text="otra", cause="alert", channel=channel) is None
    stats = sender(channel).run(once=True)
    assert (stats.sent, stats.failed) == (1, 1)
    assert statuses([before, confirmation]) == [S.FAILED, S.SENT]
    assert [text for _, _, text, _ in RecordingTransport.calls] == ["Ya no recibira mensajes."]


@pytest.mark.django_db(transaction=True)
def test_a_delivery_report_that_arrives_before_the_send_is_recorded_is_kept(channel):
    [row] = queue(channel, 1, text="rapido")

    def gateway_reports_at_once(message):  # the DLR comes back before send() returns
        update = StatusUpdate(status="delivered", message_uuid=str(message.uuid))
        outbox.status_record(channel=channel, update=update)  # the web process, really
        connection.close()

    RecordingTransport.script = {"rapido": gateway_reports_at_once}
    sender(channel).run(once=True)
    row.refresh_from_db()
    assert row.status == S.DELIVERED
    assert row.provider_id == f"gw-{row.pk}" and row.sent_at and row.delivered_at
    assert events(row) == ["sending", "delivered"]


def test_delivery_reports_move_sent_to_delivered_or_failed(channel):
    rows = queue(channel, 3)
    sender(channel).run(once=True)

    def report(status, **ids):
        return outbox.status_record(channel=channel, update=StatusUpdate(status, **ids))

    report("delivered", provider_id=f"gw-{rows[0].pk}")
    report("failed", message_uuid=str(rows[1].uuid), code="16", detail="SMSC rejected")
    assert report("delivered") is None
    assert report("delivered", message_uuid="not-a-uuid") is None
    assert statuses(rows) == [S.DELIVERED, S.FAILED, S.SENT]
    assert OutboundMessage.objects.get(pk=rows[1].pk).error == "SMSC rejected"
    # A late "failed" never undoes a delivery.
    report("failed", provider_id=f"gw-{rows[0].pk}")
    assert statuses(rows[:1]) == [S.DELIVERED]


@pytest.mark.django_db(transaction=True)
def test_stopping_finishes_sends_in_flight_and_gives_back_the_rest(channel):
    rows = queue(channel, 20, text="m{n}")
    started, finish = threading.Event(), threading.Event()

    def slow(message):
        started.set()
        finish.wait(10)

    RecordingTransport.script = {"m0": slow}
    stop = threading.Event()
    stats = {}
    thread = threading.Thread(
        target=lambda: stats.update(total=run_senders(uuids=[str(channel.uuid)], threads=1,
                                                      batch=20, stop=stop))
    )  # fmt: skip
    thread.start()
    assert started.wait(10)
    stop.set()  # what SIGTERM does
    finish.set()
    thread.join(20)
    assert not thread.is_alive()
    total = stats["total"]
    # One thread: m0 was in flight and went; the others it had claimed went back unsent.
    assert total.sent == 1 and total.released >= 1
    assert statuses(rows) == [S.SENT] + [S.QUEUED] * 19
    given_back = OutboundMessage.objects.filter(events__code="released").distinct()
    assert given_back.count() == total.released
    for row in OutboundMessage.objects.filter(status=S.QUEUED):
        assert (row.attempts, row.claim_token, row.claimed_until) == (0, "", None)
    assert sender(channel).run(once=True).sent == 19


@pytest.mark.django_db(transaction=True)
def test_the_command_sends_what_is_queued_and_says_how_much(channel, capsys):
    queue(channel, 3)
    call_command("messaging_sender", "--once", "--channel", str(channel.uuid), "--threads", "2")
    assert "sent 3," in capsys.readouterr().out
    assert len(RecordingTransport.calls) == 3


@pytest.mark.django_db(transaction=True)
def test_the_command_without_channels_serves_every_enabled_one(channel, capsys):
    off = Channel.objects.create(kind="kannel", name="off", enabled=False)
    queue(channel, 2)
    queue(off, 1, start=10)
    call_command("messaging_sender", "--once")
    assert "sent 2," in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_a_channel_enabled_while_the_sender_runs_starts_sending_and_stops_when_disabled():
    channel = Channel.objects.create(kind="kannel", name="SMS", enabled=False, rate_per_second=0)
    queue(channel, 2)
    stop = threading.Event()
    thread = threading.Thread(target=run_senders, kwargs={"stop": stop, "rescan_seconds": 0.05})
    thread.start()
    try:
        time.sleep(0.3)
        assert RecordingTransport.calls == []  # off: nothing goes
        Channel.objects.filter(pk=channel.pk).update(enabled=True)
        deadline = time.monotonic() + 10
        while len(RecordingTransport.calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(RecordingTransport.calls) == 2
        Channel.objects.filter(pk=channel.pk).update(enabled=False)
        # The channel's sender thread ends at the next rescan (however loaded the machine).
        name = f"sender-{channel.pk}"
        deadline = time.monotonic() + 10
        while any(t.name == name for t in threading.enumerate()):
            assert time.monotonic() < deadline, "the sender did not stop"
            time.sleep(0.05)
        queue(channel, 1, start=5)
        time.sleep(0.6)
        assert len(RecordingTransport.calls) == 2  # off again
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def test_the_command_refuses_an_unknown_channel(channel):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no channel"):
        call_command(
            "messaging_sender", "--once", "--channel", "6f1c0a53-1f9e-4c43-9d0e-8f7d7a3c2b10"
        )


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_an_idle_sender_wakes_up_at_once_when_a_message_is_enqueued(settings):
    import os

    import redis

    url = os.environ.get("SERENO_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.ConnectionError:
        pytest.skip(f"Redis is not reachable at {url}")
    settings.REDIS_URL = url
    settings.SENDER_POLL_MS = 60_000  # without a wake-up it would wait a minute
    channel = Channel.objects.create(kind="kannel", name="SMS", enabled=True, rate_per_second=0)
    stop = threading.Event()
    thread = threading.Thread(target=run_senders, kwargs={"stop": stop})
    thread.start()
    try:
        time.sleep(0.5)  # idle, subscribed
        outbox._last_wake = 0.0
        enqueued = time.monotonic()
        queue(channel, 1)
        deadline = enqueued + 5
        while not RecordingTransport.calls and time.monotonic() < deadline:
            time.sleep(0.01)
        assert RecordingTransport.calls
        assert RecordingTransport.calls[0][3] - enqueued < 2
    finally:
        stop.set()
        thread.join(10)


def test_upkeep_runs_on_the_worker_every_minute(channel):
    import datetime

    from huey.contrib.djhuey import HUEY

    from sereno.messaging import tasks

    due = {task.name for task in HUEY.read_periodic(datetime.datetime(2026, 5, 1, 10, 7))}
    assert {
        "inbound_retry_pending_task",
        "release_stale_leases_task",
        "expire_outbound_task",
    } <= due
    [row] = queue(channel, 1, valid_until=timezone.now() + timedelta(seconds=1))
    OutboundMessage.objects.filter(pk=row.pk).update(valid_until=timezone.now())
    assert tasks.expire_outbound_task.call_local() == 1
    assert tasks.release_stale_leases_task.call_local() == 0
    assert tasks.inbound_retry_pending_task.call_local() == 0
