import io
import re
from base64 import b32decode
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.auth import SESSION_KEY
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError
from django.db.models import F
from django.utils import timezone
from django_otp.oath import totp

from sereno.accounts.audit import audit_append
from sereno.accounts.models import AuditEntry, User
from sereno.accounts.services import token_authenticate

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_createadmin_prints_credentials_once_and_sets_up_totp(client):
    out = run("createadmin", "--username", "boss", "--email", "boss@example.org")
    user = User.objects.get(username="boss")
    assert user.role_names == ["admin"] and user.email == "boss@example.org"
    device = user.totpdevice_set.get()
    assert device.confirmed
    password = re.search(r"password: (\S+)", out).group(1)
    uri = re.search(r"(otpauth://totp/\S+)", out).group(1)
    assert uri == device.config_url
    assert len(password) >= 20 and user.check_password(password)
    assert AuditEntry.objects.get().action == "user.created"

    # The printed secret is all a new admin needs to sign in.
    secret = parse_qs(urlparse(uri).query)["secret"][0]
    code = f"{totp(b32decode(secret)):06d}"
    client.post("/accounts/login/", {"username": "boss", "password": password, "otp_token": code})
    assert client.session[SESSION_KEY] == str(user.pk)


def test_createadmin_leaves_an_existing_user_alone():
    run("createadmin", "--username", "boss")
    user = User.objects.get(username="boss")
    out = run("createadmin", "--username", "boss")
    assert "already exists" in out and "password" not in out and "otpauth" not in out
    again = User.objects.get(username="boss")
    assert again.password == user.password
    assert again.totpdevice_set.count() == 1


def test_createadmin_if_none(admin_user):
    out = run("createadmin", "--username", "second", "--if-none")
    assert "nothing changed" in out
    assert not User.objects.filter(username="second").exists()
    run("createadmin", "--username", "second")
    assert User.objects.filter(username="second").exists()


@pytest.fixture
def chain(moderator):
    for n in range(5):
        audit_append(actor=moderator, action="test.action", object_type="thing",
                     object_id=n, after={"n": n})  # fmt: skip


def verify() -> tuple[str, str | None]:
    out = io.StringIO()
    try:
        call_command("audit_verify", stdout=out)
    except CommandError as exc:
        return out.getvalue(), str(exc)
    return out.getvalue(), None


def test_audit_verify_ok(chain):
    out, error = verify()
    assert error is None and out.strip() == "audit log OK: 5 rows"


def test_audit_verify_empty_log(db):
    assert verify() == ("audit log OK: 0 rows\n", None)


def test_audit_verify_edited_row(chain):
    AuditEntry.objects.filter(seq=3).update(after={"n": 99})
    out, error = verify()
    assert error and "row 3: content was edited" in out


def test_audit_verify_deleted_middle_row(chain):
    AuditEntry.objects.filter(seq=3).delete()
    out, error = verify()
    assert error and "row 4: sequence jumps from 2" in out
    assert "row 4: does not link to the previous row" in out


def test_audit_verify_inserted_row(chain):
    # Make room after row 2 and slip in a forged row, as someone with database access would.
    for seq in (5, 4, 3):
        AuditEntry.objects.filter(seq=seq).update(seq=F("seq") + 1)
    row2 = AuditEntry.objects.get(seq=2)
    AuditEntry.objects.create(
        seq=3, created_at=timezone.now(), actor=None, actor_name="system",
        action="test.forged", object_type="thing", object_id="x",
        prev_hash=row2.hash, hash="f" * 64,
    )  # fmt: skip
    out, error = verify()
    assert error
    assert "row 3: content was edited" in out
    assert "row 4: does not link to the previous row" in out
    assert "newest rows missing" in out  # the head still says 5


def test_audit_verify_deleted_tail(chain):
    AuditEntry.objects.filter(seq=5).delete()
    out, error = verify()
    assert error and "row 5: newest rows missing: chain ends at 4, head says 5" in out


def test_audit_verify_exit_status_is_1(chain, capsys):
    AuditEntry.objects.filter(seq=2).update(reason="changed")
    with pytest.raises(SystemExit) as exc:
        ManagementUtility(["sereno", "audit_verify"]).execute()
    assert exc.value.code == 1
    captured = capsys.readouterr()
    assert "row 2: content was edited" in captured.out
    assert "audit log damaged" in captured.err


def test_create_api_token(analyst):
    out = run("create_api_token", "--username", "ana", "--name", "sync script")
    raw = re.search(r"(srn_\S+)", out).group(1)
    assert token_authenticate(raw) == analyst


def test_create_api_token_unknown_user(db):
    with pytest.raises(CommandError, match="no active user"):
        run("create_api_token", "--username", "nobody", "--name", "x")
