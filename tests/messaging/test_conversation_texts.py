"""Every text a conversation sends fits in at most two SMS (most in one), in both languages,
with the longest values it can carry (a ten-character reference, the longest place choices,
the seeded taxonomy's menus)."""

import pytest
from django.utils import translation

from sereno.lib import gsm7
from sereno.messaging.conversations import _children, _top_categories, places, texts

pytestmark = pytest.mark.django_db

ONE_SMS = {"ask_what", "ask_where", "where_unknown", "ask_when", "when_unknown", "when_future",
           "done", "help_text", "opted_out", "opted_in", "discarded", "language_set",
           "ask_category"}  # fmt: skip


def _longest_place_choice():
    labels = []
    for text in ("San Marcos", "Concepción", "San Pedro", "Santa Rosa", "La Paz", "Comayagua"):
        found = places.resolve(text)
        labels.append([c.label() for c in found.candidates])
    return max(labels, key=lambda labels: len(" ".join(labels)))


def _every_text():
    yield "ask_what", texts.ask_what()
    yield "ask_where", texts.ask_where()
    yield "where_unknown", texts.where_unknown("x" * 200)
    yield "where_choice", texts.where_choice(_longest_place_choice())
    yield "ask_when", texts.ask_when()
    yield "when_unknown", texts.when_unknown()
    yield "when_future", texts.when_future()
    language = translation.get_language()
    yield "ask_category", texts.ask_category([c.name(language) for c in _top_categories()])
    for parent in _top_categories():
        labels = [c.name(language) for c in _children(parent.slug)]
        yield "ask_category", texts.ask_category(labels)
    yield "done", texts.done("ABCDEFGHJK")
    yield "help_text", texts.help_text()
    yield "opted_out", texts.opted_out()
    yield "opted_in", texts.opted_in()
    yield "discarded", texts.discarded()
    yield "language_set", texts.language_set()


@pytest.mark.parametrize("language", ["es", "en"])
def test_every_text_fits_in_two_sms_and_the_simple_ones_in_one(language):
    with translation.override(language):
        measured = [(name, gsm7.encode(text)) for name, text in _every_text()]
    for name, encoded in measured:
        assert encoded.encoding == "gsm7", (name, encoded.text)
        assert encoded.segments <= 2, (name, encoded.units, encoded.text)
        if name in ONE_SMS:
            assert encoded.segments == 1, (name, encoded.units, encoded.text)


def test_spanish_texts_are_spanish_and_keep_their_accents_where_gsm7_has_them():
    with translation.override("es"):
        assert texts.ask_what().startswith("Sereno: ¿qué pasó?")
        encoded = gsm7.encode(texts.ask_what())
    # é and ¿ are GSM-7; ó is not and becomes o: the message stays one 160-character SMS.
    assert encoded.text.startswith("Sereno: ¿qué paso?") and encoded.segments == 1
