"""Staff sign-in (password + TOTP in one form), sign-out, and TOTP setup."""

import math
from base64 import b32encode

import django_otp
import qrcode
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from qrcode.image.svg import SvgPathFillImage

from sereno.accounts.audit import audit_append
from sereno.accounts.forms import LoginForm, TotpConfirmForm
from sereno.accounts.models import User
from sereno.accounts.selectors import confirmed_totp_device, requires_two_factor
from sereno.accounts.services import totp_device_confirm, totp_device_start
from sereno.lib import ratelimit
from sereno.lib.errors import Conflict, TooMany

USER_SCOPE = "login.user"
CLIENT_SCOPE = "login.client"


def _next_url(request) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return ""


def _limits(request, username: str) -> list[tuple[str, str, str]]:
    # Case-folded so that "Ada" and "ada" share one counter.
    return [
        (USER_SCOPE, username.strip().casefold(), settings.RATE_LOGIN_USER),
        (CLIENT_SCOPE, ratelimit.client_key(request), settings.RATE_LOGIN_CLIENT),
    ]


def _record_failure(username: str) -> None:
    # The attempted name is kept only when it is an account's: a mistyped password in the
    # username field must not end up in the audit log.
    user = User.objects.filter(username=username).only("pk").first()
    audit_append(
        actor=None, action="login.failure", object_type="user",
        object_id=user.pk if user else "", after={"username": username if user else "unknown"},
    )  # fmt: skip


def _check(request, username: str, password: str, code: str):
    """(user, device) if every factor the account has is right, else (None, None)."""
    # authenticate() runs the password hasher for unknown usernames too (ModelBackend), so
    # timing does not tell whether an account exists.
    user = authenticate(request, username=username, password=password)
    if user is None:
        return None, None
    device = confirmed_totp_device(user)
    if device is None:
        return user, None
    if code and django_otp.verify_token(user, device.persistent_id, code):
        return user, device
    return None, None


def _attempt(request, form: LoginForm):
    """A redirect on success, else the (message, status) to show with the form."""
    data = form.cleaned_data
    limits = _limits(request, data["username"])
    try:
        # Counted before the password is looked at, so parallel guesses cannot slip past the
        # limit; a successful attempt is refunded below, so only failures use up the budget.
        for scope, key, rate in limits:
            ratelimit.hit(scope, key, rate)
    except TooMany as exc:
        minutes = math.ceil(exc.retry_after / 60)
        message = ngettext(
            "Too many failed sign-in attempts. Wait %(minutes)d minute and try again.",
            "Too many failed sign-in attempts. Wait %(minutes)d minutes and try again.",
            minutes,
        ) % {"minutes": minutes}
        return message, 429

    user, device = _check(request, data["username"], data["password"], data["otp_token"])
    if user is None:
        _record_failure(data["username"])
        return _("The username, password or code is not correct."), 200

    for scope, key, rate in limits:
        ratelimit.refund(scope, key, rate)
    with transaction.atomic():
        auth_login(request, user)
        if device is not None:
            django_otp.login(request, device)
        audit_append(actor=user, action="login.success", object_type="user", object_id=user.pk)

    next_url = _next_url(request)
    if device is None and requires_two_factor(user):
        setup = reverse("accounts:totp_setup")
        return redirect(f"{setup}?{urlencode({'next': next_url})}" if next_url else setup)
    return redirect(next_url or settings.LOGIN_REDIRECT_URL)


@sensitive_post_parameters("password", "otp_token")
@csrf_protect
@never_cache
def login_view(request):
    form = LoginForm(request.POST if request.method == "POST" else None)
    error, status = None, 200
    if request.method == "POST" and form.is_valid():
        outcome = _attempt(request, form)
        if not isinstance(outcome, tuple):
            return outcome
        error, status = outcome
    context = {"form": form, "error": error, "next": _next_url(request)}
    return render(request, "accounts/login.html", context, status=status)


@require_POST
def logout_view(request):
    user = request.user
    if user.is_authenticated:
        with transaction.atomic():
            audit_append(actor=user, action="logout", object_type="user", object_id=user.pk)
            auth_logout(request)
    return redirect("accounts:login")


def _qr_svg(uri: str) -> SafeString:
    image = qrcode.make(uri, image_factory=SvgPathFillImage, box_size=10, border=2)
    # Safe: qrcode writes only numbers and fixed markup; no text from the URI is in the SVG.
    return mark_safe(image.to_string(encoding="unicode"))  # noqa: S308


def _grouped_secret(device) -> str:
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@sensitive_post_parameters("otp_token")
@never_cache
@login_required
def totp_setup_view(request):
    user = request.user
    required = requires_two_factor(user)
    if confirmed_totp_device(user) is not None:
        return render(request, "accounts/totp_setup.html", {"already": True})
    try:
        device = totp_device_start(user=user)
    except Conflict:  # confirmed by a parallel request
        return render(request, "accounts/totp_setup.html", {"already": True})

    form = TotpConfirmForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            confirmed = totp_device_confirm(
                user=user, device=device, token=form.cleaned_data["otp_token"]
            )
        except Conflict:
            return render(request, "accounts/totp_setup.html", {"already": True})
        if confirmed:
            device.refresh_from_db()
            django_otp.login(request, device)
            return redirect(_next_url(request) or settings.LOGIN_REDIRECT_URL)
        form.add_error(
            "otp_token",
            _("That code is not right. Check the time on your phone and try the next code."),
        )

    uri = device.config_url
    context = {
        "form": form,
        "required": required,
        "otpauth_uri": uri,
        "qr_svg": _qr_svg(uri),
        "secret": _grouped_secret(device),
        "next": _next_url(request),
    }
    return render(request, "accounts/totp_setup.html", context)
