import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.hashers import Argon2PasswordHasher
from django_otp import DEVICE_ID_SESSION_KEY

from sereno.accounts import views
from sereno.accounts.models import AuditEntry
from tests.accounts.helpers import cache_dump, current_code, stored_counters, verified
from tests.conftest import PASSWORD, make_user

LOGIN = "/accounts/login/"
WRONG = "The username, password or code is not correct."
THROTTLED = "Too many failed sign-in attempts"

pytestmark = pytest.mark.django_db


def login(client, username, password=PASSWORD, code="", **extra):
    data = {"username": username, "password": password, "otp_token": code, **extra}
    return client.post(LOGIN, data, HTTP_ACCEPT_LANGUAGE="en")


def last_audit():
    return AuditEntry.objects.order_by("-seq").first()


def test_login_page_renders_without_inline_script_or_style(client):
    response = client.get(LOGIN, HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'name="otp_token"' in body and 'autocomplete="one-time-code"' in body
    assert "<script" not in body and "style=" not in body
    assert 'action="/i18n/setlang/"' in body


def test_login_with_password_and_code(client, moderator):
    device = moderator.totpdevice_set.get()
    response = login(client, "mona", code=current_code(device))
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.session[SESSION_KEY] == str(moderator.pk)
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    assert verified(client, moderator)
    entry = last_audit()
    assert (entry.action, entry.actor_id, entry.object_id) == (
        "login.success",
        moderator.pk,
        str(moderator.pk),
    )


def test_code_may_be_typed_with_a_space(client, moderator):
    code = current_code(moderator.totpdevice_set.get())
    response = login(client, "mona", code=f"{code[:3]} {code[3:]}")
    assert response.status_code == 302


def test_wrong_code_fails(client, moderator):
    code = current_code(moderator.totpdevice_set.get())
    wrong = f"{(int(code) + 500_000) % 1_000_000:06d}"
    response = login(client, "mona", code=wrong)
    assert response.status_code == 200 and WRONG in response.content.decode()
    assert SESSION_KEY not in client.session
    entry = last_audit()
    assert entry.action == "login.failure" and entry.actor_id is None
    assert entry.object_id == str(moderator.pk) and entry.after == {"username": "mona"}


def test_missing_code_fails_for_an_account_with_a_device(client, analyst):
    response = login(client, "ana")
    assert response.status_code == 200 and WRONG in response.content.decode()
    assert SESSION_KEY not in client.session


def test_wrong_password_with_right_code_fails(client, moderator):
    code = current_code(moderator.totpdevice_set.get())
    response = login(client, "mona", password="not-the-password", code=code)
    assert WRONG in response.content.decode()
    assert SESSION_KEY not in client.session


def test_account_without_two_factor_role_or_device_signs_in_with_password(client):
    user = make_user("carla", "caseworker", totp=False)
    response = login(client, "carla")
    assert response.status_code == 302 and response["Location"] == "/"
    assert verified(client, user)


def test_two_factor_role_without_device_is_sent_to_setup(client):
    user = make_user("mario", "moderator", totp=False)
    response = login(client, "mario", next="/staff/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/totp/?next=%2Fstaff%2F"
    assert client.session[SESSION_KEY] == str(user.pk)
    assert not verified(client, user)


def test_inactive_account_cannot_sign_in(client):
    user = make_user("ida", "caseworker", totp=False)
    user.is_active = False
    user.save()
    response = login(client, "ida")
    assert WRONG in response.content.decode()


def test_next_is_followed_only_on_this_site(client):
    make_user("carla", "caseworker", totp=False)
    assert login(client, "carla", next="/staff/reports/")["Location"] == "/staff/reports/"
    client.logout()
    assert login(client, "carla", next="https://evil.example/")["Location"] == "/"


def _normalised(response, username):
    body = response.content.decode()
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body)
    return body.replace(username, "USERNAME")


def test_unknown_username_looks_exactly_like_a_wrong_password(client, moderator, monkeypatch):
    encoded = []
    original = Argon2PasswordHasher.encode

    def spy(self, password, salt):
        encoded.append(password)
        return original(self, password, salt)

    monkeypatch.setattr(Argon2PasswordHasher, "encode", spy)
    unknown = login(client, "nobody-here", password="guess-1234")
    assert encoded == ["guess-1234"]  # the hasher ran although there is no such user
    known = login(client, "mona", password="guess-1234")
    assert unknown.status_code == known.status_code == 200
    assert _normalised(unknown, "nobody-here") == _normalised(known, "mona")
    entry = last_audit()
    assert entry.action == "login.failure"
    unknown_entry = AuditEntry.objects.get(seq=entry.seq - 1)
    assert unknown_entry.object_id == "" and unknown_entry.after == {"username": "unknown"}
    assert not AuditEntry.objects.filter(after__icontains="nobody").exists()


def _count_authenticate_calls(monkeypatch):
    calls = []
    original = views.authenticate

    def spy(*args, **kwargs):
        calls.append(kwargs.get("username"))
        return original(*args, **kwargs)

    monkeypatch.setattr(views, "authenticate", spy)
    return calls


def test_throttle_per_username(client, moderator, settings, monkeypatch):
    settings.RATE_LOGIN_USER = "3/900"
    for _ in range(3):
        response = login(client, "mona", password="wrong-password-1")
        assert response.status_code == 200 and WRONG in response.content.decode()
    calls = _count_authenticate_calls(monkeypatch)
    code = current_code(moderator.totpdevice_set.get())
    response = client.post(
        LOGIN,
        {"username": "MONA", "password": PASSWORD, "otp_token": code},
        HTTP_ACCEPT_LANGUAGE="en",
        REMOTE_ADDR="198.51.100.9",  # another client: the username's own limit still holds
    )
    body = response.content.decode()
    assert response.status_code == 429 and THROTTLED in body
    assert calls == []  # the password was not even checked
    assert SESSION_KEY not in client.session


def test_throttle_per_client_address(client, settings, monkeypatch):
    settings.RATE_LOGIN_CLIENT = "3/900"
    for name in ("u1", "u2", "u3"):
        assert login(client, name, password="x-password-123").status_code == 200
    calls = _count_authenticate_calls(monkeypatch)
    response = login(client, "u4", password="x-password-123")
    assert response.status_code == 429 and THROTTLED in response.content.decode()
    assert calls == []
    other = client.post(
        LOGIN,
        {"username": "u4", "password": "x-password-123"},
        HTTP_ACCEPT_LANGUAGE="en",
        REMOTE_ADDR="198.51.100.9",
    )
    assert other.status_code == 200 and calls == ["u4"]


def test_unknown_usernames_are_throttled_the_same(client, settings):
    settings.RATE_LOGIN_USER = "2/900"
    for _ in range(2):
        assert login(client, "ghost", password="x-password-123").status_code == 200
    assert login(client, "ghost", password="x-password-123").status_code == 429


def test_successful_sign_ins_do_not_use_up_the_limit(client, settings):
    settings.RATE_LOGIN_USER = "2/900"
    settings.RATE_LOGIN_CLIENT = "2/900"
    make_user("carla", "caseworker", totp=False)
    for _ in range(5):
        assert login(client, "carla").status_code == 302
        client.post("/accounts/logout/")


def test_no_client_address_is_stored_anywhere(client, moderator, settings):
    settings.RATE_LOGIN_USER = "2/900"
    settings.RATE_LOGIN_CLIENT = "2/900"
    for _ in range(3):
        login(client, "mona", password="wrong-password-1", REMOTE_ADDR="127.0.0.1")
    rows = cache_dump()
    assert len(stored_counters()) >= 2  # the counters are there ...
    dump = repr(rows)
    assert "127.0.0.1" not in dump and "mona" not in dump  # ... keyed by hashes only
    audit = repr(list(AuditEntry.objects.values()))
    assert "127.0.0.1" not in audit


def test_logout_is_post_only_and_audited(client, moderator):
    login(client, "mona", code=current_code(moderator.totpdevice_set.get()))
    assert client.get("/accounts/logout/").status_code == 405
    assert SESSION_KEY in client.session
    response = client.post("/accounts/logout/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert SESSION_KEY not in client.session
    entry = last_audit()
    assert (entry.action, entry.actor_id) == ("logout", moderator.pk)


def test_logout_when_not_signed_in_just_redirects(client):
    assert client.post("/accounts/logout/").status_code == 302
    assert not AuditEntry.objects.exists()
