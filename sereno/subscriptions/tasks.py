"""Periodic upkeep of subscriptions (Huey's scheduler, run by `sereno worker`)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from sereno.subscriptions import services


@db_periodic_task(crontab(minute="23"))
@lock_task("subscriptions-purge-unconfirmed")
def purge_unconfirmed_task() -> int:
    """Requests never confirmed are deleted after a week: nothing is kept about a number or
    address someone typed and nobody confirmed."""
    return services.subscriptions_purge_unconfirmed()
