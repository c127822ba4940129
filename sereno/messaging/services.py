"""Inbound: store first, then decide what the message is.

`inbound_receive` stores the normalised message in its own short transaction and is idempotent
on (channel, provider id): a gateway that retries gets the first row back and nothing happens
twice. `inbound_process` then routes it (opt-out/opt-in/help keywords, a conversation that
collects a report, or a reply to staff) in a second transaction that also writes any replies
to the outbox. A crash between the two leaves a *pending* row that `inbound_retry_pending`
picks up again.
"""

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from sereno.messaging.contacts import contact_for
from sereno.messaging.models import Channel, Contact, InboundMessage
from sereno.messaging.transports import transport_class
from sereno.messaging.transports.base import Incoming

log = logging.getLogger(__name__)

MAX_TEXT = 4000


def inbound_receive(*, channel: Channel, incoming: Incoming) -> tuple[InboundMessage, bool]:
    """Store one inbound message (created=True) or return the one already stored for this
    provider id (created=False). Then process it; processing errors never lose the row."""
    existing = InboundMessage.objects.filter(
        channel=channel, external_id=incoming.external_id
    ).first()
    if existing is not None:
        if existing.status == InboundMessage.Status.PENDING:
            inbound_process(message_id=existing.pk)
        return existing, False
    scheme = transport_class(channel.kind).scheme
    contact = contact_for(scheme=scheme, raw=incoming.sender, channel=channel)
    try:
        with transaction.atomic():
            message = InboundMessage.objects.create(
                channel=channel,
                external_id=incoming.external_id,
                contact=contact,
                text=(incoming.text or "")[:MAX_TEXT],
                received_at=incoming.received_at or timezone.now(),
            )
    except IntegrityError:
        return InboundMessage.objects.get(channel=channel, external_id=incoming.external_id), False
    inbound_process(message_id=message.pk)
    message.refresh_from_db()
    return message, True


def inbound_process(*, message_id: int) -> None:
    """Route one stored message, once. Safe to call again (a handled row is left alone)."""
    from sereno.messaging.conversations import route

    try:
        with transaction.atomic():
            # The claim is the transaction's first write: it takes the row (PostgreSQL) or the
            # database (SQLite) so that two processes never route the same message; a crash
            # rolls it back to pending.
            claimed = InboundMessage.objects.filter(
                pk=message_id, status=InboundMessage.Status.PENDING
            ).update(status=InboundMessage.Status.HANDLED, handled_at=timezone.now())
            if not claimed:
                return
            message = InboundMessage.objects.select_related("contact", "channel").get(pk=message_id)
            message.outcome = route(message) or ""
            message.save(update_fields=["outcome", "conversation", "report"])
    except Exception:
        # The row stays pending and is retried; the log names the row, never its content.
        log.exception("inbound message %s could not be processed; will retry", message_id)


def inbound_retry_pending(*, older_than_seconds: int = 30, limit: int = 500) -> int:
    """Process messages left pending by a crash. Returns how many were tried."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    ids = list(
        InboundMessage.objects.filter(
            status=InboundMessage.Status.PENDING, received_at__lt=cutoff
        ).values_list("pk", flat=True)[:limit]
    )
    for message_id in ids:
        inbound_process(message_id=message_id)
    return len(ids)


def contact_opt_out(*, contact: Contact) -> bool:
    """Opt out on every channel at once. Queued messages to this contact are cancelled.
    Returns False if the contact had already opted out."""
    from sereno.messaging.outbox import cancel_queued_for

    now = timezone.now()
    changed = Contact.objects.filter(pk=contact.pk, opted_out_at__isnull=True).update(
        opted_out_at=now
    )
    contact.opted_out_at = contact.opted_out_at or now
    cancel_queued_for(contact=contact)
    return bool(changed)


def contact_opt_in(*, contact: Contact) -> bool:
    changed = Contact.objects.filter(pk=contact.pk, opted_out_at__isnull=False).update(
        opted_out_at=None
    )
    contact.opted_out_at = None
    return bool(changed)
