"""Keywords are read the way people type them, and only when they are the whole message."""

import pytest

from sereno.messaging import keywords

pytestmark = pytest.mark.django_db  # the shared cache fixture uses the database


@pytest.mark.parametrize(
    "typed",
    ["BAJA", "baja", " Baja. ", "¡ALTO!", "parar", "Cancelar", "DETENER", "salir", "STOP",
     "StopAll", "unsubscribe", "CANCEL", "end", "Quit", "stop\n"],
)  # fmt: skip
def test_every_opt_out_word_in_any_case_and_punctuation(typed):
    assert keywords.is_opt_out(typed)


@pytest.mark.parametrize("typed", ["ALTA", "si", "SÍ", "Sí.", "START", "start!"])
def test_opt_in_words(typed):
    assert keywords.is_opt_in(typed)


@pytest.mark.parametrize("typed", ["AYUDA", "ayúda", "HELP", "help?"])
def test_help_words(typed):
    assert keywords.is_help(typed)


@pytest.mark.parametrize(
    "typed",
    ["alto el fuego en la colonia", "no me baja la fiebre", "stop the violence", "salir de casa",
     "bajas", "", "   "],
)  # fmt: skip
def test_a_keyword_inside_a_longer_message_is_not_a_keyword(typed):
    assert not keywords.is_opt_out(typed)
    assert not keywords.is_help(typed)


def test_normalise_removes_accents_case_and_edge_punctuation_only():
    assert keywords.normalise("  ¡Sí!  ") == "si"
    assert (
        keywords.normalise("Comayagüela,  Francisco   Morazán") == "comayaguela, francisco morazan"
    )
    assert keywords.normalise("DON'T KNOW") == "dont know"
    assert keywords.normalise("No sé") == "no se"
    assert keywords.normalise("...") == ""


def test_cancelar_and_salir_are_opt_outs_so_a_report_is_dropped_with_anular():
    assert keywords.is_opt_out("CANCELAR") and keywords.is_opt_out("salir")
    assert "anular" in keywords.DISCARD and "discard" in keywords.DISCARD
    assert not keywords.DISCARD & keywords.OPT_OUT


def test_keyword_lists_do_not_overlap():
    sets = [keywords.OPT_OUT, keywords.OPT_IN, keywords.HELP, keywords.REPORT, keywords.DISCARD,
            keywords.GREETING, keywords.UNKNOWN, frozenset(keywords.LANGUAGE)]  # fmt: skip
    for i, first in enumerate(sets):
        for second in sets[i + 1 :]:
            assert not first & second


@pytest.mark.parametrize(
    ("text", "language"),
    [("REPORT", "en"), ("HELP", "en"), ("STOP", "en"), ("Hello", "en"),
     ("REPORTE", "es"), ("AYUDA", "es"), ("BAJA", "es"), ("hola", "es"),
     ("There was a shooting in the market yesterday", "en"),
     ("Hubo una balacera en el mercado ayer", "es"),
     ("Tegucigalpa", ""), ("3", ""), ("English", "en"), ("Español", "es")],
)  # fmt: skip
def test_language_guess_is_simple_and_says_nothing_when_unsure(text, language):
    assert keywords.guess_language(text) == language
