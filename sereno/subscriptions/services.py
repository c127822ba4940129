"""Every write about subscriptions: asked for (pending), confirmed (active), cancelled.

By message the reply SI confirms (sereno/subscriptions/dialogue.py); on the web a 6-digit code
sent by SMS, or a link sent by e-mail. Codes and link tokens are kept only as keyed hashes,
expire, and allow MAX_ATTEMPTS wrong tries; codes are sent at most RATE_SEND_ADDRESS times per
address and RATE_SEND_CLIENT per client (the daily-rotating keyed hash of lib.ratelimit, never
an IP address). Every message is an outbox row written in the same transaction as its cause.
"""

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from sereno.geo import gazetteer, zones
from sereno.geo.models import Area, Zone
from sereno.lib import ratelimit
from sereno.lib.crypto import keyed_hash
from sereno.lib.errors import InvalidInput, NotFound
from sereno.messaging import outbox
from sereno.messaging.contacts import contact_for
from sereno.messaging.models import Channel, Contact
from sereno.subscriptions import texts
from sereno.subscriptions.models import Subscription

S = Subscription.Status
CODE_TTL = timedelta(minutes=15)
LINK_TTL = timedelta(hours=48)
MAX_ATTEMPTS = 5
UNCONFIRMED_KEPT = timedelta(days=7)
CODE_PURPOSE = "subscription-code"
LINK_PURPOSE = "subscription-link"
UNSUBSCRIBE_SALT = "sereno.subscriptions.unsubscribe"
LANGUAGES = ("es", "en")
# A department without imported boundaries: its main town and this far around it.
DEPARTMENT_RADIUS_KM = 25.0


class Expired(InvalidInput):
    """The code or link is no longer valid (too old, too many tries): ask for a new one."""


# --- the common steps ----------------------------------------------------------------------------


def subscription_request(
    *,
    contact: Contact,
    channel: Channel,
    zone: Zone,
    language: str,
    source: str,
    expires_at=None,
) -> Subscription:
    """The contact's subscription to `zone`, pending unless already active. Asking again
    refreshes the channel, language and confirmation window (one row per contact and zone)."""
    language = language if language in LANGUAGES else "es"
    current = _current(contact, zone)
    if current is None:
        try:
            with transaction.atomic():
                return Subscription.objects.create(
                    contact=contact,
                    channel=channel,
                    zone=zone,
                    language=language,
                    source=source,
                    confirmation_expires_at=expires_at,
                )
        except IntegrityError:  # asked twice at the same moment
            current = _current(contact, zone)
    if current.status == S.PENDING:
        current.channel, current.language, current.source = channel, language, source
        current.confirmation_expires_at = expires_at
        current.save(update_fields=["channel", "language", "source", "confirmation_expires_at"])
    return current


def subscription_activate(*, subscription: Subscription) -> bool:
    """Pending → active (a conditional update: confirming twice changes nothing)."""
    now = timezone.now()
    changed = Subscription.objects.filter(pk=subscription.pk, status=S.PENDING).update(
        status=S.ACTIVE, confirmed_at=now, confirmation_hash="", confirmation_expires_at=None
    )
    subscription.refresh_from_db()
    return bool(changed)


def subscription_cancel(*, subscription: Subscription) -> bool:
    changed = (
        Subscription.objects.filter(pk=subscription.pk)
        .exclude(status=S.CANCELLED)
        .update(status=S.CANCELLED, cancelled_at=timezone.now(), confirmation_hash="")
    )
    subscription.refresh_from_db()
    return bool(changed)


def subscriptions_cancel_for(*, contact: Contact) -> int:
    """Cancel every subscription of the contact (ALERTAS NO). Returns how many."""
    return (
        Subscription.objects.filter(contact=contact)
        .exclude(status=S.CANCELLED)
        .update(status=S.CANCELLED, cancelled_at=timezone.now(), confirmation_hash="")
    )


def subscriptions_purge_unconfirmed(*, older_than: timedelta = UNCONFIRMED_KEPT) -> int:
    """Delete pending subscriptions asked for more than `older_than` ago whose code, link or
    question has expired (one asked for again is kept while its new code is valid), and the
    contacts made only for them: anyone can type someone else's number on the web page, and
    that sealed number, with the code message sent to it, is not kept for nothing. A contact
    stays if it has anything else: a message from it, a conversation, another subscription,
    an alert, a message still to send, or an opt-out to honour."""
    now = timezone.now()
    stale = Subscription.objects.filter(status=S.PENDING, created_at__lt=now - older_than).filter(
        Q(confirmation_expires_at__isnull=True) | Q(confirmation_expires_at__lt=now)
    )
    with transaction.atomic():
        contact_ids = set(stale.values_list("contact_id", flat=True))
        deleted, _rows = stale.delete()
        _forget_contacts_made_for_nothing(contact_ids)
    return deleted


