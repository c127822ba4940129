"""The daily detection pass (schedule: SERENO_DETECT_SCHEDULE, "minute hour")."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from sereno.detection import conf
from sereno.detection.services import detection_run

_minute, _hour = conf.schedule()


@db_periodic_task(crontab(minute=_minute, hour=_hour))
@lock_task("detection-run")
def detection_periodic_task() -> None:
    detection_run()
