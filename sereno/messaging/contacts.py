"""Addresses of people: normalised, hashed to be found again, sealed to be used.

Phone numbers become E.164 with `phonenumbers` (default region from SERENO_PHONE_REGION, HN);
Telegram chat ids and e-mail addresses are normalised by their own rules. The address itself
is never stored in clear and never shown to staff.
"""

from datetime import timedelta

import phonenumbers
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from sereno.lib.crypto import keyed_hash, seal_text
from sereno.lib.db import insert_or_nothing, select_in
from sereno.lib.errors import InvalidInput
from sereno.messaging.models import CONTACT_ADDRESS_PURPOSE, Contact

HASH_PURPOSE = "contact-address"
# last_seen_at is kept to the minute: the webhook writes it at most once a minute per contact.
SEEN_RESOLUTION = timedelta(minutes=1)


def normalise_phone(raw: str, *, region: str | None = None) -> str:
    """E.164 ("+50499887766") or InvalidInput. Accepts "whatsapp:+504…" and "tel:" prefixes."""
    value = (raw or "").strip()
    for prefix in ("whatsapp:", "tel:"):
        if value.lower().startswith(prefix):
            value = value[len(prefix) :]
    region = region or getattr(settings, "PHONE_REGION", "HN")
    # Read in the default region first; then as international without the "+" (WhatsApp Cloud
    # and some gateways send "50499887766").
    candidates = [(value, region)]
    if value.isdigit() and not value.startswith("0"):
        candidates.append(("+" + value, None))
    number = None
    for text, reg in candidates:
        try:
            parsed = phonenumbers.parse(text, reg)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(parsed):
            number = parsed
            break
    if number is None:
        raise InvalidInput(_("Not a phone number."), field="address")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise(scheme: str, raw: str) -> str:
    if scheme == Contact.Scheme.TEL:
        return normalise_phone(raw)
    value = (raw or "").strip()
    if scheme == Contact.Scheme.MAILTO:
        value = value.lower()
        if "@" not in value or len(value) > 254:
            raise InvalidInput(_("Not an e-mail address."), field="address")
        return value
    if scheme == Contact.Scheme.TELEGRAM:
        if not value.lstrip("-").isdigit():
            raise InvalidInput(_("Not a Telegram chat id."), field="address")
        return value
    raise InvalidInput(_("Unknown address scheme."), field="scheme")


def address_hash(scheme: str, normalised: str) -> str:
    return keyed_hash(f"{scheme}:{normalised}", purpose=HASH_PURPOSE)


def find_contact(scheme: str, raw: str) -> Contact | None:
    normalised = normalise(scheme, raw)
    return Contact.objects.filter(address_hash=address_hash(scheme, normalised)).first()


def _by_hash(digest: str) -> Contact | None:
    """The contact by its hash, by a raw statement built once: the ORM compiling the same
    SELECT for every inbound message cost a sixth of the webhook's CPU."""
    sql = select_in(Contact, "address_hash", 1)
    return next(iter(Contact.objects.raw(sql, [digest])), None)


def contact_for(*, scheme: str, raw: str, channel=None, language: str = "") -> Contact:
    """The contact for this address, created on first sight. Safe under concurrency."""
    normalised = normalise(scheme, raw)
    digest = address_hash(scheme, normalised)
    now = timezone.now()
    contact = _by_hash(digest)
    if contact is None:
        contact = Contact(
            scheme=scheme,
            address_hash=digest,
            address_encrypted=seal_text(normalised, purpose=CONTACT_ADDRESS_PURPOSE),
            language=language or (channel.language if channel else "es"),
            last_channel=channel,
            last_seen_at=now,
        )
        # One statement (no transaction of its own); another request may have created it.
        if insert_or_nothing(contact, conflict="address_hash"):
            return contact
        contact = Contact.objects.get(address_hash=digest)
    if channel is not None and (
        contact.last_channel_id != channel.pk
        or contact.last_seen_at is None
        or now - contact.last_seen_at >= SEEN_RESOLUTION
    ):
        # Only when it changes, or at most once a minute: a write per message would be the
        # webhook's most expensive statement.
        contact.last_channel = channel
        contact.last_seen_at = now
        Contact.objects.filter(pk=contact.pk).update(last_channel=channel, last_seen_at=now)
    return contact
