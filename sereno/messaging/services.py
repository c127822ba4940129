"""Inbound: store first and acknowledge; decide what the message is later.

`inbound_receive` is what a webhook calls. It only stores: the contact is looked up by the
hash of its address (created on first sight) and the message is inserted with
`ON CONFLICT DO NOTHING` on (channel, provider id), so a gateway that retries gets the first
row back and nothing happens twice. Routing (opt-out/opt-in/help keywords, a conversation that
collects a report, a reply to staff) runs afterwards in a Huey task, enqueued when the row is
committed (`tasks.inbound_route_task`), as RapidPro's courier hands messages to mailroom.

`inbound_route_pending` (the batch router, what the worker runs when Redis is configured)
routes the pending messages of many contacts in one transaction, each contact's in id order
under its row lock (taken with SKIP LOCKED, so concurrent routers split the contacts);
`inbound_route_contact` routes every pending message of one contact in id order while holding
that contact's lock (a row lock on PostgreSQL; SQLite's BEGIN IMMEDIATE serialises writers),
so that two quick answers from one phone are never routed out of order or at the same time,
each in a savepoint of its own that also writes its replies to the outbox. A message whose
task was lost (a crash, a queue flushed) stays *pending* and the periodic
`inbound_retry_pending` routes it.

With Huey in immediate mode (the tests, SERENO_QUEUE_IMMEDIATE) routing happens inline, as
does `inbound_receive(..., route="inline")`.
"""

import functools
import logging
from contextlib import nullcontext
from datetime import timedelta
from typing import Literal

from django.db import connection, transaction
from django.utils import timezone

from sereno.lib.db import by_ids, column, columns, for_update, select_in, table
from sereno.messaging.contacts import contact_for
from sereno.messaging.models import Channel, Contact, InboundMessage
from sereno.messaging.transports import transport_class
from sereno.messaging.transports.base import Incoming

log = logging.getLogger(__name__)

MAX_TEXT = 4000
# How many pending messages of one contact one task routes (the rest: the next task).
ROUTE_BATCH = 200
# The batch router: how many pending messages (of many contacts) one transaction routes.
ROUTER_BATCH = 100
# Set while a batch router task is queued: the webhooks queue no other. Cleared by the task
# before it reads the pending rows (a message stored after that queues the next task); the
# expiry covers a task lost between the two.
ROUTER_SCHEDULED_KEY = "sereno:inbound:router-scheduled"
ROUTER_SCHEDULED_SECONDS = 5

# One statement: no existence SELECT first, no savepoint (PostgreSQL, and SQLite >= 3.35).
_INSERT = (
    "INSERT INTO messaging_inboundmessage"
    " (channel_id, external_id, contact_id, text, received_at, status, outcome, error)"
    " VALUES (%s, %s, %s, %s, %s, %s, '', '')"
    " ON CONFLICT (channel_id, external_id) DO NOTHING RETURNING id"
)


def _route_inline(route: str) -> bool:
    if route == "inline":
        return True
    if route == "deferred":
        return False
    from huey.contrib.djhuey import HUEY

    return bool(HUEY.immediate)


def _schedule(contact_id: int) -> None:
    """Route this contact's pending messages in the worker, once the row is committed: with
    Redis, by the batch router (one task at a time is scheduled, whatever the rate);
    without, by one task per contact."""
    from sereno.lib.tokenbucket import redis_client
    from sereno.messaging.tasks import inbound_route_pending_task, inbound_route_task

    def enqueue() -> None:
        try:
            client = redis_client()
            if client is None:
                inbound_route_task(contact_id)
            elif client.set(ROUTER_SCHEDULED_KEY, b"1", nx=True, ex=ROUTER_SCHEDULED_SECONDS):
                try:
                    inbound_route_pending_task()
                except Exception:
                    client.delete(ROUTER_SCHEDULED_KEY)
                    raise
        except Exception:
            # The queue is down: the periodic retry picks the message up.
            log.exception("could not queue routing for contact %s; the retry will", contact_id)

    transaction.on_commit(enqueue)