def _forget_contacts_made_for_nothing(contact_ids: set[int]) -> None:
    from sereno.alerts.models import AlertRecipient
    from sereno.messaging.models import OutboundMessage

    in_flight = [OutboundMessage.Status.QUEUED, OutboundMessage.Status.SENDING]
    unused = (
        Contact.objects.filter(pk__in=contact_ids, opted_out_at__isnull=True)
        .exclude(pk__in=Subscription.objects.values("contact_id"))
        .exclude(pk__in=AlertRecipient.objects.values("contact_id"))
        .exclude(inbound__isnull=False)
        .exclude(conversations__isnull=False)
        .exclude(outbound__status__in=in_flight)
    )
    ids = list(unused.values_list("pk", flat=True))
    OutboundMessage.objects.filter(contact_id__in=ids).delete()
    Contact.objects.filter(pk__in=ids).delete()


def _current(contact: Contact, zone: Zone) -> Subscription | None:
    return (
        Subscription.objects.filter(contact=contact, zone=zone).exclude(status=S.CANCELLED).first()
    )


# --- places → zones ----------------------------------------------------------------------------


def zone_for_candidate(candidate) -> Zone:
    if candidate.precision == "municipality":
        area = Area.objects.filter(
            level=Area.Level.MUNICIPALITY,
            name=candidate.name,
            department_code=candidate.department_code,
        ).first()
        if area is not None:
            return zones.zone_for_area(area.code)
    if candidate.precision == "department":
        if Area.objects.filter(code=candidate.department_code).exists():
            return zones.zone_for_area(candidate.department_code)
        seat = _gazetteer_place(candidate)
        return zones.zone_for_place(seat, radius_km=DEPARTMENT_RADIUS_KM)
    return zones.zone_for_place(_gazetteer_place(candidate))


def _gazetteer_place(candidate) -> gazetteer.GazetteerPlace:
    """The gazetteer entry at the candidate's point (for its population), else the point."""
    for place in gazetteer.search(candidate.name, 30):
        if (place.latitude, place.longitude) == (candidate.latitude, candidate.longitude):
            return place
    return gazetteer.GazetteerPlace(
        name=candidate.name,
        latitude=candidate.latitude,
        longitude=candidate.longitude,
        department_code=candidate.department_code,
        population=0,
    )


# --- the web: a phone and a code ---------------------------------------------------------------


def sms_channel() -> Channel | None:
    """The channel web subscriptions by phone use: SERENO_ALERTS_SMS_CHANNEL (a channel's uuid)
    if set and enabled; else the organisation's own gateway first (Kannel, then an Android
    phone), then Twilio; the oldest of a kind. None when no SMS channel is enabled."""
    channels = Channel.objects.filter(enabled=True, kind__in=SMS_PREFERENCE)
    chosen = getattr(settings, "ALERTS_SMS_CHANNEL", "")
    if chosen:
        found = channels.filter(uuid=chosen).first()
        if found is not None:
            return found
    ordered = sorted(channels, key=lambda c: (SMS_PREFERENCE.index(c.kind), c.pk))
    return ordered[0] if ordered else None


SMS_PREFERENCE = ("kannel", "smssync", "twilio_sms")


def email_channel() -> Channel | None:
    return Channel.objects.filter(enabled=True, kind="email").order_by("pk").first()


def _web_contact(scheme: str, raw: str, language: str, client: str) -> Contact:
    """The contact a web request names, within the per-client (the daily-rotating keyed hash
    of lib.ratelimit, never an address) and per-address limits."""
    ratelimit.hit("subscribe.client", client, settings.RATE_SUBSCRIBE_CLIENT)
    contact = contact_for(scheme=scheme, raw=raw, language=language)
    ratelimit.hit("subscribe.address", contact.address_hash, settings.RATE_SUBSCRIBE_ADDRESS)
    return contact


def web_phone_start(*, phone: str, zone: Zone, language: str, client: str) -> Subscription:
    """Send a 6-digit code by SMS for a subscription to `zone`. The page always moves on to
    the code (whether the number exists, opted out or is already subscribed is never said)."""
    channel = sms_channel()
    if channel is None:
        raise InvalidInput(_("Subscriptions by phone are not available yet."), field="phone")
    contact = _web_contact("tel", phone, language, client)
    code = f"{secrets.randbelow(10**6):06d}"
    with transaction.atomic():
        subscription = _pending_with_secret(
            contact, channel, zone, language, code, CODE_TTL, CODE_PURPOSE
        )
        with translation.override(subscription.language):
            text = texts.web_code(code)
        outbox.enqueue(contact=contact, text=text, cause="subscription", channel=channel)
    return subscription


