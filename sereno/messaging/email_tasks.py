"""Inbound e-mail: poll every enabled e-mail channel's mailbox (Huey's scheduler, each minute;
`sereno poll-email` does the same by hand or in a loop)."""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from sereno.messaging.models import Channel
from sereno.messaging.transports import transport_for

log = logging.getLogger(__name__)


def poll_mailboxes(*, channels=None) -> dict[int, int]:
    """{channel id: new messages} for each enabled e-mail channel (or those given). A mailbox
    that cannot be reached is logged (by channel, never by address) and skipped."""
    if channels is None:
        channels = Channel.objects.filter(kind=Channel.Kind.EMAIL, enabled=True)
    counts = {}
    for channel in channels:
        try:
            counts[channel.pk] = transport_for(channel).poll()
        except Exception as error:  # unreachable, refused login, broken mail: say which, go on
            log.warning("mailbox of channel %s not polled: %s", channel.pk, type(error).__name__)
            counts[channel.pk] = -1
    return counts


@db_periodic_task(crontab(minute="*"))
@lock_task("messaging-poll-email")
def poll_email_task() -> dict[int, int]:
    return poll_mailboxes()
