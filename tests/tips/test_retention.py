"""Expiry per channel, extended on activity, warnings 72 h before, deletion destroys everything."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from sereno.tips import services
from sereno.tips.models import Entry, Tip, TipAccess, TipFile
from sereno.tips.tasks import tips_retention_task
from tests.tips.conftest import submit

pytestmark = pytest.mark.django_db


def _tip(client, channel, **kwargs):
    submit(client, channel, **kwargs)
    return Tip.objects.get()


def test_default_expiry_is_90_days_and_activity_extends_it(client, channel, recipient):
    tip = _tip(client, channel)
    assert abs(tip.expires_at - (timezone.now() + timedelta(days=90))) < timedelta(minutes=1)
    Tip.objects.filter(pk=tip.pk).update(expires_at=timezone.now() + timedelta(days=2))
    services.tip_comment(tip=tip, text="más datos")
    tip.refresh_from_db()
    assert tip.expires_at > timezone.now() + timedelta(days=89)


def test_recipients_are_warned_72_hours_before_once(client, channel, recipient):
    recipient.email = "rita@example.org"
    recipient.save()
    tip = _tip(client, channel)
    Tip.objects.filter(pk=tip.pk).update(expires_at=timezone.now() + timedelta(hours=80))
    tips_retention_task.call_local()
    assert mail.outbox == []
    Tip.objects.filter(pk=tip.pk).update(expires_at=timezone.now() + timedelta(hours=70))
    tips_retention_task.call_local()
    tips_retention_task.call_local()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["rita@example.org"]
    assert "Corrupción" in mail.outbox[0].body and "ZORRO" not in mail.outbox[0].body


def test_expired_tips_are_destroyed_with_their_keys_and_files(client, channel, recipient, settings):
    photo = SimpleUploadedFile("a.txt", b"evidence " * 100, "text/plain")
    tip = _tip(client, channel, files=[photo])
    stored = [p for p in (Path(settings.MEDIA_DIR) / "tips").rglob("*") if p.is_file()]
    assert stored
    Tip.objects.filter(pk=tip.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    tips_retention_task.call_local()
    assert not Tip.objects.exists()
    assert not TipAccess.objects.exists() and not Entry.objects.exists()
    assert not TipFile.objects.exists()
    assert not any(p.exists() for p in stored)


def test_recipient_can_keep_a_tip_longer(client, channel, recipient_client):
    tip = _tip(client, channel)
    Tip.objects.filter(pk=tip.pk).update(expires_at=timezone.now() + timedelta(hours=10))
    assert "pronto" in recipient_client.get("/tips/inbox/").content.decode()
    recipient_client.post(f"/tips/inbox/{tip.pk}/extend/")
    tip.refresh_from_db()
    assert tip.expires_at > timezone.now() + timedelta(days=89)


def test_shred_overwrites_before_removing(tmp_path):
    from sereno.tips.crypto import shred

    path = tmp_path / "f"
    path.write_bytes(b"secret" * 1000)
    handle = open(path, "rb")  # noqa: SIM115 - keep the inode to read it after unlinking
    shred(path)
    assert not path.exists()
    assert set(handle.read()) == {0}
    handle.close()
