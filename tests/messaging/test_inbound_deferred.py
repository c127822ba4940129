"""The webhook only stores; routing runs later, per contact, in order (services docstring)."""

import base64

import pytest
from huey.contrib.djhuey import HUEY

from sereno.messaging import services
from sereno.messaging.contacts import contact_for
from sereno.messaging.models import Channel, Conversation, InboundMessage, OutboundMessage
from sereno.messaging.transports.base import Incoming
from tests.conftest import staff_client

pytestmark = pytest.mark.django_db

NUMBER = "+50499887766"
SECRET = "deferred-test-secret"


@pytest.fixture
def kannel(db):
    channel = Channel(kind="kannel", name="SMS", address="1234", enabled=True)
    channel.set_config({"sendsms_url": "http://127.0.0.1:9/cgi-bin/sendsms", "username": "u",
                        "password": "p", "secret": SECRET})  # fmt: skip
    channel.save()
    return channel


@pytest.fixture
def queued():
    """Huey as in production (not immediate) for the duration of a test."""
    HUEY.immediate = False
    yield
    HUEY.immediate = True


def incoming(n: int, text: str) -> Incoming:
    return Incoming(external_id=f"k-{n}", sender=NUMBER, text=text)


def test_stored_messages_are_routed_later_in_order(kannel, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        first, created = services.inbound_receive(
            channel=kannel, incoming=incoming(1, "Balacera en el mercado"), route="deferred"
        )
        second, _ = services.inbound_receive(
            channel=kannel, incoming=incoming(2, "No sé"), route="deferred"
        )
    assert created and len(callbacks) == 2
    assert InboundMessage.objects.filter(status="pending").count() == 2
    assert not OutboundMessage.objects.exists()  # nothing answered yet

    contact = first.contact
    assert services.inbound_route_contact(contact_id=contact.pk) == 2
    first.refresh_from_db()
    second.refresh_from_db()
    # The first opened the report, the second answered its "where" question.
    assert (first.outcome, second.outcome) == ("new_report", "answer")
    conversation = Conversation.objects.get(contact=contact)
    assert conversation.step == "when" and conversation.data["where"] is None
    # A second task for the same contact finds nothing left to do.
    assert services.inbound_route_contact(contact_id=contact.pk) == 0


def test_a_message_whose_task_was_lost_is_routed_by_the_retry(kannel):
    message, _ = services.inbound_receive(
        channel=kannel, incoming=incoming(1, "Balacera en el mercado"), route="deferred"
    )  # the on_commit callback never runs here: the task is lost
    assert message.status == "pending"
    assert services.inbound_retry_pending(older_than_seconds=0) == 1
    message.refresh_from_db()
    assert message.status == "handled" and message.outcome == "new_report"
    assert OutboundMessage.objects.filter(in_reply_to=message).count() == 1


def test_the_webhook_stores_with_few_queries(
    kannel, client, queued, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    contact_for(scheme="tel", raw=NUMBER, channel=kannel)  # a known contact, seen just now
    auth = "Basic " + base64.b64encode(f"kannel:{SECRET}".encode()).decode()
    url = f"/hooks/kannel/{kannel.uuid}/?id=msg-1&time=2026-11-29+04:00:00"
    client.post(
        url,
        data=b"hola",
        content_type="text/plain; charset=utf-8",
        HTTP_AUTHORIZATION=auth,
        HTTP_X_KANNEL_FROM=NUMBER,
    )  # fmt: skip  (warms the cache)
    with django_capture_on_commit_callbacks() as callbacks:
        with django_assert_max_num_queries(2):  # the contact by its hash, the INSERT
            response = client.post(
                url.replace("msg-1", "msg-2"), data=b"hola otra vez",
                content_type="text/plain; charset=utf-8", HTTP_AUTHORIZATION=auth,
                HTTP_X_KANNEL_FROM=NUMBER,
            )  # fmt: skip
    assert response.status_code == 200
    assert len(callbacks) == 1  # routing queued for after the commit
    assert InboundMessage.objects.filter(status="pending").count() == 2


def test_the_kannel_page_shows_the_lines_for_kannel_conf(client, admin_user, settings):
    settings.PUBLIC_URL = "https://sereno.example.org"
    admin = staff_client(client, admin_user)
    admin.post("/staff/channels/", {"kind": "kannel", "name": "Kannel", "address": "1234"})
    channel = Channel.objects.get(name="Kannel")
    form = {"name": "Kannel", "address": "1234", "rate_per_second": "1", "burst": "1",
            "config_sendsms_url": "http://127.0.0.1:13013/cgi-bin/sendsms",
            "config_username": "sereno", "config_password": "pw"}  # fmt: skip
    admin.post(f"/staff/channels/{channel.pk}/", form)
    channel.refresh_from_db()
    secret = channel.config["secret"]
    hook = f"sereno.example.org/hooks/kannel/{channel.uuid}/?id=%I&amp;time=%T"
    page = admin.get(f"/staff/channels/{channel.pk}/").content.decode()
    # Just generated: shown once, in the line to paste.
    assert f"post-url = &quot;https://kannel:{secret}@{hook}&quot;" in page
    assert "send-sender = true" in page
    again = admin.get(f"/staff/channels/{channel.pk}/").content.decode()
    assert secret not in again
    assert f"post-url = &quot;https://kannel:••••••••@{hook}&quot;" in again
