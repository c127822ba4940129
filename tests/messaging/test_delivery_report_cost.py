"""A delivery report is one statement on PostgreSQL (outbox._status_record_one_statement):
Kannel sends two per SMS, so their cost is most of what an outbound message costs the web."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sereno.messaging import outbox
from sereno.messaging.contacts import contact_for
from sereno.messaging.models import Channel, DeliveryEvent, OutboundMessage
from sereno.messaging.transports.base import StatusUpdate

pytestmark = pytest.mark.django_db
S = OutboundMessage.Status


@pytest.fixture
def channel(db):
    channel = Channel(kind="kannel", name="Kannel", address="1234", enabled=True)
    channel.set_config({"sendsms_url": "http://127.0.0.1:9/cgi-bin/sendsms", "username": "u",
                        "password": "p", "secret": "dlr-cost-secret"})  # fmt: skip
    channel.save()
    return channel


def test_reports_accepted_then_delivered_in_few_statements(channel):
    contact = contact_for(scheme="tel", raw="+50499887766", channel=channel)
    row = outbox.enqueue(contact=contact, cause="test", text="hola")
    OutboundMessage.objects.filter(pk=row.pk).update(status=S.SENDING)
    statements = []
    for status, code in (("sent", "dlr-8"), ("delivered", "dlr-1"), ("failed", "dlr-2")):
        update = StatusUpdate(status=status, message_uuid=str(row.uuid), code=code)
        with CaptureQueriesContext(connection) as queries:
            assert outbox.status_record(channel=channel, update=update) == row.pk
        statements.append(len(queries))
    row.refresh_from_db()
    # A late "failed" does not undo the delivery; every report is an event.
    assert row.status == S.DELIVERED and row.sent_at and row.delivered_at
    assert list(row.events.order_by("pk").values_list("status", "code")) == [
        ("sent", "dlr-8"), ("delivered", "dlr-1"), ("failed", "dlr-2"),
    ]  # fmt: skip
    expected = 1 if connection.vendor == "postgresql" else 5  # lookup, BEGIN … COMMIT
    assert max(statements) <= expected


def test_a_report_for_no_row_writes_nothing(channel):
    update = StatusUpdate(status="delivered", message_uuid="0c8d7c5a-3f7e-4d7e-9a59-8d7c2f1b9e01")
    assert outbox.status_record(channel=channel, update=update) is None
    assert not DeliveryEvent.objects.exists()
