"""Background work of the alerts app (Huey; `sereno worker` or `sereno run`)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from sereno.alerts import fanout


@db_task()
def fan_out_task(alert_id: int) -> int:
    """Write the outbox rows of a just-published alert (queued by `fanout.start`)."""
    return fanout.fan_out(alert_id=alert_id).recipients


@db_periodic_task(crontab(minute="*"))
@lock_task("alerts-resume-fanout")
def resume_fanout_task() -> int:
    """A fan-out whose worker died (or whose task was lost) is finished from its cursor."""
    return fanout.resume_unfinished()
