"""Background work for reports: tasks receive ids and call services."""

from collections.abc import Iterable
from functools import partial

from django.db import transaction
from huey.contrib.djhuey import db_task

from sereno.reports.media import clean_media


@db_task()
def clean_media_task(media_id: int) -> None:
    clean_media(media_id)


def enqueue_media_cleaning(media_ids: Iterable[int]) -> None:
    """Clean each media once the current transaction commits (a worker must see the rows)."""
    for media_id in media_ids:
        transaction.on_commit(partial(clean_media_task, media_id))
