"""The sign-in and setup pages are complete in Spanish (the default) and in English."""

import re
from pathlib import Path

import pytest
from django.utils import translation

from sereno import accounts
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db

TEMPLATES = Path(accounts.__file__).parent / "templates"
ENGLISH_ONLY = ["Sign in", "Username", "Password", "Language", "authenticator app", "Change"]


def template_messages() -> set[str]:
    messages = set()
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        messages |= set(re.findall(r'{%\s*translate\s+"([^"]+)"', text))
        messages |= set(re.findall(r"{%\s*translate\s+'([^']+)'", text))
        for body in re.findall(r"{%\s*blocktranslate[^%]*%}(.*?){%\s*endblocktranslate", text):
            messages.add(re.sub(r"{{\s*(\w+)\s*}}", r"%(\1)s", body))
    return messages


def test_every_template_message_has_spanish():
    messages = template_messages()
    assert len(messages) > 15
    with translation.override("es"):
        missing = [m for m in messages if translation.gettext(m) == m]
    assert missing == []


def test_login_page_in_spanish(client):
    body = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert '<html lang="es">' in body
    for text in ["Acceso del personal", "Nombre de usuario", "Contraseña", "Idioma"]:
        assert text in body
    for text in ENGLISH_ONLY:
        assert text not in body


def test_login_page_in_english(client):
    body = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en">' in body
    assert "Staff sign-in" in body and "Contraseña" not in body


def test_login_errors_in_spanish(client, settings):
    settings.RATE_LOGIN_USER = "1/900"
    data = {"username": "nadie", "password": "x-password-1"}
    first = client.post("/accounts/login/", data, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "El nombre de usuario, la contraseña o el código no son correctos." in first
    second = client.post("/accounts/login/", data, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Demasiados intentos fallidos de inicio de sesión" in second


def test_setup_page_in_spanish(client):
    make_user("mario", "moderator", totp=False)
    client.post("/accounts/login/", {"username": "mario", "password": PASSWORD})
    response = client.get("/accounts/totp/", HTTP_ACCEPT_LANGUAGE="es")
    body = response.content.decode()
    for text in [
        "Verificación en dos pasos",
        "Su rol requiere un segundo factor",
        "Escanee este código con la aplicación.",
        "Sesión iniciada como mario",
        "Cerrar sesión",
        "Confirmar",
    ]:
        assert text in body
    for text in ["Scan this code", "Sign out", "Signed in as", "Confirm<", "Setup link"]:
        assert text not in body


def test_language_switch_form_sets_the_language(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    body = client.get("/accounts/login/").content.decode()
    assert "Staff sign-in" in body
