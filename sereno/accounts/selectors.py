"""Reads about staff accounts: roles, second factors, and whether a session may act as staff."""

from django.conf import settings
from django_otp.plugins.otp_totp.models import TOTPDevice


def requires_two_factor(user) -> bool:
    """Whether `user` holds a role that must use a second factor (settings.TWO_FACTOR_ROLES)."""
    if not getattr(user, "is_authenticated", False):
        return False
    return user.groups.filter(name__in=settings.TWO_FACTOR_ROLES).exists()


def confirmed_totp_device(user) -> TOTPDevice | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()


def staff_verified(request) -> bool:
    """True iff the request's user is active and, if a role requires it, passed TOTP this session.

    Staff views and the staff API call this before anything else; a user in a two-factor role
    who signed in with a password only must first finish /accounts/totp/.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if not requires_two_factor(user):
        return True
    is_verified = getattr(user, "is_verified", None)
    return bool(is_verified and is_verified())
