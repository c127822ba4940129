"""Recipients' key pairs: onboarding, unlocking, password change, recovery and key escrow."""

import base64
import hmac

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from sereno.accounts.audit import audit_append
from sereno.lib.errors import Conflict, InvalidInput, NotAllowed, NotFound
from sereno.tips import crypto
from sereno.tips.models import Escrow, RecipientKey

RECIPIENT_ROLE = "tip_recipient"


def is_recipient(user) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and user.groups.filter(name=RECIPIENT_ROLE).exists()
    )


def _password_wrap(private_key: bytes, password: str) -> tuple[bytes, bytes]:
    salt = crypto.new_salt()
    return salt, crypto.wrap(private_key, crypto.argon2id(password.encode(), salt))


def _escrow_wrap(private_key: bytes) -> bytes | None:
    escrow = Escrow.objects.filter(pk=1).first()
    return crypto.seal_to(escrow.public_key, private_key) if escrow else None


def recipient_key_create(*, user, password: str) -> str:
    """Create the user's key pair; return the recovery key to show once.

    The password must be the account's: the key is wrapped under it, and from then on the
    password unlocks it."""
    if not is_recipient(user):
        raise NotAllowed(_("Only tip recipients have a tip key."))
    if not user.check_password(password):
        raise InvalidInput(_("That is not your password."), field="password")
    public, private = crypto.new_keypair()
    salt, wrapped = _password_wrap(private, password)
    recovery = crypto.new_recovery_key()
    recovery_salt = crypto.new_salt()
    with transaction.atomic():
        if RecipientKey.objects.select_for_update().filter(user=user).exists():
            raise Conflict(_("You already have a tip key."))
        key = RecipientKey.objects.create(
            user=user, public_key=public, password_salt=salt, password_wrapped=wrapped,
            recovery_salt=recovery_salt,
            recovery_wrapped=crypto.wrap(
                private, crypto.recovery_wrapping_key(recovery, recovery_salt)
            ),
            escrow_wrapped=_escrow_wrap(private),
        )  # fmt: skip
        audit_append(
            actor=user, action="tips.key_created", object_type="user", object_id=user.pk,
            after={"escrow": key.escrow_wrapped is not None},
        )  # fmt: skip
    return recovery


def recipient_recovery_confirm(*, user, typed: str, recovery_key: str) -> bool:
    """True (and recorded) when the typed recovery key matches the one just shown."""
    typed_n = crypto.normalize_recovery_key(typed)
    shown_n = crypto.normalize_recovery_key(recovery_key)
    if not typed_n or not hmac.compare_digest(typed_n, shown_n):
        return False
    key = RecipientKey.objects.filter(user=user).first()
    if key is None:
        return False
    private = _open_with_recovery(key, recovery_key)
    if private is None:
        return False
    RecipientKey.objects.filter(pk=key.pk).update(recovery_confirmed=True)
    audit_append(
        actor=user, action="tips.recovery_confirmed", object_type="user", object_id=user.pk
    )
    return True


def _open_with_recovery(key: RecipientKey, recovery_key: str) -> bytes | None:
    try:
        return crypto.unwrap(
            key.recovery_wrapped, crypto.recovery_wrapping_key(recovery_key, key.recovery_salt)
        )
    except crypto.CryptoError:
        return None


def recipient_unlock(*, user, password: str) -> bytes:
    """The private key, opened with the account password. Wraps it for the escrow key when
    escrow was turned on after this key was made."""
    key = RecipientKey.objects.filter(user=user).first()
    if key is None:
        raise Conflict(_("You have no tip key yet."))
    try:
        private = crypto.unwrap(
            key.password_wrapped, crypto.argon2id(password.encode(), key.password_salt)
        )
    except crypto.CryptoError:
        raise InvalidInput(
            _(
                "That password does not open your tip key. If your password was reset by an "
                "administrator, use your recovery key."
            ),
            field="password",
        ) from None
    if key.escrow_wrapped is None:
        wrapped = _escrow_wrap(private)
        if wrapped is not None:
            RecipientKey.objects.filter(pk=key.pk, escrow_wrapped=None).update(
                escrow_wrapped=wrapped
            )
    return private


