"""Recipients: keys wrapped under the password, recovery key, TOTP, escrow, inbox, denials."""

import pytest

from sereno.tips import keys
from sereno.tips.models import RecipientKey, Tip
from tests.conftest import PASSWORD, make_user, staff_client
from tests.tips.conftest import MARKER, make_recipient, submit

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "otra-clave-larga-2024"


def test_onboarding_shows_the_recovery_key_once_and_needs_it_typed_back(client, channel):
    user = make_recipient("rosa", channel, with_key=False)
    staff_client(client, user)
    assert client.get("/tips/inbox/")["Location"] == "/tips/keys/"
    page = client.post("/tips/keys/", {"action": "create", "password": PASSWORD})
    html = page.content.decode()
    recovery = html.split("<code>")[1].split("</code>")[0]
    shown = html.split('name="shown" value="')[1].split('"')[0]
    assert len(recovery.replace("-", "")) == 32
    assert recovery not in repr(list(RecipientKey.objects.values_list()))

    wrong = client.post("/tips/keys/", {"action": "confirm", "shown": shown, "typed": "ABCD"})
    assert wrong.status_code == 422 and recovery in wrong.content.decode()
    assert client.get("/tips/inbox/")["Location"] == "/tips/keys/"  # not before confirming
    typed = recovery.lower().replace("-", " ")
    done = client.post("/tips/keys/", {"action": "confirm", "shown": shown, "typed": typed})
    assert done["Location"] == "/tips/inbox/"
    assert RecipientKey.objects.get(user=user).recovery_confirmed
    assert "<code>" not in client.get("/tips/keys/").content.decode()  # never shown again


def test_private_key_is_stored_only_wrapped(recipient):
    key = RecipientKey.objects.get(user=recipient)
    private = keys.recipient_unlock(user=recipient, password=PASSWORD)
    for column in (key.password_wrapped, key.recovery_wrapped):
        assert private not in bytes(column)
    assert key.escrow_wrapped is None  # no escrow unless an admin turns it on