def web_code_confirm(*, subscription_id: int, code: str) -> Subscription:
    """Check the code typed on the page: wrong → InvalidInput (tries left), too many tries or
    too late → Expired. Right → active."""
    return _confirm(subscription_id, "".join((code or "").split()), CODE_PURPOSE)


# --- the web: an e-mail address and a link ----------------------------------------------------


def web_email_start(
    *, email: str, zone: Zone, language: str, client: str, link_base: str
) -> Subscription:
    """E-mail a confirmation link (and an unsubscribe link). `link_base` is the site's origin,
    e.g. "https://sereno.example.org"."""
    channel = email_channel()
    if channel is None:
        raise InvalidInput(_("Subscriptions by e-mail are not available yet."), field="email")
    contact = _web_contact("mailto", email, language, client)
    token = secrets.token_urlsafe(24)
    with transaction.atomic():
        subscription = _pending_with_secret(
            contact, channel, zone, language, token, LINK_TTL, LINK_PURPOSE
        )
        confirm = f"{link_base}/alertas/correo/{subscription.pk}/{token}/"
        with translation.override(subscription.language):
            text = texts.web_email(zone.label, confirm, unsubscribe_url(subscription, link_base))
        outbox.enqueue(contact=contact, text=text, cause="subscription", channel=channel)
    return subscription


def web_email_confirm(*, subscription_id: int, token: str) -> Subscription:
    return _confirm(subscription_id, (token or "").strip(), LINK_PURPOSE)


def _pending_with_secret(contact, channel, zone, language, secret, ttl, purpose) -> Subscription:
    subscription = subscription_request(
        contact=contact,
        channel=channel,
        zone=zone,
        language=language,
        source=Subscription.Source.WEB,
    )
    subscription.confirmation_hash = keyed_hash(f"{subscription.pk}:{secret}", purpose=purpose)
    subscription.confirmation_expires_at = timezone.now() + ttl
    subscription.confirmation_attempts = 0
    subscription.save(
        update_fields=["confirmation_hash", "confirmation_expires_at", "confirmation_attempts"]
    )
    return subscription


def _confirm(subscription_id: int, secret: str, purpose: str) -> Subscription:
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().filter(pk=subscription_id).first()
        if subscription is None:
            raise NotFound(_("This confirmation is not valid. Please start again."))
        if subscription.status == S.ACTIVE and not subscription.confirmation_hash:
            return subscription  # the link opened twice
        if not _still_valid(subscription):
            raise Expired(_("This code or link has expired. Please ask for a new one."))
        expected = keyed_hash(f"{subscription.pk}:{secret}", purpose=purpose)
        if hmac.compare_digest(expected, subscription.confirmation_hash):
            subscription.status = S.ACTIVE
            subscription.confirmed_at = timezone.now()
            subscription.confirmation_hash = ""
            subscription.confirmation_expires_at = None
            subscription.save(
                update_fields=[
                    "status", "confirmed_at", "confirmation_hash", "confirmation_expires_at"
                ]
            )  # fmt: skip
            return subscription
        subscription.confirmation_attempts += 1
        subscription.save(update_fields=["confirmation_attempts"])
    left = MAX_ATTEMPTS - subscription.confirmation_attempts
    if left <= 0:
        raise Expired(_("Too many wrong codes. Please ask for a new one."))
    raise InvalidInput(
        _("That code is not right. %(left)d tries left.") % {"left": left}, field="code"
    )


def _still_valid(subscription: Subscription) -> bool:
    return bool(
        subscription.confirmation_hash
        and subscription.confirmation_expires_at
        and subscription.confirmation_expires_at > timezone.now()
        and subscription.confirmation_attempts < MAX_ATTEMPTS
    )


# --- unsubscribing by link ---------------------------------------------------------------------


@dataclass(frozen=True)
class Unsubscribed:
    subscription: Subscription
    changed: bool


def unsubscribe_token(subscription: Subscription) -> str:
    return signing.dumps(subscription.pk, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_url(subscription: Subscription, link_base: str) -> str:
    """The link every e-mail carries (the fan-out's too)."""
    return f"{link_base}/alertas/baja/{unsubscribe_token(subscription)}/"


def subscription_for_token(token: str) -> Subscription:
    try:
        pk = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature as exc:
        raise NotFound(_("This unsubscribe link is not valid.")) from exc
    subscription = Subscription.objects.select_related("zone").filter(pk=pk).first()
    if subscription is None:
        raise NotFound(_("This unsubscribe link is not valid."))
    return subscription


def unsubscribe_by_token(*, token: str) -> Unsubscribed:
    subscription = subscription_for_token(token)
    return Unsubscribed(subscription, subscription_cancel(subscription=subscription))
