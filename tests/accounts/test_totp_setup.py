import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from django_otp.plugins.otp_totp.models import TOTPDevice

from sereno.accounts.models import AuditEntry
from sereno.accounts.selectors import staff_verified
from tests.accounts.helpers import current_code, verified
from tests.conftest import PASSWORD, make_user, staff_client

SETUP = "/accounts/totp/"

pytestmark = pytest.mark.django_db


@pytest.fixture
def newcomer(client):
    """A moderator who has just signed in with a password and has no device yet."""
    user = make_user("mario", "moderator", totp=False)
    client.post(
        "/accounts/login/",
        {"username": "mario", "password": PASSWORD},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    return user


def test_anonymous_is_sent_to_login(client, db):
    response = client.get(SETUP)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_setup_page_shows_uri_and_inline_qr(client, newcomer):
    response = client.get(SETUP, HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()
    assert response.status_code == 200
    assert "otpauth://totp/Sereno%3Amario?secret=" in body
    assert "<svg" in body and "<img" not in body  # inline, nothing fetched from elsewhere
    assert "<script" not in body and "style=" not in body
    assert response["Cache-Control"] == "no-store"
    device = TOTPDevice.objects.get(user=newcomer)
    assert not device.confirmed
    # Reloading keeps the same secret, so a code already scanned keeps working.
    client.get(SETUP)
    assert TOTPDevice.objects.get(user=newcomer).key == device.key


def test_wrong_code_does_not_confirm(client, newcomer):
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=newcomer)
    wrong = f"{(int(current_code(device)) + 500_000) % 1_000_000:06d}"
    response = client.post(SETUP, {"otp_token": wrong}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    assert not verified(client, newcomer)


def test_confirming_verifies_the_session_and_is_audited(client, newcomer):
    assert not verified(client, newcomer)
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=newcomer)
    response = client.post(SETUP, {"otp_token": current_code(device), "next": "/staff/"})
    assert response.status_code == 302 and response["Location"] == "/staff/"
    device.refresh_from_db()
    assert device.confirmed
    assert verified(client, newcomer)
    entry = AuditEntry.objects.order_by("-seq").first()
    assert (entry.action, entry.actor_id) == ("totp.confirmed", newcomer.pk)


def test_confirmed_device_secret_is_never_shown_again(client, moderator):
    staff_client(client, moderator)
    response = client.get(SETUP, HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()
    assert response.status_code == 200
    assert "already set up" in body and "otpauth://" not in body and "<svg" not in body
    assert TOTPDevice.objects.filter(user=moderator).count() == 1


def test_staff_verified_rules(client):
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    assert not staff_verified(request)
    caseworker = make_user("carla", "caseworker", totp=False)
    client.force_login(caseworker)
    assert verified(client, caseworker)  # not a two-factor role
    caseworker.is_active = False
    caseworker.save()
    assert not verified(client, caseworker)
    admin = make_user("adan", "admin")
    client.force_login(admin)  # password only, as if the second step were skipped
    assert not verified(client, admin)
    staff_client(client, admin)
    assert verified(client, admin)
