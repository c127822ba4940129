"""Periodic retention: warn recipients 72 h before a tip expires, then delete it."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from sereno.tips.services import tips_expire, tips_warn


@db_periodic_task(crontab(minute="*/15"))
def tips_retention_task() -> None:
    tips_warn()
    tips_expire()
