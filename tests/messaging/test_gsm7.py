"""GSM 03.38 smart encoding: Spanish stays in GSM-7 (160 per SMS), UCS-2 only when needed."""

import pytest

from sereno.lib import gsm7

pytestmark = pytest.mark.django_db  # the shared autouse fixtures clear the cache table


def test_spanish_keeps_what_gsm7_has_and_replaces_only_what_it_lacks():
    encoded = gsm7.encode("¡Atención! ¿Dónde está el niño? Él vió a la señora Núñez.")
    assert encoded.encoding == "gsm7" and encoded.segments == 1
    assert encoded.text == "¡Atencion! ¿Donde esta el niño? Él vio a la señora Nuñez."
    for kept in "ñÑéÉüÜ¿¡":
        assert kept in gsm7.encode(f"x{kept}").text


@pytest.mark.parametrize(
    ("written", "sent"),
    [
        ("á é í ó ú Á Í Ó Ú", "a é i o u A I O U"),
        ("“BAJA” ‘sí’", "\"BAJA\" 'si'"),
        ("Espere…", "Espere..."),
        ("10–12 h — hoy", "10-12 h - hoy"),
    ],
    ids=["accents", "quotes", "ellipsis", "dashes"],
)
def test_smart_replacements(written, sent):
    encoded = gsm7.encode(written)
    assert (encoded.encoding, encoded.text) == ("gsm7", sent)


def test_the_euro_and_brackets_take_two_septets():
    assert gsm7.encode("€").units == 2
    assert gsm7.encode("[5]{x}").units == 10  # four escapes, two plain
    assert gsm7.encode("€" * 80).segments == 1  # 160 septets
    assert gsm7.encode("€" * 80 + "a").segments == 2


def test_ucs2_only_when_a_character_has_no_gsm7_form_and_then_exactly_as_written():
    emoji = gsm7.encode("Alerta 🚨 cerca de Choluteca, ¿está bien?")
    assert emoji.encoding == "ucs2"
    assert emoji.text == "Alerta 🚨 cerca de Choluteca, ¿está bien?"  # á kept in UCS-2
    assert emoji.units == len("Alerta 🚨 cerca de Choluteca, ¿está bien?") + 1  # surrogate pair
    assert gsm7.encode("Привет").encoding == "ucs2"
    assert not gsm7.is_gsm7("ç") and gsm7.encode("ç").text == "Ç"


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("ñ" * 459, 3),
        ("😀" * 35, 1),  # 70 UTF-16 units
        ("ж" * 70, 1),
        ("ж" * 71, 2),
        ("ж" * 134, 2),
        ("ж" * 135, 3),
    ],
    ids=lambda value: f"{len(value)}x{value[0]}" if isinstance(value, str) else str(value),
)
def test_segment_boundaries_160_153_70_67(text, segments):
    assert gsm7.encode(text).segments == segments


def test_cost_is_segments_times_the_price():
    assert gsm7.cost("hola", price_per_segment=0.05) == pytest.approx(0.05)
    assert gsm7.cost("a" * 161, price_per_segment=0.05) == pytest.approx(0.10)
    assert gsm7.cost("ж" * 71, price_per_segment=0.05) == pytest.approx(0.10)
    # Smart encoding keeps an accented Spanish text at one SMS instead of three UCS-2 parts.
    text = "Reporte recibido: robo en la colonia Kennedy, Tegucigalpa. Gracias por informar. " * 2
    assert gsm7.encode(text.replace("i", "í")).segments == 2
    assert gsm7.encode(text.replace("i", "í"), smart_encoding=False).segments == 3
