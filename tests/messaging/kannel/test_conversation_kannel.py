"""A whole conversation in Spanish from a simulated phone, through a real Kannel: the report is
created with its place located, every reply reaches the phone intact, and Kannel's delivery
reports mark every reply delivered."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.messaging.kannel.conftest import SHORT_CODE, db_wait

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

NUMBER = "+50497001122"


def test_a_spanish_conversation_through_kannel_ends_in_a_located_report(
    kannel_channel, phone, sereno_server, send_outbox
):
    from sereno.messaging.models import Conversation, InboundMessage, OutboundMessage
    from sereno.reports.models import Report

    def ask(text: str) -> str:
        """Send from the phone; Sereno answers through the outbox, the sender and Kannel."""
        sent = InboundMessage.objects.count() + 1
        replies = len(phone.received(to=NUMBER))
        phone.send(NUMBER, text)
        db_wait(
            sereno_server,
            lambda: InboundMessage.objects.filter(status="handled").count() == sent,
            what=f"Sereno to handle {text!r}",
        )
        send_outbox(kannel_channel)
        received = phone.wait_for(replies + 1, to=NUMBER)[-1]
        assert received.sender == SHORT_CODE
        return received.text

    # UCS-2 from the phone (ú is not GSM-7), then GSM-7 with ¿, é, ü, ñ.
    first = "Balacera en la colonia, ¿qué hacemos? Ayúdenos"
    assert ask(first).startswith("¿Donde paso?")
    unknown = ask("La Cañada de Ñuñoa")
    assert unknown.startswith('No encontramos "La Cañada de Ñuñoa".')
    assert ask("Comayagüela").startswith("¿Cuando paso?")
    assert "1 Violencia letal" in ask("ayer")
    assert "1 Homicidio" in ask("1")
    done = ask("1")

    report = Report.objects.get()
    assert done.startswith(f"Gracias. Reporte {report.reference} recibido.")
    assert report.description.startswith(first)  # accents intact from a UCS-2 SMS
    assert "Comayagüela" in report.description
    assert report.latitude is not None and report.longitude is not None
    assert report.location_precision == "place"
    assert report.department_code == "HN08"  # Francisco Morazán
    assert timezone.localtime(report.occurred_at).date() == (
        timezone.localdate() - timedelta(days=1)
    )
    assert [c.slug for c in report.categories.all()] == ["homicidio"]
    assert (report.channel, report.language) == ("sms", "es")
    assert Conversation.objects.get().report == report

    # What reached the phone is exactly what Sereno queued (smart GSM-7: ¿ ñ kept).
    with sereno_server.lock:
        queued = [m.text for m in OutboundMessage.objects.order_by("id")]
    assert [m.text for m in phone.received(to=NUMBER)] == queued
    assert all(m.coding == "gsm7" for m in phone.received(to=NUMBER))

    # Kannel's delivery reports (8 then 1 from the fake SMSC) end every reply "delivered".
    db_wait(
        sereno_server,
        lambda: set(OutboundMessage.objects.values_list("status", flat=True)) == {"delivered"},
        what="every reply delivered",
    )