def recipient_password_change(*, user, old_password: str, new_password: str) -> None:
    """Change the account password and re-wrap the tip key under it, in one transaction."""
    if not user.check_password(old_password):
        raise InvalidInput(_("That is not your current password."), field="old_password")
    try:
        validate_password(new_password, user)
    except ValidationError as error:
        raise InvalidInput(" ".join(error.messages), field="new_password") from None
    private = recipient_unlock(user=user, password=old_password)
    salt, wrapped = _password_wrap(private, new_password)
    with transaction.atomic():
        RecipientKey.objects.filter(user=user).update(password_salt=salt, password_wrapped=wrapped)
        user.set_password(new_password)
        user.save(update_fields=["password"])
        audit_append(
            actor=user, action="tips.password_changed", object_type="user", object_id=user.pk
        )


def recipient_recover(*, user, recovery_key: str, password: str) -> bytes:
    """Open the key with the recovery key and re-wrap it under the (current) account password,
    e.g. after an administrator reset the password."""
    if not user.check_password(password):
        raise InvalidInput(_("That is not your password."), field="password")
    key = RecipientKey.objects.filter(user=user).first()
    if key is None:
        raise Conflict(_("You have no tip key yet."))
    private = _open_with_recovery(key, recovery_key)
    if private is None:
        raise InvalidInput(_("That recovery key does not open your tip key."), field="recovery")
    salt, wrapped = _password_wrap(private, password)
    with transaction.atomic():
        RecipientKey.objects.filter(pk=key.pk).update(password_salt=salt, password_wrapped=wrapped)
        audit_append(actor=user, action="tips.key_recovered", object_type="user", object_id=user.pk)
    return private


def recipient_recovery_renew(*, user, password: str) -> str:
    """A new recovery key (shown once, to confirm again), e.g. when onboarding was left before
    the first one was confirmed. Needs the password that opens the key."""
    private = recipient_unlock(user=user, password=password)
    recovery = crypto.new_recovery_key()
    salt = crypto.new_salt()
    with transaction.atomic():
        RecipientKey.objects.filter(user=user).update(
            recovery_salt=salt,
            recovery_wrapped=crypto.wrap(private, crypto.recovery_wrapping_key(recovery, salt)),
            recovery_confirmed=False,
        )
        audit_append(
            actor=user, action="tips.recovery_renewed", object_type="user", object_id=user.pk
        )
    return recovery


# --- escrow ------------------------------------------------------------------------------------


def escrow_enabled() -> bool:
    return Escrow.objects.filter(pk=1).exists()


def escrow_enable(*, actor) -> str:
    """Turn escrow on; return the escrow private key (base64) to show once and keep offline.
    Every recipient key made or unlocked from now on is also sealed to it."""
    if not actor.has_perm("tips.manage_tips"):
        raise NotAllowed(_("Only administrators can change key escrow."))
    public, private = crypto.new_keypair()
    with transaction.atomic():
        if Escrow.objects.select_for_update().filter(pk=1).exists():
            raise Conflict(_("Key escrow is already on."))
        Escrow.objects.create(pk=1, public_key=public)
        audit_append(actor=actor, action="tips.escrow_enabled", object_type="escrow", object_id=1)
    return base64.b64encode(private).decode()


def escrow_disable(*, actor) -> None:
    """Turn escrow off and delete every escrow-wrapped copy."""
    if not actor.has_perm("tips.manage_tips"):
        raise NotAllowed(_("Only administrators can change key escrow."))
    with transaction.atomic():
        Escrow.objects.filter(pk=1).delete()
        RecipientKey.objects.update(escrow_wrapped=None)
        audit_append(actor=actor, action="tips.escrow_disabled", object_type="escrow", object_id=1)


def escrow_open(*, escrow_private_b64: str, user) -> bytes:
    """A recipient's private key opened with the escrow key (for the documented emergency)."""
    key = RecipientKey.objects.get(user=user)
    if key.escrow_wrapped is None:
        raise NotFound(_("This recipient's key is not escrowed."))
    return crypto.open_sealed(base64.b64decode(escrow_private_b64), key.escrow_wrapped)
