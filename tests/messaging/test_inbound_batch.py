"""The batch router: many contacts' pending messages routed in one transaction, each contact's
in order, every reply an outbox row of that transaction (services.inbound_route_pending)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sereno.messaging import services
from sereno.messaging.models import Channel, Contact, InboundMessage, OutboundMessage
from sereno.messaging.transports.base import Incoming

pytestmark = pytest.mark.django_db


@pytest.fixture
def kannel(db):
    channel = Channel(kind="kannel", name="SMS", address="1234", enabled=True)
    channel.set_config({"sendsms_url": "http://127.0.0.1:9/cgi-bin/sendsms", "username": "u",
                        "password": "p", "secret": "batch-test-secret"})  # fmt: skip
    channel.save()
    return channel


def store(channel, number: str, external_id: str, text: str) -> InboundMessage:
    message, created = services.inbound_receive(
        channel=channel,
        incoming=Incoming(external_id=external_id, sender=number, text=text),
        route="deferred",
    )
    assert created
    return message


def outcomes(*messages) -> list[str]:
    return [InboundMessage.objects.get(pk=m.pk).outcome for m in messages]


def test_one_batch_routes_many_contacts_each_in_order(kannel):
    a1 = store(kannel, "+50499000001", "a1", "Balacera en el mercado")
    b1 = store(kannel, "+50499000002", "b1", "Robo en la parada")
    a2 = store(kannel, "+50499000001", "a2", "No sé")
    c1 = store(kannel, "+50499000003", "c1", "BAJA")
    c2 = store(kannel, "+50499000003", "c2", "Hubo disparos")
    b2 = store(kannel, "+50499000002", "b2", "AYUDA")

    assert services.inbound_route_pending() == 6

    assert outcomes(a1, a2) == ["new_report", "answer"]  # a2 answered a1's "where"
    assert outcomes(b1, b2) == ["new_report", "help"]
    assert outcomes(c1, c2) == ["opt_out", "ignored"]  # the opt-out held for c's next one
    assert not InboundMessage.objects.filter(status="pending").exists()
    # Replies: a1 where?, a2 when?, b1 where?, b2 help + where? again, c1 the confirmation.
    replies = OutboundMessage.objects.filter(cause="conversation")
    assert replies.count() == 6
    opted_out = Contact.objects.get(pk=c1.contact_id)
    assert opted_out.opted_out_at is not None
    assert list(replies.filter(contact=opted_out).values_list("in_reply_to", flat=True)) == [c1.pk]
    # Nothing left: a second router finds no work.
    assert services.inbound_route_pending() == 0


def test_the_batch_router_takes_the_oldest_first_and_leaves_the_rest(kannel):
    messages = [store(kannel, f"+504990001{i:02d}", f"m{i}", "Balacera") for i in range(5)]
    assert services.inbound_route_pending(limit=3) == 3
    assert [m.status for m in InboundMessage.objects.order_by("pk")] == ["handled"] * 3 + [
        "pending"
    ] * 2
    assert services.inbound_route_pending(limit=3) == 2
    assert outcomes(*messages) == ["new_report"] * 5


def test_a_message_routed_twice_is_answered_once(kannel):
    message = store(kannel, "+50499000009", "x1", "Balacera en el mercado")
    services.inbound_route_pending()
    services.inbound_route_contact(contact_id=message.contact_id)  # a late per-contact task
    services.inbound_retry_pending(older_than_seconds=0)
    assert OutboundMessage.objects.filter(in_reply_to=message).count() == 1


def routing_queries(kannel, n: int, offset: int) -> int:
    for i in range(n):
        store(kannel, f"+50498{offset + i:06d}", f"q{offset + i}", "Balacera en la colonia")
    with CaptureQueriesContext(connection) as queries:
        assert services.inbound_route_pending(limit=n) == n
    return len(queries)


def test_the_batch_router_reads_once_per_batch_and_writes_once_per_row(kannel):
    small = routing_queries(kannel, 5, 0)
    large = routing_queries(kannel, 25, 1000)
    # Per first message: the conversation's INSERT and its reply's INSERT, nothing else;
    # the contacts, their pending messages, open conversations and staff threads are read
    # once per batch, and the rows marked handled by one statement.
    assert large - small == 20 * 2
    assert small - 5 * 2 <= 8


@pytest.fixture
def router_redis(settings):
    import os

    import redis

    url = os.environ.get("SERENO_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.ConnectionError:
        pytest.skip(f"Redis is not reachable at {url}")
    settings.REDIS_URL = url
    client = redis.Redis.from_url(url)
    client.delete(services.ROUTER_SCHEDULED_KEY)
    yield client
    client.delete(services.ROUTER_SCHEDULED_KEY)


def router_tasks(huey) -> int:
    return sum(1 for task in huey.pending() if task.name.endswith("inbound_route_pending_task"))


@pytest.mark.redis
def test_a_burst_queues_one_router_task_and_the_next_message_another(
    kannel, router_redis, django_capture_on_commit_callbacks
):
    from huey.contrib.djhuey import HUEY

    from sereno.messaging.tasks import inbound_route_pending_task

    HUEY.immediate = False
    try:
        before = router_tasks(HUEY)
        with django_capture_on_commit_callbacks(execute=True):
            burst = [store(kannel, f"+504970000{i:02d}", f"b{i}", "Balacera") for i in range(5)]
        assert router_tasks(HUEY) == before + 1  # one task for five messages
        inbound_route_pending_task.call_local()  # what the worker runs
        assert outcomes(*burst) == ["new_report"] * 5
        assert not router_redis.exists(services.ROUTER_SCHEDULED_KEY)
        with django_capture_on_commit_callbacks(execute=True):
            later = store(kannel, "+50497000099", "b99", "Balacera")
        assert router_tasks(HUEY) == before + 2  # stored after the task began: a new one
        inbound_route_pending_task.call_local()
        assert outcomes(later) == ["new_report"]
    finally:
        HUEY.flush()
        HUEY.immediate = True
