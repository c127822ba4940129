"""Admins configure channels: credentials sealed and write-only, webhook URL shown, off until
configured; nobody else may."""

import pytest

from sereno.accounts.models import AuditEntry
from sereno.messaging.models import Channel
from tests.conftest import staff_client
from tests.messaging.recorded import fakeprovider
from tests.messaging.recorded.fakeprovider import make_channel, recorded_json

pytestmark = pytest.mark.django_db

TOKEN = "4d3c2b1a09f8e7d6c5b4a39281706f5e"


@pytest.fixture
def admin(client, admin_user):
    return staff_client(client, admin_user)


def create(admin, kind="twilio_sms", name="Twilio Honduras"):
    response = admin.post("/staff/channels/", {"kind": kind, "name": name,
                                               "address": "+50422345678"})  # fmt: skip
    assert response.status_code == 302
    return Channel.objects.get(name=name)


def edit_form(channel, **config):
    data = {"name": channel.name, "address": channel.address, "rate_per_second": "1",
            "burst": "1"}  # fmt: skip
    data.update({f"config_{k}": v for k, v in config.items() if k != "enabled"})
    if config.get("enabled"):
        data["enabled"] = "on"
    return data


def test_an_admin_adds_a_channel_that_stays_off_until_its_credentials_are_set(admin, settings):
    settings.PUBLIC_URL = "https://sereno.example.org"
    channel = create(admin)
    assert not channel.enabled and channel.config == {}
    page = admin.get(f"/staff/channels/{channel.pk}/").content.decode()
    # The URL to paste into Twilio's console.
    assert f"https://sereno.example.org/hooks/twilio_sms/{channel.uuid}/" in page

    refused = admin.post(f"/staff/channels/{channel.pk}/", edit_form(channel, enabled=True))
    assert refused.status_code == 200
    assert "Required to switch the channel on" in refused.content.decode() or (
        "Obligatorio" in refused.content.decode()
    )
    channel.refresh_from_db()
    assert not channel.enabled

    saved = admin.post(
        f"/staff/channels/{channel.pk}/",
        edit_form(channel, account_sid="AC0001", auth_token=TOKEN, from_number="+50422345678",
                  enabled=True),
    )  # fmt: skip
    assert saved.status_code == 302
    channel.refresh_from_db()
    assert channel.enabled
    assert channel.config["auth_token"] == TOKEN
    assert TOKEN.encode() not in bytes(channel.config_encrypted)  # sealed at rest


def test_a_secret_is_never_shown_again_and_a_blank_one_keeps_it(admin):
    channel = create(admin)
    admin.post(f"/staff/channels/{channel.pk}/",
               edit_form(channel, account_sid="AC0001", auth_token=TOKEN))  # fmt: skip
    page = admin.get(f"/staff/channels/{channel.pk}/").content.decode()
    assert TOKEN not in page
    assert "AC0001" in page  # not a secret: shown for checking
    admin.post(f"/staff/channels/{channel.pk}/",
               edit_form(channel, account_sid="AC0002", auth_token=""))  # fmt: skip
    channel.refresh_from_db()
    assert channel.config["auth_token"] == TOKEN
    assert channel.config["account_sid"] == "AC0002"


def test_changes_are_audited_by_field_name_never_by_value(admin):
    channel = create(admin)
    admin.post(f"/staff/channels/{channel.pk}/",
               edit_form(channel, account_sid="AC0001", auth_token=TOKEN))  # fmt: skip
    entries = AuditEntry.objects.filter(object_type="channel", object_id=str(channel.pk))
    assert {e.action for e in entries} == {"channel.create", "channel.configure"}
    assert all(TOKEN not in str(e.after) for e in entries)
    configure = entries.get(action="channel.configure")
    assert "auth_token" in str(configure.after)


def test_shared_secrets_are_made_up_when_left_blank(admin):
    channel = create(admin, "whatsapp", "WhatsApp oficina")
    admin.post(f"/staff/channels/{channel.pk}/",
               edit_form(channel, phone_number_id="106540352242922", access_token="EAAG",
                         app_secret="abc"))  # fmt: skip
    channel.refresh_from_db()
    verify = channel.config["verify_token"]
    assert len(verify) >= 32
    # The admin pastes the verify token into Meta's dashboard: it is shown.
    assert verify in admin.get(f"/staff/channels/{channel.pk}/").content.decode()


def test_the_telegram_webhook_is_registered_from_the_page(admin, settings):
    fake, server = fakeprovider.start()
    try:
        settings.PUBLIC_URL = "https://sereno.example.org"
        fake.answer(200, recorded_json("telegram_setwebhook_ok.json"))
        channel = make_channel("telegram", {"bot_token": "7000:AA", "secret_token": "t0k3n",
                                            "api_base": fake.url})  # fmt: skip
        response = admin.post(f"/staff/channels/{channel.pk}/telegram-webhook/")
        assert response.status_code == 302
        assert fake.requests[0].json()["url"].endswith(f"/hooks/telegram/{channel.uuid}/")
        assert fake.requests[0].json()["secret_token"] == "t0k3n"
    finally:
        server.shutdown()


@pytest.mark.parametrize("who", ["moderator", "analyst", "outsider"])
def test_only_admins_may_configure_channels(client, request, who):
    user = request.getfixturevalue(who)
    channel = make_channel("twilio_sms", {"auth_token": TOKEN})
    browser = staff_client(client, user)
    assert browser.get("/staff/channels/").status_code == 403
    assert browser.get(f"/staff/channels/{channel.pk}/").status_code == 403
    response = browser.post(f"/staff/channels/{channel.pk}/", edit_form(channel, enabled=True))
    assert response.status_code == 403
    assert browser.post("/staff/channels/", {"kind": "telegram", "name": "x"}).status_code == 403
    assert Channel.objects.count() == 1


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/staff/channels/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("kind", [k for k, _ in Channel.Kind.choices])
def test_every_kind_of_channel_has_a_form_with_write_only_secrets(admin, kind):
    from sereno.messaging.channels import secret_fields

    channel = create(admin, kind, f"canal {kind}")
    page = admin.get(f"/staff/channels/{channel.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    for name in secret_fields(kind):
        assert f'type="password" name="config_{name}"' in html
