import re
from datetime import timedelta

import pytest
from django.utils import timezone

from sereno.accounts import services
from sereno.accounts.models import ApiToken, AuditEntry
from sereno.accounts.services import token_authenticate, token_create, token_revoke
from sereno.lib.errors import InvalidInput

pytestmark = pytest.mark.django_db


def test_create_stores_only_a_digest(analyst):
    token, raw = token_create(user=analyst, name="exports")
    assert re.fullmatch(r"srn_[0-9a-f]{8}_[0-9a-f]{64}", raw)
    assert raw.split("_")[1] == token.prefix
    stored = ApiToken.objects.get(pk=token.pk)
    assert raw not in repr(stored.__dict__) and raw.split("_")[2] not in stored.digest
    entry = AuditEntry.objects.get()
    assert entry.action == "token.created" and raw not in repr(entry.after)


def test_name_is_required(analyst):
    with pytest.raises(InvalidInput):
        token_create(user=analyst, name="  ")


def test_authenticate(analyst):
    token, raw = token_create(user=analyst, name="exports")
    user = token_authenticate(raw)
    assert user == analyst and user.api_token.pk == token.pk
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.parametrize(
    "raw", ["", "srn_", "Bearer x", "srn_00000000_" + "0" * 64, "srn_" + "a" * 500, None]
)
def test_authenticate_rejects_garbage(analyst, raw):
    token_create(user=analyst, name="exports")
    assert token_authenticate(raw) is None


def test_a_nearly_right_token_fails(analyst):
    _, raw = token_create(user=analyst, name="exports")
    assert token_authenticate(raw[:-1] + ("0" if raw[-1] != "0" else "1")) is None


def test_last_used_is_written_at_most_once_a_minute(analyst, monkeypatch):
    token, raw = token_create(user=analyst, name="exports")
    start = timezone.now()
    clock = [start]
    monkeypatch.setattr(services.timezone, "now", lambda: clock[0])
    token_authenticate(raw)
    clock[0] = start + timedelta(seconds=30)
    token_authenticate(raw)
    token.refresh_from_db()
    assert token.last_used_at == start
    clock[0] = start + timedelta(seconds=61)
    token_authenticate(raw)
    token.refresh_from_db()
    assert token.last_used_at == start + timedelta(seconds=61)


def test_revoke(analyst, admin_user):
    token, raw = token_create(user=analyst, name="exports")
    assert token_revoke(token=token, actor=admin_user) is True
    assert token_authenticate(raw) is None
    assert token_revoke(token=token, actor=admin_user) is False
    entry = AuditEntry.objects.order_by("-seq").first()
    assert (entry.action, entry.actor_id) == ("token.revoked", admin_user.pk)
    assert AuditEntry.objects.filter(action="token.revoked").count() == 1


def test_inactive_users_tokens_fail(analyst):
    _, raw = token_create(user=analyst, name="exports")
    analyst.is_active = False
    analyst.save()
    assert token_authenticate(raw) is None
