"""Subscribing by SMS through the real intake service and conversation router, as a person
with a feature phone lives it: ALERTAS <place>, SI, ALERTAS, ALERTAS NO."""

import re

import pytest

from sereno.geo import zones
from sereno.geo.areas import import_areas
from sereno.messaging.models import Conversation, InboundMessage, OutboundMessage
from sereno.subscriptions import selectors
from sereno.subscriptions.models import Subscription
from tests.geo.helpers import MUNICIPALITIES
from tests.messaging import conversation_support as support
from tests.messaging.conversation_support import Phone

sms_channel, phone, clock = support.sms_channel, support.phone, support.clock

pytestmark = pytest.mark.django_db


def _active(phone):
    return list(
        Subscription.objects.filter(contact=phone.contact, status="active").values_list(
            "zone__label", flat=True
        )
    )


def test_subscribe_to_a_town_in_spanish_and_confirm_with_si(phone):
    ask = phone.ask("ALERTAS Danlí")
    assert ask == "Responda SI para recibir alertas de Danli. Para cancelarlas luego: ALERTAS NO"
    pending = Subscription.objects.get()
    assert (pending.status, pending.source, pending.language) == ("pending", "message", "es")
    assert pending.channel == phone.channel and pending.zone.kind == "place"

    done = phone.ask("Sí")
    assert done.startswith("Listo: recibira alertas de Danli.")
    assert _active(phone) == ["Danlí"]
    subscription = Subscription.objects.get()
    assert subscription.confirmed_at is not None
    # Danlí's centre is inside its zone; every reply answered a message, one SMS each.
    assert zones.point_cell(14.0333, -86.5833) in zones.cells_of([subscription.zone_id])
    replies = OutboundMessage.objects.filter(contact=phone.contact)
    assert all(r.in_reply_to_id and r.segments == 1 for r in replies)
    assert set(InboundMessage.objects.values_list("outcome", flat=True)) == {"alerts"}
    assert not Conversation.objects.filter(status="open").exists()


def test_in_english_the_subscription_and_the_contact_are_english(phone):
    assert phone.ask("alerts San Pedro Sula").startswith("Reply YES to get alerts for")
    assert phone.ask("yes").startswith("Done: you will get alerts for San Pedro Sula.")
    subscription = Subscription.objects.get()
    assert subscription.language == "en" and phone.contact.language == "en"
    assert phone.ask("ALERTS") == "Your alerts: San Pedro Sula. ALERTS OFF cancels them."


def test_an_ambiguous_name_gets_the_routers_numbered_choice(phone):
    choice = phone.ask("ALERTAS San Marcos")
    assert choice.startswith("¿Cual? Responda con el numero: 1 ")
    assert "San Marcos (Ocotepeque)" in choice and choice.endswith("0 ninguno")
    number = choice.split(" San Marcos (Ocotepeque)")[0].rsplit(" ", 1)[1]
    assert phone.ask(number).startswith("Responda SI para recibir alertas de San Marcos.")
    phone.ask("SI")
    zone = Subscription.objects.get(status="active").zone
    assert zone.label == "San Marcos" and zone.centre_lat > 14.3  # Ocotepeque's, in the west
    assert zone.centre_lon < -88.9


def test_a_department_qualifies_the_name_and_zero_declines(phone):
    assert phone.ask("ALERTAS San Marcos, Ocotepeque").startswith("Responda SI")
    assert phone.ask("NO").startswith("No se activaron alertas.")
    assert Subscription.objects.get().status == "cancelled"
    phone.ask("ALERTAS San Marcos")
    assert phone.ask("0").startswith("No se activaron alertas.")


def test_an_imported_municipality_is_its_boundary(phone, write_json):
    import_areas(write_json(MUNICIPALITIES, "adm2.geojson"))
    assert "municipio de Este" in phone.ask("ALERTAS Este")
    phone.ask("si")
    zone = Subscription.objects.get().zone
    assert (zone.kind, zone.area_code) == ("area", "HN0802")


def test_an_unknown_place_is_explained_and_nothing_is_created(phone):
    assert phone.ask("ALERTAS Xyzzyqwerty").startswith('No encontramos "Xyzzyqwerty". Escriba')
    assert not Subscription.objects.exists()
    assert not Conversation.objects.exists()


def test_list_several_and_cancel_them_all(phone):
    assert phone.ask("ALERTAS").startswith("No tiene alertas. Escriba ALERTAS y su municipio")
    for place in ("Danlí", "Tegucigalpa"):
        phone.ask(f"ALERTAS {place}")
        phone.ask("SI")
    assert phone.ask("alertas") == "Sus alertas: Danli; Tegucigalpa. ALERTAS NO las cancela."
    assert phone.ask("ALERTAS NO").startswith("Sus alertas fueron canceladas.")
    assert _active(phone) == []
    assert phone.ask("ALERTAS").startswith("No tiene alertas.")


