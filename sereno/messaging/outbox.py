"""The transactional outbox: `enqueue` writes a message as a row in the caller's transaction.

Senders (see `sender.py`) claim rows per channel, send them through the channel's transport
and record the result; delivery reports (`status_record`) move a row on:
queued → sending → sent → delivered | failed (or expired past its validity).
"""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from sereno.lib import gsm7
from sereno.messaging.models import Channel, Contact, DeliveryEvent, OutboundMessage
from sereno.messaging.transports import transport_class
from sereno.messaging.transports.base import StatusUpdate


def enqueue(
    *,
    contact: Contact,
    text: str,
    cause: str,
    channel: Channel | None = None,
    dedupe_key: str | None = None,
    valid_until: datetime | None = None,
    priority: int = 0,
    report=None,
    author=None,
    in_reply_to=None,
    even_if_opted_out: bool = False,
) -> OutboundMessage | None:
    """Write one message to send. Returns None when the contact opted out (unless this is the
    confirmation of the opt-out itself) or has no channel. With a `dedupe_key`, a second call
    returns the first row: at most one message per cause."""
    if contact.opted_out_at is not None and not even_if_opted_out:
        return None
    channel = channel or contact.last_channel
    if channel is None:
        return None
    if dedupe_key:
        existing = OutboundMessage.objects.filter(dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing
    encoding, segments = "text", 1
    if transport_class(channel.kind).is_sms:
        encoded = gsm7.encode(text)
        text, encoding, segments = encoded.text, encoded.encoding, encoded.segments
    now = timezone.now()
    row = OutboundMessage(
        channel=channel,
        contact=contact,
        text=text,
        encoding=encoding,
        segments=segments,
        cause=cause,
        dedupe_key=dedupe_key or None,
        valid_until=valid_until,
        priority=priority,
        next_attempt_at=now,
        created_at=now,
        report=report,
        author=author,
        in_reply_to=in_reply_to,
    )
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        if not dedupe_key:
            raise
        return OutboundMessage.objects.get(dedupe_key=dedupe_key)
    return row


def cancel_queued_for(*, contact: Contact) -> int:
    """An opted-out contact gets nothing more: queued rows end as failed ("opted out")."""
    now = timezone.now()
    return OutboundMessage.objects.filter(
        contact=contact, status=OutboundMessage.Status.QUEUED
    ).update(status=OutboundMessage.Status.FAILED, failed_at=now, error="opted out")


def status_record(*, channel: Channel, update: StatusUpdate) -> OutboundMessage | None:
    """Apply a delivery report to its row (found by our uuid or the provider's id)."""
    rows = OutboundMessage.objects.filter(channel=channel)
    if update.message_uuid:
        rows = rows.filter(uuid=update.message_uuid)
    elif update.provider_id:
        rows = rows.filter(provider_id=update.provider_id)
    else:
        return None
    message = rows.first()
    if message is None:
        return None
    now = timezone.now()
    with transaction.atomic():
        DeliveryEvent.objects.create(
            message=message,
            status=update.status,
            code=update.code[:40],
            detail=update.detail[:300],
            at=now,
        )
        S = OutboundMessage.Status
        if update.status == "delivered":
            OutboundMessage.objects.filter(pk=message.pk).update(
                status=S.DELIVERED, delivered_at=now
            )
        elif update.status == "failed":
            OutboundMessage.objects.filter(pk=message.pk).exclude(status=S.DELIVERED).update(
                status=S.FAILED, failed_at=now, error=(update.detail or update.code)[:300]
            )
        elif update.status == "sent":
            OutboundMessage.objects.filter(pk=message.pk, status__in=[S.SENDING, S.QUEUED]).update(
                status=S.SENT, sent_at=now
            )
    message.refresh_from_db()
    return message
