"""Channels as an admin configures them: webhook URLs to paste into a provider, and the writes
(create, configure, enable) with their permission check and audit entry.

Credentials live sealed in `Channel.config`; secret fields are write-only (a blank value keeps
the stored one) and never leave the server again, not even in the audit log.
"""

import hmac
import secrets

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from sereno.accounts.audit import audit_append
from sereno.lib.errors import InvalidInput, NotAllowed
from sereno.messaging.models import Channel
from sereno.messaging.transports import transport_class

MANAGE = "messaging.manage_channels"


# --- URLs --------------------------------------------------------------------------------------


def public_base(request=None) -> str:
    """SERENO_PUBLIC_URL, else what this request says the host is (only right without a proxy
    that rewrites the host or scheme)."""
    if settings.PUBLIC_URL:
        return settings.PUBLIC_URL
    if request is not None:
        return f"{request.scheme}://{request.get_host()}"
    return ""


def hook_url(channel: Channel, endpoint: str = "", *, request=None) -> str:
    if endpoint:
        path = reverse("messaging:hook-endpoint", args=[channel.kind, channel.uuid, endpoint])
    else:
        path = reverse("messaging:hook", args=[channel.kind, channel.uuid])
    return public_base(request) + path


def request_public_url(request) -> str:
    """The full URL the provider called, as the provider saw it (signatures cover it)."""
    if settings.PUBLIC_URL:
        return settings.PUBLIC_URL + request.get_full_path()
    return request.build_absolute_uri()


def same_secret(given: str | bytes | None, expected: str | bytes | None) -> bool:
    """Constant-time comparison; an unset secret never matches."""
    if not given or not expected:
        return False
    if isinstance(given, str):
        given = given.encode()
    if isinstance(expected, str):
        expected = expected.encode()
    return hmac.compare_digest(given, expected)


# --- fields ------------------------------------------------------------------------------------


def config_fields(kind: str) -> tuple[str, ...]:
    return tuple(getattr(transport_class(kind), "config_fields", ()))


def secret_fields(kind: str) -> tuple[str, ...]:
    return tuple(getattr(transport_class(kind), "secret_fields", ()))


def required_fields(kind: str) -> tuple[str, ...]:
    cls = transport_class(kind)
    return tuple(getattr(cls, "required_fields", getattr(cls, "config_fields", ())))


def generated_fields(kind: str) -> tuple[str, ...]:
    """Secrets we make up ourselves when left blank (shared secrets the admin pastes into the
    provider, e.g. a webhook secret token)."""
    return tuple(getattr(transport_class(kind), "generated_fields", ()))


def missing_fields(channel: Channel) -> list[str]:
    config = channel.config
    return [name for name in required_fields(channel.kind) if not str(config.get(name, "")).strip()]


# --- writes ------------------------------------------------------------------------------------


def _check(actor) -> None:
    if actor is None or not actor.has_perm(MANAGE):
        raise NotAllowed(_("You are not allowed to configure channels."))


def channel_create(
    *, actor, kind: str, name: str, address: str = "", language: str = "es"
) -> Channel:
    """A new channel, disabled and without credentials."""
    _check(actor)
    if kind not in Channel.Kind.values:
        raise InvalidInput(_("Unknown kind of channel."), field="kind")
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_("Give the channel a name."), field="name")
    with transaction.atomic():
        channel = Channel.objects.create(
            kind=kind, name=name[:100], address=(address or "").strip()[:200], language=language
        )
        channel.set_config({})
        channel.save(update_fields=["config_encrypted"])
        audit_append(
            actor=actor, action="channel.create", object_type="channel", object_id=channel.pk,
            after={"kind": kind, "name": channel.name},
        )  # fmt: skip
    return channel


def channel_configure(
    *,
    actor,
    channel: Channel,
    values: dict,
    name: str | None = None,
    address: str | None = None,
    enabled: bool | None = None,
    rate_per_second: float | None = None,
    burst: int | None = None,
    price_per_segment=None,
    currency: str | None = None,
) -> Channel:
    """Store credentials (a blank secret keeps the stored one; a blank generated secret is
    made up) and switch the channel on or off. A channel with missing credentials stays off."""
    _check(actor)
    known = config_fields(channel.kind)
    secret = set(secret_fields(channel.kind))
    with transaction.atomic():
        channel = Channel.objects.select_for_update().get(pk=channel.pk)
        config = channel.config
        changed = []
        for field in known:
            if field not in values:
                continue
            value = str(values[field] or "").strip()
            if field in secret and not value:
                continue
            if config.get(field, "") != value:
                config[field] = value
                changed.append(field)
        for field in generated_fields(channel.kind):
            if not config.get(field):
                config[field] = secrets.token_urlsafe(32)
                changed.append(field)
        channel.set_config(config)
        if name is not None and name.strip():
            channel.name = name.strip()[:100]
        if address is not None:
            channel.address = address.strip()[:200]
        if rate_per_second is not None:
            if rate_per_second <= 0:
                raise InvalidInput(_("The rate must be above zero."), field="rate_per_second")
            channel.rate_per_second = rate_per_second
        if burst is not None:
            if burst < 1:
                raise InvalidInput(_("The burst must be at least 1."), field="burst")
            channel.burst = burst
        if price_per_segment is not None:
            if price_per_segment < 0:
                raise InvalidInput(_("The price cannot be negative."), field="price_per_segment")
            channel.price_per_segment = price_per_segment
        if currency is not None:
            code = currency.strip().upper()
            if len(code) != 3 or not code.isalpha():
                raise InvalidInput(_("A currency is three letters (HNL, USD)."), field="currency")
            channel.currency = code
        if enabled is not None:
            if enabled and missing_fields(channel):
                raise InvalidInput(
                    _("Fill in every credential before switching the channel on."),
                    field="enabled",
                    details={"missing": missing_fields(channel)},
                )
            channel.enabled = enabled
        channel.save()
        # Field names only: never a credential's value.
        audit_append(
            actor=actor, action="channel.configure", object_type="channel",
            object_id=channel.pk, after={"fields": sorted(changed), "enabled": channel.enabled},
        )  # fmt: skip
    return channel