def inbound_receive(
    *,
    channel: Channel,
    incoming: Incoming,
    route: Literal["auto", "inline", "deferred"] = "auto",
) -> tuple[InboundMessage, bool]:
    """Store one inbound message (created=True) or return the one already stored for this
    provider id (created=False), and have it routed: in the worker ("deferred"), in this call
    ("inline"), or as the queue is configured ("auto": inline when Huey is immediate).
    Routing errors never lose the row."""
    scheme = transport_class(channel.kind).scheme
    contact = contact_for(scheme=scheme, raw=incoming.sender, channel=channel)
    received_at = incoming.received_at or timezone.now()
    field = InboundMessage._meta.get_field("received_at")
    params = [
        channel.pk,
        incoming.external_id,
        contact.pk,
        (incoming.text or "")[:MAX_TEXT],
        field.get_db_prep_value(received_at, connection),
        InboundMessage.Status.PENDING,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, params)
        row = cursor.fetchone()
    inline = _route_inline(route)
    if row is None:
        existing = InboundMessage.objects.get(channel=channel, external_id=incoming.external_id)
        if existing.status == InboundMessage.Status.PENDING:
            if inline:
                inbound_route_contact(contact_id=existing.contact_id)
                existing.refresh_from_db()
            else:
                _schedule(existing.contact_id)
        return existing, False
    message = InboundMessage(
        pk=row[0], channel=channel, external_id=incoming.external_id, contact=contact,
        text=params[3], received_at=received_at, status=InboundMessage.Status.PENDING,
    )  # fmt: skip
    message._state.adding = False
    if inline:
        inbound_route_contact(contact_id=contact.pk)
        message.refresh_from_db()
    else:
        _schedule(contact.pk)
    return message, True


def inbound_route_contact(*, contact_id: int, limit: int = ROUTE_BATCH) -> int:
    """Route the pending messages of one contact, oldest first, holding the contact's lock.
    Returns how many were routed. Safe to call again and from several workers at once."""
    from sereno.messaging.conversations import route

    try:
        return _route_contact(contact_id, limit, route)
    except Exception:
        # Rolled back: the row stays pending and is retried; the log names the contact only.
        log.exception("inbound messages of contact %s not processed; will retry", contact_id)
        return 0


def _route_contact(contact_id: int, limit: int, route) -> int:
    routed = 0
    with transaction.atomic():
        # PostgreSQL: the row lock; a second worker for this contact waits here and then finds
        # the messages handled. SQLite: the transaction began IMMEDIATE (settings).
        contact = Contact.objects.select_for_update().filter(pk=contact_id).first()
        if contact is None:
            return 0
        pending = list(
            InboundMessage.objects.filter(
                contact_id=contact_id, status=InboundMessage.Status.PENDING
            )
            .select_related("channel")
            .order_by("pk")[:limit]
        )
        # One message (the usual case): the transaction itself is the unit, no savepoint.
        alone = len(pending) == 1
        for message in pending:
            message.contact = contact
            try:
                with transaction.atomic() if not alone else nullcontext():
                    _route_one(message, route)
                routed += 1
            except Exception:
                if alone:
                    raise
                # The savepoint is rolled back: the row stays pending and is retried; the log
                # names the row, never its content.
                log.exception("inbound message %s could not be processed; will retry", message.pk)
                contact.refresh_from_db()
    return routed


def _route_one(message: InboundMessage, route) -> None:
    # No claim first: every router holds the contact's lock and read the row as pending
    # under it, so nobody else routes this message; the final UPDATE marks it handled.
    message.outcome = route(message, contact_locked=True) or ""
    InboundMessage.objects.filter(pk=message.pk).update(
        status=InboundMessage.Status.HANDLED,
        handled_at=timezone.now(),
        outcome=message.outcome,
        conversation=message.conversation_id,
        report=message.report_id,
    )


def inbound_route_pending(*, limit: int = ROUTER_BATCH) -> int:
    """Route pending messages of many contacts in one transaction (the batch router): the
    oldest `limit` pending messages' contacts are locked (SKIP LOCKED on PostgreSQL: another
    router takes other contacts; SQLite's write lock serialises), then all their pending
    messages are routed in id order, their open conversations and staff threads read at once,
    and the rows marked handled by one statement. Without savepoints: if one message fails,
    the whole batch is rolled back and its contacts are routed one by one
    (`inbound_route_contact`, a savepoint per message). Returns how many were routed."""
    from sereno.messaging.conversations import route

    try:
        with transaction.atomic():
            return _route_batch(limit, route)
    except Exception:
        # Rolled back; the log names no message, the per-contact pass below names the row.
        log.exception("a batch of inbound messages failed; routing its contacts one by one")
    contact_ids = [contact.pk for contact in _oldest_pending(limit, lock=False)]
    return sum(inbound_route_contact(contact_id=contact_id) for contact_id in contact_ids)


