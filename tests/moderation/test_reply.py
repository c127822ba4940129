"""Staff reply to a person who reported by SMS, from the report's page in the desk; the answer
comes back into the same thread. Staff see a contact reference, never the number."""

import pytest
from django.urls import reverse

from sereno.accounts.models import AuditEntry
from sereno.messaging.models import InboundMessage, OutboundMessage
from tests.conftest import staff_client
from tests.factories import make_report
from tests.messaging import conversation_support as support
from tests.messaging.conversation_support import report_by_phone

pytestmark = pytest.mark.django_db

sms_channel, phone = support.sms_channel, support.phone
NUMBER_FORMS = ("99887766", "9988-7766", "+50499887766")


@pytest.fixture
def report(phone):
    return report_by_phone(phone)


def detail(report):
    return reverse("desk:detail", args=[report.reference])


def reply_url(report):
    return reverse("desk:reply", args=[report.reference])


def test_the_desk_shows_the_thread_by_contact_reference_never_the_number(
    client, moderator, report, phone
):
    page = staff_client(client, moderator).get(detail(report)).content.decode()
    assert f"Mensajes con la persona que reportó ({phone.contact.reference})" in page
    assert "Le dispararon a un señor en la parada de buses" in page
    assert f"Reporte {report.reference} recibido" in page  # Sereno's confirmation
    assert "Sereno (automático)" in page and "en cola" in page
    for form in NUMBER_FORMS:
        assert form not in page
    assert 'name="nonce"' in page and "csrfmiddlewaretoken" in page


def test_a_moderator_replies_and_the_reporter_s_answer_comes_back_to_the_desk(
    client, moderator, report, phone
):
    staff = staff_client(client, moderator)
    phone.replies()
    response = staff.post(reply_url(report), {"text": "¿Puede decirnos la hora?", "nonce": "a1"})
    assert response.status_code == 302 and response["Location"].endswith("#thread")
    sent = OutboundMessage.objects.get(cause="staff_reply")
    assert (sent.author, sent.report, sent.contact) == (moderator, report, phone.contact)
    assert phone.replies() == ["¿Puede decirnos la hora?"]
    entry = AuditEntry.objects.get(action="report.reply")
    assert entry.object_id == report.reference and entry.actor_name == moderator.username
    assert entry.after["contact"] == phone.contact.reference
    assert "hora" not in str(entry.after)  # the audit log holds no message text

    answer = phone.send("Como a las 7 de la noche")
    assert answer.outcome == "staff_reply" and answer.report_id == report.pk
    assert phone.replies() == []  # nobody is texted about it
    page = staff.get(detail(report)).content.decode()
    assert page.index("¿Puede decirnos la hora?") < page.index("Como a las 7 de la noche")
    assert moderator.username in page


def test_htmx_reply_returns_the_updated_thread(client, moderator, report):
    staff = staff_client(client, moderator)
    response = staff.post(
        reply_url(report), {"text": "Gracias, lo revisamos.", "nonce": "b2"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    fragment = response.content.decode()
    assert fragment.startswith('<section class="thread" id="thread"')
    assert "Gracias, lo revisamos." in fragment and "mona" in fragment


def test_the_same_form_sent_twice_sends_once(client, moderator, report):
    staff = staff_client(client, moderator)
    for _ in range(2):
        staff.post(reply_url(report), {"text": "¿Sigue en peligro?", "nonce": "same"})
    assert OutboundMessage.objects.filter(cause="staff_reply").count() == 1
    assert AuditEntry.objects.filter(action="report.reply").count() == 1


def test_an_empty_reply_is_refused_with_a_message(client, moderator, report):
    staff = staff_client(client, moderator)
    response = staff.post(reply_url(report), {"text": "  "}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "Escriba un mensaje." in response.content.decode()
    assert not OutboundMessage.objects.filter(cause="staff_reply").exists()


def test_an_opted_out_reporter_cannot_be_messaged_and_the_form_says_why(
    client, moderator, report, phone
):
    phone.send("BAJA")
    staff = staff_client(client, moderator)
    page = staff.get(detail(report)).content.decode()
    assert "se dio de baja de los mensajes" in page
    assert 'name="text"' not in page and "disabled" in page
    response = staff.post(reply_url(report), {"text": "¿Hola?", "nonce": "c3"}, follow=True)
    assert "no se le puede enviar nada" in response.content.decode()
    assert not OutboundMessage.objects.filter(cause="staff_reply").exists()


def test_a_web_report_has_no_thread_and_no_reply(client, moderator):
    web = make_report()
    staff = staff_client(client, moderator)
    assert 'id="thread"' not in staff.get(detail(web)).content.decode()
    response = staff.post(reply_url(web), {"text": "Hola", "nonce": "d4"}, follow=True)
    assert "Este reporte no llegó por SMS ni por chat." in response.content.decode()
    assert not OutboundMessage.objects.exists()


def test_anonymous_is_sent_to_sign_in(client, report):
    response = client.post(reply_url(report), {"text": "Hola", "nonce": "e5"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not OutboundMessage.objects.filter(cause="staff_reply").exists()


def test_outsider_gets_403(client, outsider, report):
    response = staff_client(client, outsider).post(reply_url(report), {"text": "Hola"})
    assert response.status_code == 403
    assert not OutboundMessage.objects.filter(cause="staff_reply").exists()


def test_an_analyst_sees_the_thread_but_cannot_reply(client, analyst, report):
    staff = staff_client(client, analyst)
    page = staff.get(detail(report)).content.decode()
    assert 'id="thread"' in page and 'name="text"' not in page
    assert staff.post(reply_url(report), {"text": "Hola"}).status_code == 403
    assert not OutboundMessage.objects.filter(cause="staff_reply").exists()


def test_a_reply_without_the_csrf_token_is_refused(moderator, report):
    from django.test import Client

    staff = staff_client(Client(enforce_csrf_checks=True), moderator)
    assert staff.post(reply_url(report), {"text": "Hola"}).status_code == 403
    assert not OutboundMessage.objects.filter(cause="staff_reply").exists()


def test_the_reply_service_checks_the_permission_itself(analyst, report):
    from sereno.lib.errors import NotAllowed
    from sereno.messaging.conversations.staff import staff_reply_send

    with pytest.raises(NotAllowed):
        staff_reply_send(actor=analyst, report_id=report.pk, text="Hola")


def test_after_the_reply_window_an_answer_is_a_new_report(
    client, moderator, report, phone, settings
):
    staff_client(client, moderator).post(reply_url(report), {"text": "¿Algo más?", "nonce": "f"})
    settings.CONVERSATION_STAFF_REPLY_DAYS = 0
    message = phone.send("Sí, otra cosa pasó hoy")
    assert message.outcome == "new_report"
    assert InboundMessage.objects.filter(outcome="staff_reply").count() == 0


def test_each_message_shows_its_segments_and_estimated_cost(client, moderator, report, sms_channel):
    sms_channel.price_per_segment = "0.0150"
    sms_channel.currency = "HNL"
    sms_channel.save()
    staff = staff_client(client, moderator)
    long_text = "Gracias por avisar. " * 10  # 200 characters: two GSM-7 segments
    staff.post(reply_url(report), {"text": long_text.strip(), "nonce": "cost"})
    assert OutboundMessage.objects.get(cause="staff_reply").segments == 2
    page = staff.get(detail(report)).content.decode()
    assert "2 segmentos SMS · aprox. 0.0300 HNL" in page