def test_subscribing_twice_to_the_same_place_says_so(phone):
    phone.ask("ALERTAS Danlí")
    phone.ask("SI")
    assert phone.ask("ALERTAS Danli").startswith("Ya recibe alertas de Danli.")
    assert Subscription.objects.count() == 1


def test_a_retried_inbound_message_never_replies_or_subscribes_twice(phone):
    phone.send("ALERTAS Danlí", external_id="gw-1")
    phone.send("ALERTAS Danlí", external_id="gw-1")
    phone.send("SI", external_id="gw-2")
    phone.send("SI", external_id="gw-2")
    assert len(phone.replies()) == 2
    assert InboundMessage.objects.count() == 2
    assert Subscription.objects.get().status == "active"


def test_anything_else_after_the_question_is_routed_as_usual(phone):
    phone.ask("ALERTAS Danlí")
    answer = phone.ask("Balacera en el mercado de Danlí")
    assert answer.startswith("¿Donde paso?")  # a new report, the subscription stays pending
    assert Subscription.objects.get().status == "pending"
    assert Conversation.objects.get(status="open").step == "where"


def test_alertas_during_a_report_asks_to_finish_it_first(phone):
    phone.ask("Balacera en el mercado")
    answer = phone.ask("ALERTAS Danlí")
    assert answer.startswith("Primero termine su reporte, o envie ANULAR")
    assert "¿Donde paso?" in answer
    assert not Subscription.objects.exists()
    assert Conversation.objects.get(status="open").step == "where"


def test_an_unanswered_question_expires(phone, clock):
    phone.ask("ALERTAS Danlí")
    clock.advance(hours=3)
    assert phone.ask("SI").startswith("Sereno: ¿qué")  # a new report: the question expired
    assert Subscription.objects.get().status == "pending"


def test_opt_out_is_honoured_and_alerts_wait_for_alta(phone, sms_channel):
    phone.ask("ALERTAS Danlí")
    phone.ask("SI")
    other = Phone(sms_channel, "+50433445566")
    other.ask("ALERTAS Danlí")
    other.ask("SI")
    zone_ids = [Subscription.objects.first().zone_id]
    assert len(list(selectors.recipients(zone_ids))) == 2

    phone.ask("BAJA")
    assert [s.contact_id for s in selectors.recipients(zone_ids)] == [other.contact.pk]
    assert phone.ask("ALERTAS Tegucigalpa") == ""  # an opted-out contact is never answered
    phone.ask("ALTA")
    assert len(list(selectors.recipients(zone_ids))) == 2


def test_a_contact_with_two_areas_is_one_recipient(phone):
    for place in ("Tegucigalpa", "Comayagüela"):
        phone.ask(f"ALERTAS {place}")
        phone.ask("SI")
    zone_ids = Subscription.objects.values_list("zone_id", flat=True)
    assert len(list(selectors.recipients(zone_ids))) == 1


def test_a_new_alertas_replaces_the_open_question(phone):
    phone.ask("ALERTAS San Marcos")
    assert phone.ask("ALERTAS Danlí").startswith("Responda SI para recibir alertas de Danli.")
    phone.ask("SI")
    assert _active(phone) == ["Danlí"]
    assert Conversation.objects.filter(status="open").count() == 0


def test_ok_confirms_and_alerts_go_on_the_channel_it_came_on(phone, sms_channel):
    phone.ask("ALERTAS Danlí")
    phone.ask("OK")
    assert Subscription.objects.get().channel == sms_channel


@pytest.mark.parametrize("word", ["ALERTAS", "ALERTS"])
def test_every_prompt_is_one_sms_even_for_long_choices(phone, word):
    for place in ("San Francisco", "San Antonio", "San Marcos"):
        phone.ask(f"{word} {place}")
        phone.ask("0")
    phone.ask(f"{word} Xyzzyqwerty")
    replies = OutboundMessage.objects.filter(contact=phone.contact)
    assert replies.count() == 7
    assert all((r.encoding, r.segments) == ("gsm7", 1) for r in replies), [
        r.text for r in replies if r.segments > 1
    ]
    # The numbers offered are the ones understood: the last one shown can be chosen.
    choice = phone.ask(f"{word} San Francisco")
    last = max(int(n) for n in re.findall(r"(?:^|\s)(\d) ", choice))
    assert phone.ask(str(last)).startswith(("Responda SI", "Reply YES"))