def test_password_change_rewraps_the_key(client, recipient):
    before = keys.recipient_unlock(user=recipient, password=PASSWORD)
    staff_client(client, recipient)
    response = client.post(
        "/tips/keys/password/", {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert "Su contraseña ha sido cambiada." in response.content.decode()
    recipient.refresh_from_db()
    assert recipient.check_password(NEW_PASSWORD)
    assert keys.recipient_unlock(user=recipient, password=NEW_PASSWORD) == before
    with pytest.raises(keys.InvalidInput):
        keys.recipient_unlock(user=recipient, password=PASSWORD)


def test_after_an_admin_reset_the_recovery_key_opens_the_tips(client, channel, recipient):
    submit(client, channel)
    recipient.set_password(NEW_PASSWORD)  # an administrator resets the password
    recipient.save()
    staff_client(client, recipient)
    locked = client.post("/tips/inbox/unlock/", {"password": NEW_PASSWORD})
    assert locked.status_code == 422 and "llave de recuperación" in locked.content.decode()
    back = client.post(
        "/tips/keys/recover/", {"recovery": recipient.recovery_key, "password": NEW_PASSWORD}
    )
    assert back["Location"] == "/tips/inbox/"
    tip = Tip.objects.get()
    assert MARKER in client.get(f"/tips/inbox/{tip.pk}/").content.decode()
    assert keys.recipient_unlock(user=recipient, password=NEW_PASSWORD)


def test_recipient_without_second_factor_is_sent_to_totp_setup(client, channel):
    user = make_user("teo", "tip_recipient", totp=False)
    client.force_login(user)
    response = client.get("/tips/inbox/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/totp/")


def test_password_alone_is_not_enough_when_a_device_exists(client, recipient):
    client.force_login(recipient)  # password only, no TOTP code in this session
    assert client.get("/tips/inbox/")["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("who", ["anonymous", "moderator", "other_recipient"])
def test_denials(client, channel, recipient, who):
    submit(client, channel)
    tip = Tip.objects.get()
    if who == "anonymous":
        assert client.get("/tips/inbox/").status_code == 302
        assert client.get(f"/tips/inbox/{tip.pk}/").status_code == 302
        return
    if who == "moderator":
        staff_client(client, make_user("mona", "moderator"))
        assert client.get("/tips/inbox/").status_code == 403
        assert client.get(f"/tips/inbox/{tip.pk}/").status_code == 403
        return
    other = make_recipient("otra")  # a recipient, but not of this channel
    staff_client(client, other)
    client.post("/tips/inbox/unlock/", {"password": PASSWORD})
    assert "Todavía no hay denuncias." in client.get("/tips/inbox/").content.decode()
    assert client.get(f"/tips/inbox/{tip.pk}/").status_code == 404


def test_unlocked_key_lives_encrypted_in_the_session_half_in_the_cookie(recipient_client):
    from django.contrib.sessions.models import Session

    private = keys.recipient_unlock(user=keys.RecipientKey.objects.get().user, password=PASSWORD)
    for session in Session.objects.all():
        assert private not in session.session_data.encode()
        assert private not in repr(session.get_decoded()).encode()
    assert recipient_client.cookies["tips_unlock"]["httponly"]
    recipient_client.post("/tips/inbox/lock/")
    assert "Desbloquear" in recipient_client.get("/tips/inbox/").content.decode()


def test_escrow_is_off_until_an_admin_turns_it_on_with_the_risk_on_screen(
    client, admin_user, channel, recipient
):
    staff_client(client, admin_user)
    page = client.get("/tips/escrow/").content.decode()
    assert "Riesgo:" in page and "desactivado" in page
    refused = client.post("/tips/escrow/", {"action": "enable"})
    assert "Marque la casilla" in refused.content.decode()
    assert not keys.escrow_enabled()
    shown = client.post("/tips/escrow/", {"action": "enable", "understood": "yes"})
    escrow_private = shown.content.decode().split("<code>")[1].split("</code>")[0]
    assert keys.escrow_enabled()
    # Existing keys are escrowed when next unlocked; new keys at once.
    private = keys.recipient_unlock(user=recipient, password=PASSWORD)
    assert keys.escrow_open(escrow_private_b64=escrow_private, user=recipient) == private
    newcomer = make_recipient("nina")
    assert RecipientKey.objects.get(user=newcomer).escrow_wrapped is not None
    client.post("/tips/escrow/", {"action": "disable"})
    assert not keys.escrow_enabled()
    assert not RecipientKey.objects.exclude(escrow_wrapped=None).exists()


def test_escrow_page_is_for_admins_only(client, recipient):
    staff_client(client, recipient)
    assert client.get("/tips/escrow/").status_code == 403


def test_admin_configures_a_channel_its_questions_and_recipients(client, admin_user):
    from sereno.tips.models import Channel

    rita = make_recipient("rita")
    make_user("mona", "moderator")  # not offered: recipients must hold the tip-recipient role
    staff_client(client, admin_user)
    form = client.get("/tips/manage/new/").content.decode()
    assert "rita" in form and "mona" not in form
    data = {
        "name": "Violencia", "name_en": "Violence", "slug": "violencia", "description": "",
        "description_en": "", "active": "on", "allow_files": "on", "retention_days": "30",
        "order": "0", "recipients": [rita.pk],
        "q-TOTAL_FORMS": "2", "q-INITIAL_FORMS": "0", "q-MIN_NUM_FORMS": "0",
        "q-MAX_NUM_FORMS": "1000",
        "q-0-order": "1", "q-0-kind": "text", "q-0-label": "¿Qué pasó?", "q-0-required": "on",
        "q-1-order": "2", "q-1-kind": "choice", "q-1-label": "¿Dónde?",
        "q-1-choices": "Casa\nCalle", "q-1-choices_en": "Home\nStreet",
    }  # fmt: skip
    response = client.post("/tips/manage/new/", data)
    assert response.status_code == 302
    channel = Channel.objects.get(slug="violencia")
    assert channel.retention_days == 30 and list(channel.recipients.all()) == [rita]
    assert [q.kind for q in channel.questions.all()] == ["text", "choice"]
    listing = client.get("/tips/manage/").content.decode()
    assert "Violencia" in listing and "rita" in listing
    public = client.get("/tips/violencia/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Street" in public


def test_channel_configuration_is_for_admins_only(client, recipient, moderator):
    staff_client(client, recipient)
    assert client.get("/tips/manage/").status_code == 403
    staff_client(client, moderator)
    assert client.get("/tips/manage/new/").status_code == 403


def test_removing_a_recipient_from_a_channel_removes_their_access(
    client, admin_user, channel, recipient
):
    from sereno.tips.models import TipAccess

    submit(client, channel)
    assert TipAccess.objects.filter(user=recipient).count() == 1
    staff_client(client, admin_user)
    data = {
        "name": channel.name, "name_en": "", "slug": channel.slug, "description": "",
        "description_en": "", "active": "on", "allow_files": "on", "retention_days": "90",
        "order": "0", "q-TOTAL_FORMS": "0", "q-INITIAL_FORMS": "0", "q-MIN_NUM_FORMS": "0",
        "q-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    assert client.post(f"/tips/manage/{channel.pk}/", data).status_code == 302
    assert TipAccess.objects.filter(user=recipient).count() == 0


def test_a_recipient_added_later_gets_the_tip_when_a_colleague_opens_it(
    client, channel, recipient_client
):
    submit(client, channel)
    tip = Tip.objects.get()
    late = make_recipient("lucia", channel)  # joins after the tip arrived
    late_client = staff_client(type(client)(), late)
    late_client.post("/tips/inbox/unlock/", {"password": PASSWORD})
    assert late_client.get(f"/tips/inbox/{tip.pk}/").status_code == 404
    recipient_client.get(f"/tips/inbox/{tip.pk}/")  # a colleague opens it
    assert MARKER in late_client.get(f"/tips/inbox/{tip.pk}/").content.decode()


def test_opening_a_tip_is_audited(client, channel, recipient_client, recipient):
    from sereno.accounts.models import AuditEntry

    submit(client, channel)
    tip = Tip.objects.get()
    recipient_client.get(f"/tips/inbox/{tip.pk}/")
    entry = AuditEntry.objects.get(action="tips.opened")
    assert entry.object_id == str(tip.pk) and entry.actor_id == recipient.pk
