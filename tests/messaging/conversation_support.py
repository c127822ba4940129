"""Helpers for the conversation tests: a phone that writes to Sereno through the real intake
service (`services.inbound_receive`) on a real Channel row, and reads what Sereno queued back."""

import itertools
from importlib import import_module

import pytest
from django.utils import timezone

from sereno.messaging import services
from sereno.messaging.models import Channel, Contact, OutboundMessage
from sereno.messaging.transports import TRANSPORTS
from sereno.messaging.transports.base import Incoming, Transport

_ids = itertools.count(1)


class _SMSForTests(Transport):
    """Stands in for the Kannel transport only while its module is not in the tree: the
    conversation needs nothing from a transport but its address scheme and `is_sms`."""

    kind = "kannel"
    scheme = "tel"
    is_sms = True


def _importable(kind: str) -> bool:
    module = TRANSPORTS[kind].partition(":")[0]
    try:
        import_module(module)
    except ImportError:
        return False
    return True


@pytest.fixture
def sms_channel(db, monkeypatch):
    if not _importable("kannel"):
        monkeypatch.setitem(TRANSPORTS, "kannel", f"{__name__}:_SMSForTests")
    return Channel.objects.create(kind="kannel", name="SMS", address="2222", enabled=True)


class Phone:
    """One person's phone. `send` delivers a text as the gateway would; `replies` are the
    texts Sereno queued for this phone since the last look."""

    def __init__(self, channel: Channel, number: str = "+50499887766"):
        self.channel = channel
        self.number = number
        self._seen: set[int] = set()

    def send(self, text: str, *, external_id: str | None = None, at=None):
        incoming = Incoming(
            external_id=external_id or f"sms-{next(_ids)}",
            sender=self.number,
            text=text,
            received_at=at or timezone.now(),
        )
        message, _created = services.inbound_receive(channel=self.channel, incoming=incoming)
        return message

    @property
    def contact(self) -> Contact:
        from sereno.messaging.contacts import find_contact

        return find_contact("tel", self.number)

    def outbox(self):
        contact = self.contact
        if contact is None:
            return OutboundMessage.objects.none()
        return OutboundMessage.objects.filter(contact=contact).order_by("created_at", "id")

    def replies(self) -> list[str]:
        new = [m for m in self.outbox() if m.pk not in self._seen]
        self._seen.update(m.pk for m in new)
        return [m.text for m in new]

    def ask(self, text: str, **kwargs) -> str:
        """Send, and return the one or more replies joined by " | "."""
        self.send(text, **kwargs)
        return " | ".join(self.replies())


@pytest.fixture
def phone(sms_channel):
    return Phone(sms_channel)


SPANISH_REPORT = ["Le dispararon a un señor en la parada de buses", "Tegucigalpa", "ayer", "1", "1"]


def report_by_phone(phone: Phone, answers=SPANISH_REPORT):
    """A whole conversation; returns the report it created."""
    from sereno.messaging.models import Conversation

    for text in answers:
        phone.send(text)
    conversation = Conversation.objects.filter(contact=phone.contact).order_by("-pk").first()
    assert conversation.report is not None, conversation.step
    return conversation.report


@pytest.fixture
def clock(monkeypatch):
    """Time under the test's control: `clock.advance(hours=3)`."""
    from datetime import timedelta

    class Clock:
        def __init__(self):
            self.now = timezone.now()

        def advance(self, **delta):
            self.now += timedelta(**delta)

    c = Clock()
    monkeypatch.setattr(timezone, "now", lambda: c.now)
    return c
