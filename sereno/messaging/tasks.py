"""Periodic upkeep of the messaging app (Huey's scheduler, run by `sereno worker`).

Each task calls one service; all are idempotent and cheap when there is nothing to do.
"""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

# email_tasks: Huey loads each app's `tasks` module; importing it registers the mailbox poll.
from sereno.messaging import email_tasks, outbox, services  # noqa: F401

log = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*"))
@lock_task("messaging-inbound-retry")
def inbound_retry_pending_task() -> int:
    """Inbound messages left pending by a crash between storing and routing."""
    return services.inbound_retry_pending()


@db_periodic_task(crontab(minute="*"))
@lock_task("messaging-release-stale-leases")
def release_stale_leases_task() -> int:
    """Rows claimed by a sender that died go back to the queue (or fail when spent)."""
    count = outbox.release_stale_leases()
    if count:
        log.warning("%d outbound messages had a stale lease (a sender died)", count)
    return count


@db_periodic_task(crontab(minute="*"))
@lock_task("messaging-expire-outbound")
def expire_outbound_task() -> int:
    """Queued rows past their validity end as expired, even on a channel no sender serves."""
    return outbox.expire_due()


@db_periodic_task(crontab(minute="*/5"))
@lock_task("messaging-expire-conversations")
def expire_conversations_task() -> int:
    """Reports in progress left unanswered past SERENO_CONVERSATION_IDLE_MINUTES are dropped
    (the next message from their contact would also close them, lazily)."""
    from sereno.messaging.conversations import conversations_expire

    return conversations_expire()


@db_task()
def inbound_route_task(contact_id: int) -> int:
    """Route a contact's pending inbound messages (enqueued by the webhook once it has stored
    one, when there is no Redis for the batch router). Several tasks for one contact serialise
    on the contact's lock; the later ones find nothing left to do."""
    return services.inbound_route_contact(contact_id=contact_id)


@db_task()
def inbound_route_pending_task() -> None:
    """The batch router (queued by the webhook, one at a time): routes pending inbound
    messages of many contacts per transaction until none is left that another router does
    not hold."""
    from sereno.lib.tokenbucket import redis_client

    client = redis_client()
    if client is not None:
        # Before reading: a message stored from now on queues the next task itself.
        client.delete(services.ROUTER_SCHEDULED_KEY)
    while services.inbound_route_pending():
        pass
