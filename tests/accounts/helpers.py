from django.test import RequestFactory
from django_otp.middleware import OTPMiddleware
from django_otp.oath import totp

from sereno.accounts.selectors import staff_verified


def current_code(device) -> str:
    """The code the user's authenticator app shows right now."""
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def verified(client, user) -> bool:
    """staff_verified() for a request carrying `client`'s session, as a staff view sees it."""
    request = RequestFactory().get("/")
    request.session = client.session
    request.user = user
    seen = {}
    OTPMiddleware(lambda r: seen.setdefault("ok", staff_verified(r)))(request)
    return seen["ok"]