def _oldest_pending(limit: int, *, lock: bool):
    """Contacts of the oldest pending messages (among a few times `limit` of them, so that a
    contact another router holds does not hide the rest), locked with SKIP LOCKED or not."""
    sql = _oldest_pending_sql(connection.vendor, limit, lock)
    return Contact.objects.raw(sql, [InboundMessage.Status.PENDING])


@functools.cache
def _oldest_pending_sql(vendor: str, limit: int, lock: bool) -> str:
    """Written once: at a steady pace batches are small, and the ORM compiling their
    statements again was a third of a one-message batch's time (docs/benchmarks.md)."""
    oldest = (
        f"SELECT {column(InboundMessage, 'contact')} FROM {table(InboundMessage)}"  # noqa: S608
        f" WHERE {column(InboundMessage, 'status')} = %s"
        f" ORDER BY {column(InboundMessage, 'pk')} LIMIT {int(limit) * 4}"
    )
    pk = column(Contact, "pk")
    # Names come from the models' metadata; the status is a parameter.
    return (
        f"SELECT {columns(Contact)} FROM {table(Contact)} WHERE {pk} IN ({oldest})"  # noqa: S608
        f" ORDER BY {pk} LIMIT {int(limit)}{for_update(skip_locked=True) if lock else ''}"
    )


def _route_batch(limit: int, route) -> int:
    from sereno.messaging.conversations import Prefetched

    contacts = {contact.pk: contact for contact in _oldest_pending(limit, lock=True)}
    if not contacts:
        return 0
    ids = list(contacts)
    # Oldest first; the rest (each contact's later ones): the next batch.
    sql = select_in(InboundMessage, "contact", len(ids), equal=("status",), order_by=("pk",),
                    limit=limit * 4)  # fmt: skip
    pending = list(InboundMessage.objects.raw(sql, [*ids, InboundMessage.Status.PENDING]))
    # One instance per contact and channel: what one message changed (opted out, a language)
    # the next one of the same contact sees.
    channels = by_ids(Channel, (message.channel_id for message in pending))
    prefetched = Prefetched(ids, timezone.now(), channels=channels)
    done = []
    for message in pending:
        message.contact = contacts[message.contact_id]
        message.channel = channels[message.channel_id]
        message.outcome = route(message, contact_locked=True, prefetched=prefetched) or ""
        done.append(message)
    _mark_handled(done)
    return len(done)


def _mark_handled(messages: list[InboundMessage]) -> None:
    """One prepared UPDATE for every routed row (executemany)."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    names = ("status", "handled_at", "outcome", "conversation", "report")
    assignments = ", ".join(f"{column(InboundMessage, name)} = %s" for name in names)
    # Names come from the model's own metadata; every value is a parameter.
    pk = column(InboundMessage, "pk")
    sql = f"UPDATE {table(InboundMessage)} SET {assignments} WHERE {pk} = %s"  # noqa: S608
    params = [
        (InboundMessage.Status.HANDLED, now, m.outcome, m.conversation_id, m.report_id, m.pk)
        for m in messages
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def inbound_process(*, message_id: int) -> None:
    """Route one stored message (with any older pending message of its contact, first).
    Safe to call again (a handled row is left alone)."""
    contact_id = (
        InboundMessage.objects.filter(pk=message_id, status=InboundMessage.Status.PENDING)
        .values_list("contact_id", flat=True)
        .first()
    )
    if contact_id is not None:
        inbound_route_contact(contact_id=contact_id)


def inbound_retry_pending(*, older_than_seconds: int = 30, limit: int = 500) -> int:
    """Route messages left pending (a task lost, a crash). Returns how many contacts were
    tried."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    contact_ids = list(
        InboundMessage.objects.filter(status=InboundMessage.Status.PENDING, received_at__lt=cutoff)
        .order_by("contact_id")
        .values_list("contact_id", flat=True)
        .distinct()[:limit]
    )
    for contact_id in contact_ids:
        try:
            inbound_route_contact(contact_id=contact_id)
        except Exception:
            log.exception("pending messages of contact %s could not be routed", contact_id)
    return len(contact_ids)


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
