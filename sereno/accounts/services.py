"""Writes for staff accounts: admins, second factors and API tokens, each audited."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from sereno.accounts.audit import audit_append
from sereno.accounts.models import ApiToken, User
from sereno.accounts.roles import ensure_roles
from sereno.lib.errors import Conflict, InvalidInput

TOKEN_SCHEME = "srn"  # noqa: S105 (a label, not a secret)
TOKEN_MAX_LENGTH = 128
# Writing last_used_at on every request would turn every API read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


# --- admins ------------------------------------------------------------------------------------


def generate_password() -> str:
    """24 URL-safe characters (144 random bits)."""
    return secrets.token_urlsafe(18)


def _role(name: str) -> Group:
    group = Group.objects.filter(name=name).first()
    if group is None:
        ensure_roles()
        group = Group.objects.get(name=name)
    return group


def admin_create(*, username: str, email: str = "") -> tuple[User, str, TOTPDevice]:
    """A new admin with a random password and a confirmed TOTP device.

    Returns (user, password, device): show the password and `device.config_url` to the
    person once; neither can be shown again."""
    if User.objects.filter(username=username).exists():
        raise Conflict(_("A user with that username already exists."), field="username")
    password = generate_password()
    with transaction.atomic():
        user = User.objects.create_user(username=username, email=email, password=password)
        user.groups.add(_role("admin"))
        device = TOTPDevice.objects.create(user=user, name="default", confirmed=True)
        audit_append(
            actor=None, action="user.created", object_type="user", object_id=user.pk,
            after={"username": username, "roles": ["admin"], "totp": True},
        )  # fmt: skip
    return user, password, device


# --- TOTP --------------------------------------------------------------------------------------


def totp_device_start(*, user: User) -> TOTPDevice:
    """The user's unconfirmed device, created on first call; the same secret on every reload
    until it is confirmed."""
    with transaction.atomic():
        if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            raise Conflict(_("Two-factor authentication is already set up."))
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=False)
            .order_by("id")
            .first()
        )
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="default", confirmed=False)
    return device


def totp_device_confirm(*, user: User, device: TOTPDevice, token: str) -> bool:
    """Confirm `device` with a code from the user's app. False if the code is wrong (django-otp
    also slows down repeated wrong codes)."""
    with transaction.atomic():
        if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            raise Conflict(_("Two-factor authentication is already set up."))
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user)
        if not device.verify_token(token):
            return False
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        audit_append(
            actor=user, action="totp.confirmed", object_type="user", object_id=user.pk,
            after={"device": device.name},
        )  # fmt: skip
    return True


# --- API tokens --------------------------------------------------------------------------------


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def token_create(*, user: User, name: str, actor: User | None = None) -> tuple[ApiToken, str]:
    """A new bearer token `srn_<prefix>_<secret>`. Only its SHA-256 is stored: the raw token
    is returned here once and can never be shown again."""
    name = name.strip()
    if not name or len(name) > ApiToken._meta.get_field("name").max_length:
        raise InvalidInput(_("Give the token a name of at most 100 characters."), field="name")
    prefix = secrets.token_hex(4)
    raw = f"{TOKEN_SCHEME}_{prefix}_{secrets.token_hex(32)}"
    with transaction.atomic():
        token = ApiToken.objects.create(user=user, name=name, prefix=prefix, digest=_digest(raw))
        audit_append(
            actor=actor, action="token.created", object_type="api_token", object_id=token.pk,
            after={"user": user.username, "name": name, "prefix": prefix},
        )  # fmt: skip
    return token, raw


def token_authenticate(raw: str) -> User | None:
    """The active user owning the unrevoked token `raw`, or None.

    Looked up by SHA-256 digest: the database compares digests, never the secret, so response
    times say nothing about how much of a guess was right. The token is attached to the user
    as `user.api_token`.
    """
    if not isinstance(raw, str) or len(raw) > TOKEN_MAX_LENGTH:
        return None
    if not raw.startswith(f"{TOKEN_SCHEME}_"):
        return None
    digest = _digest(raw)
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=digest, revoked_at__isnull=True)
        .first()
    )
    if token is None or not hmac.compare_digest(token.digest, digest):
        return None
    if not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
        ApiToken.objects.filter(stale, pk=token.pk).update(last_used_at=now)
    user = token.user
    user.api_token = token
    return user


def token_revoke(*, token: ApiToken, actor: User | None = None) -> bool:
    """Revoke `token`; False if it already was."""
    now = timezone.now()
    with transaction.atomic():
        changed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=now
        )
        if changed:
            audit_append(
                actor=actor, action="token.revoked", object_type="api_token", object_id=token.pk,
                after={"user_id": token.user_id, "name": token.name, "prefix": token.prefix},
            )  # fmt: skip
    if changed:
        token.revoked_at = now
    return bool(changed)
