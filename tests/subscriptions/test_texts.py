"""Every SMS a subscriber receives fits one GSM-7 segment in both languages, with the longest
values it can carry; and every string of the subscription pages has its Spanish."""

import pytest
from django.utils import translation

from sereno.lib import gsm7
from sereno.lib.i18n import missing
from sereno.subscriptions import texts

pytestmark = pytest.mark.django_db

LONG_PLACE = "San Marcos de Colón, Choluteca, Honduras"


def _every_sms():
    yield "confirm", texts.confirm(LONG_PLACE)
    yield "activated", texts.activated(LONG_PLACE)
    yield "already", texts.already(LONG_PLACE)
    yield "declined", texts.declined()
    yield "not_found", texts.not_found("x" * 200)
    yield "none", texts.none()
    yield "listing", texts.listing([LONG_PLACE] * 9)
    yield "cancelled", texts.cancelled()
    yield "finish_report_first", texts.finish_report_first()
    yield "web_code", texts.web_code("123456")


@pytest.mark.parametrize("language", ["es", "en"])
def test_every_sms_fits_one_gsm7_segment(language):
    with translation.override(language):
        measured = [(name, gsm7.encode(text)) for name, text in _every_sms()]
    for name, encoded in measured:
        assert (encoded.encoding, encoded.segments) == ("gsm7", 1), (name, encoded.text)


def test_a_long_list_says_how_many_more():
    with translation.override("es"):
        text = texts.listing([f"Colonia número {n}" for n in range(12)])
    assert text.startswith("Sus alertas: Colonia número 0; ") and " +" in text


@pytest.mark.parametrize("language", ["es", "en"])
def test_keywords_in_the_texts_are_the_languages_own(language):
    with translation.override(language):
        confirm = texts.confirm("Danlí")
    if language == "es":
        assert "Responda SI" in confirm and "ALERTAS NO" in confirm
    else:
        assert "Reply YES" in confirm and "ALERTS OFF" in confirm


def test_the_subscription_and_geo_catalogues_are_complete():
    assert [m for m in missing("es") if "subscriptions/" in m or "geo/" in m] == []
