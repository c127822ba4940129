"""Whole conversations by SMS, through the real intake service, as a reporter lives them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sereno.geo import gazetteer
from sereno.messaging import services
from sereno.messaging.conversations import conversations_expire
from sereno.messaging.models import Contact, Conversation, InboundMessage, OutboundMessage
from sereno.reports.models import Report
from tests.messaging import conversation_support as support
from tests.messaging.conversation_support import Phone, report_by_phone

# The shared fixtures of the conversation tests.
sms_channel, phone, clock = support.sms_channel, support.phone, support.clock

pytestmark = pytest.mark.django_db


def _place(name, department):
    return next(
        p for p in gazetteer.search(name, 20) if p.name == name and p.department_name == department
    )


def test_a_whole_conversation_in_spanish_ends_in_a_located_report(phone):
    assert "¿qué pasó?" in phone.ask("Hola").lower().replace("paso", "pasó")
    where = phone.ask("Le dispararon a un señor en la parada de buses, ¿alguien vio algo?")
    assert where.startswith("¿Donde paso?")
    assert phone.ask("Kennedy, Tegucigalpa").startswith("¿Cuando paso?")
    menu = phone.ask("ayer")
    assert "1 Violencia letal" in menu and "0 no sé" in menu
    submenu = phone.ask("1")
    assert "1 Homicidio" in submenu and "2 Sicariato" in submenu
    done = phone.ask("1")

    report = Report.objects.get()
    assert done == (
        f"Gracias. Reporte {report.reference} recibido. Revisamos cada reporte antes de "
        "publicarlo; su numero nunca se publica."
    )
    # The accented text arrives intact; the title is its first words.
    assert report.description.startswith(
        "Le dispararon a un señor en la parada de buses, ¿alguien vio algo?"
    )
    assert "Lugar tal como lo escribió: Kennedy, Tegucigalpa" in report.description
    tegucigalpa = _place("Tegucigalpa", "Francisco Morazán")
    assert (report.latitude, report.longitude) == (tegucigalpa.latitude, tegucigalpa.longitude)
    assert report.location_precision == "place"  # the town's centre, never a made-up point
    assert report.department_code == "HN08"
    assert report.place_name == "Tegucigalpa"
    yesterday = timezone.localdate() - timedelta(days=1)
    assert timezone.localtime(report.occurred_at).date() == yesterday
    assert report.occurred_precision == "day"
    assert [c.slug for c in report.categories.all()] == ["homicidio"]
    assert (report.channel, report.language, report.status) == ("sms", "es", "received")
    conversation = Conversation.objects.get()
    assert (conversation.status, conversation.report) == ("completed", report)
    outcomes = list(InboundMessage.objects.values_list("outcome", flat=True))
    assert outcomes == ["new_report"] + ["answer"] * 5
    # Every reply answers one message, on the channel it came from.
    replies = OutboundMessage.objects.filter(contact=phone.contact)
    assert replies.count() == 6
    assert all(r.in_reply_to_id and r.channel == phone.channel for r in replies)
    assert all(r.encoding == "gsm7" and r.segments <= 2 for r in replies)


def test_a_whole_conversation_in_english(phone):
    assert phone.ask("REPORT") == (
        "Sereno: what happened? Tell us in one message. Reply HELP for help."
    )
    assert phone.ask("Two men robbed the bus driver at gunpoint").startswith("Where did it")
    assert phone.ask("San Pedro Sula").startswith("When did it happen?")
    menu = phone.ask("3 days ago")
    assert "2 Extortion and robbery" in menu and "0 not sure" in menu
    assert "2 Robbery or assault" in phone.ask("2")
    done = phone.ask("2")
    report = Report.objects.get()
    assert done.startswith(f"Thank you. Report {report.reference} received.")
    assert report.language == "en" and phone.contact.language == "en"
    assert [c.slug for c in report.categories.all()] == ["robo-asalto"]
    assert report.department_code == "HN06"
    assert timezone.localtime(report.occurred_at).date() == timezone.localdate() - timedelta(3)


def test_a_first_message_with_content_is_what_happened(phone):
    assert phone.ask("REPORTE balacera en el mercado").startswith("¿Donde paso?")
    assert Conversation.objects.get().data["what"] == "balacera en el mercado"


def test_a_first_message_that_only_looks_like_a_keyword_is_a_report(phone):
    # "alto" alone is an opt-out; "alto el fuego" is something that happened.
    assert phone.ask("Alto el fuego en la colonia La Pradera").startswith("¿Donde paso?")
    assert not phone.contact.opted_out


def test_an_ambiguous_place_is_a_numbered_choice(phone):
    phone.ask("Hola")
    phone.ask("Amenazaron al profesor")
    choice = phone.ask("San Marcos")
    assert choice.startswith("¿Cual? Responda con el numero: 1 San Marcos de Colon (Choluteca)")
    assert "2 San Marcos (Ocotepeque)" in choice and choice.endswith("0 ninguno")
    assert phone.ask("7").startswith("¿Cual?")  # out of range: asked again
    assert phone.ask("2").startswith("¿Cuando paso?")
    phone.ask("hoy")
    phone.ask("0")
    report = Report.objects.get()
    assert report.place_name == "San Marcos" and report.department_code == "HN14"
    assert list(report.categories.all()) == []


def test_a_department_after_a_comma_settles_the_ambiguity(phone):
    phone.ask("Amenazaron al profesor")
    assert phone.ask("San Marcos, Ocotepeque").startswith("¿Cuando paso?")
    assert Conversation.objects.get().data["where"]["department_code"] == "HN14"


def test_none_of_these_asks_again_with_a_hint(phone):
    phone.ask("Amenazaron al profesor")
    phone.ask("San Marcos")
    assert phone.ask("0").startswith('No encontramos "San Marcos". Escriba el municipio')


def test_an_unknown_place_asks_again_with_a_hint_and_no_se_goes_on(phone):
    phone.ask("Amenazaron al profesor")
    hint = phone.ask("Xyzzy Plugh")
    assert hint == (
        'No encontramos "Xyzzy Plugh". Escriba el municipio o el departamento, ej.: Danli o '
        "El Paraiso, o NO SE."
    )
    assert phone.ask("No sé").startswith("¿Cuando paso?")
    phone.ask("ayer")
    phone.ask("0")
    report = Report.objects.get()
    assert report.latitude is None and report.public_latitude is None


def test_a_department_is_located_at_department_precision(phone):
    phone.ask("Amenazaron al profesor")
    phone.ask("Olancho")
    phone.ask("ayer")
    phone.ask("0")
    report = Report.objects.get()
    assert report.location_precision == "department" and report.department_code == "HN15"
    assert report.municipality_code == ""  # a department's point says nothing finer
    assert report.public_resolution == 4


def test_a_name_that_is_a_town_and_a_department_asks_which(phone):
    phone.ask("Amenazaron al profesor")
    choice = phone.ask("Comayagua")
    assert "1 Comayagua (Comayagua)" in choice and "2 departamento de Comayagua" in choice


def test_a_date_in_the_future_or_gibberish_is_asked_again(phone, clock):
    phone.ask("Amenazaron al profesor")
    phone.ask("Tegucigalpa")
    tomorrow = timezone.localdate() + timedelta(days=1)
    future = f"{tomorrow.day}/{tomorrow.month}/{tomorrow.year}"
    assert phone.ask(future).startswith("Ese dia aun no llega.")
    assert phone.ask("cuando llovió mucho").startswith("No entendimos. ¿Cuando paso?")
    assert phone.ask("hace 2 días").startswith("¿Qué tipo?")


def test_an_idle_conversation_expires_and_the_next_message_is_a_new_report(phone, clock):
    phone.ask("Amenazaron al profesor")
    clock.advance(hours=2, minutes=1)
    # Lazily: "Tegucigalpa" is not taken as the place of a report left two hours ago.
    assert phone.ask("Tegucigalpa").startswith("¿Donde paso?")
    old, new = Conversation.objects.order_by("pk")
    assert old.status == "expired" and new.status == "open"
    assert new.data["what"] == "Tegucigalpa"


def test_the_periodic_task_closes_idle_conversations(phone, clock, settings):
    settings.CONVERSATION_IDLE_MINUTES = 30
    phone.ask("Amenazaron al profesor")
    other = Phone(phone.channel, "+50488776655")
    other.ask("Hola")
    clock.advance(minutes=20)
    other.ask("Robaron una moto")  # an answer keeps a conversation alive
    clock.advance(minutes=15)
    assert conversations_expire() == 1
    statuses = dict(Conversation.objects.values_list("contact_id", "status"))
    assert statuses == {phone.contact.pk: "expired", other.contact.pk: "open"}


def test_a_gateway_that_retries_gets_no_second_reply_nor_report(phone):
    for text in ["Le robaron el celular", "Tegucigalpa", "ayer", "0"]:
        phone.send(text)
    before = OutboundMessage.objects.count()
    again = phone.send("0", external_id=InboundMessage.objects.last().external_id)
    assert again.outcome == "answer"
    assert OutboundMessage.objects.count() == before
    assert Report.objects.count() == 1


def test_a_crash_while_routing_leaves_nothing_half_done_and_the_retry_finishes(
    phone, monkeypatch, clock
):
    import sereno.reports.services as report_services

    for text in ["Le robaron el celular", "Tegucigalpa", "ayer"]:
        phone.send(text)
    real = report_services.report_create

    def crash(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(report_services, "report_create", crash)
    message = phone.send("0")
    message.refresh_from_db()
    assert message.status == "pending"
    assert phone.replies()[-1:] != [] and Report.objects.count() == 0
    assert OutboundMessage.objects.filter(in_reply_to=message).count() == 0
    monkeypatch.setattr(report_services, "report_create", real)
    clock.advance(minutes=1)
    assert services.inbound_retry_pending() == 1
    assert Report.objects.count() == 1
    assert OutboundMessage.objects.filter(in_reply_to=message).count() == 1
    assert services.inbound_retry_pending() == 0


def test_opt_out_mid_conversation_stops_everything(phone):
    phone.ask("Amenazaron al profesor")
    assert phone.ask("¡Baja!") == (
        "No recibira mas mensajes de Sereno. Responda ALTA para volver a recibirlos."
    )
    contact = phone.contact
    assert contact.opted_out
    assert Conversation.objects.get().status == "cancelled"
    assert phone.ask("Hola") == ""  # nothing more, not even a question
    assert phone.ask("BAJA") == ""  # and no second confirmation
    assert InboundMessage.objects.last().outcome == "opt_out"
    assert Conversation.objects.filter(status="open").count() == 0


def test_opt_out_confirmation_reaches_the_opted_out_contact_and_queued_messages_are_dropped(
    phone,
):
    from sereno.messaging import outbox

    phone.ask("Hola")
    contact = phone.contact
    pending = outbox.enqueue(contact=contact, text="Alerta: lluvias fuertes", cause="alert")
    phone.ask("STOP")
    pending.refresh_from_db()
    assert pending.status == "failed" and pending.error == "opted out"
    confirmation = OutboundMessage.objects.filter(contact=contact).last()
    assert confirmation.status == "queued" and confirmation.even_if_opted_out
    assert confirmation.text.startswith("You will get no more messages")  # STOP is English


def test_opt_in_brings_messages_back(phone):
    phone.ask("BAJA")
    assert phone.ask("ALTA") == (
        "Volvera a recibir mensajes de Sereno. Responda BAJA para dejar de recibirlos."
    )
    assert not phone.contact.opted_out
    assert phone.ask("Hola").startswith("Sereno: ¿qué paso?")


def test_si_is_an_answer_unless_the_contact_opted_out(phone):
    phone.ask("BAJA")
    assert phone.ask("Sí").startswith("Volvera a recibir")
    phone.ask("Amenazaron al profesor")
    phone.ask("Tegucigalpa")
    # Not opted out: "sí" is just a message (here a poor date, asked again).
    assert phone.ask("Sí").startswith("No entendimos.")
    assert not phone.contact.opted_out


def test_help_answers_and_repeats_the_pending_question(phone):
    phone.ask("Amenazaron al profesor")
    help_text, question = phone.ask("AYUDA").split(" | ")
    assert help_text.startswith("Sereno: escriba qué paso para reportarlo")
    assert "ANULAR" in help_text and "BAJA" in help_text
    assert question.startswith("¿Donde paso?")
    assert InboundMessage.objects.last().outcome == "help"


def test_help_in_english_without_a_conversation(phone):
    assert phone.ask("help") == (
        "Sereno: write what happened to report it; we ask where and when. DISCARD drops a "
        "report in progress. STOP: no more messages."
    )
    assert Conversation.objects.count() == 0


def test_anular_drops_the_report_in_progress_without_opting_out(phone):
    phone.ask("Amenazaron al profesor")
    assert phone.ask("ANULAR").startswith("Reporte anulado.")
    assert Conversation.objects.get().status == "cancelled"
    assert not phone.contact.opted_out
    assert phone.ask("Hola").startswith("Sereno: ¿qué paso?")


def test_reporte_mid_conversation_starts_over(phone):
    phone.ask("Amenazaron al profesor")
    assert phone.ask("REPORTE").startswith("Sereno: ¿qué paso?")
    assert list(Conversation.objects.values_list("status", flat=True)) == ["cancelled", "open"]


def test_the_language_can_be_switched_mid_conversation(phone):
    phone.ask("Amenazaron al profesor")
    assert phone.ask("English") == (
        "Sereno will write to you in English. | Where did it happen? Place and municipality, "
        "e.g. Kennedy, Tegucigalpa"
    )
    assert Contact.objects.get().language == "en"
    assert phone.ask("Español").startswith("Sereno le escribira en español.")


def test_a_second_report_after_the_first_is_a_new_conversation(phone):
    report_by_phone(phone)
    assert phone.ask("Otra cosa: quemaron un bus").startswith("¿Donde paso?")
    assert Conversation.objects.filter(status="open").count() == 1


def test_reports_from_each_channel_kind_say_their_channel(db, monkeypatch):
    from sereno.messaging.models import Channel
    from sereno.messaging.transports import TRANSPORTS
    from tests.messaging import conversation_support

    class Chat(conversation_support._SMSForTests):
        is_sms = False

    monkeypatch.setattr(conversation_support, "_Chat", Chat, raising=False)
    monkeypatch.setitem(TRANSPORTS, "whatsapp", "tests.messaging.conversation_support:_Chat")
    channel = Channel.objects.create(kind="whatsapp", name="WhatsApp", enabled=True)
    phone = Phone(channel)
    report = report_by_phone(phone)
    assert report.channel == "whatsapp"
    # Chat texts are sent as written: no GSM-7 replacement.
    assert OutboundMessage.objects.filter(contact=phone.contact).first().encoding == "text"
    assert "¿qué pasó?" not in OutboundMessage.objects.last().text  # the confirmation
    assert "número" in OutboundMessage.objects.last().text


def test_the_worker_runs_the_expiry_every_five_minutes(phone, clock):
    from sereno.messaging import tasks

    phone.ask("Amenazaron al profesor")
    clock.advance(hours=3)
    task = tasks.expire_conversations_task
    at = clock.now.replace(minute=10, second=0, microsecond=0)
    assert task.task_class().validate_datetime(at)
    assert not task.task_class().validate_datetime(at.replace(minute=11))
    assert task.call_local() == 1
    assert Conversation.objects.get().status == "expired"
