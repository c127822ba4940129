"""Fan-out: one outbox row per subscriber an alert reaches, written in batches.

Who is reached: every contact with an active subscription whose zone shares an H3 cell with
one of the alert's zones, who has not opted out. One message per contact however many of
their subscriptions match (the first one's channel and language).

Crash safety. Each batch is one transaction that locks the alert row, reads the cursor (the
last contact id done), writes the batch's outbox rows and AlertRecipient rows and moves the
cursor. A fan-out killed at any point has either committed a batch or not; the next run
(the periodic task picks up unfinished fan-outs) starts after the cursor. Two runs at once
take turns on the lock. The unique constraint on (alert, contact) is the last line: a batch
that would message someone twice fails whole and rolls back.
"""

import bisect
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Max, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from sereno.alerts.models import Alert, AlertRecipient, FanoutPart
from sereno.geo import zones
from sereno.lib import gsm7
from sereno.lib.sqlids import ids_param, ids_subquery, rows_param, rows_subquery
from sereno.messaging import outbox
from sereno.messaging.models import Channel, OutboundMessage
from sereno.subscriptions import selectors

log = logging.getLogger(__name__)

BATCH = 5_000
# A running fan-out writes a batch every second or so; one silent this long has died.
STALE_SECONDS = 120.0
MAX_SEGMENTS = 2
# Alerts go before conversation replies in every sender's queue.
PRIORITY = 10
LANGUAGES = ("es", "en")


@dataclass(frozen=True)
class Result:
    recipients: int
    batches: int
    seconds: float


# --- the message --------------------------------------------------------------------------------


def message_text(alert: Alert, language: str) -> str:
    """The SMS for one language: what, where, what to do, how to stop; at most two segments
    after GSM-7 smart encoding, cutting the instruction first, then the headline."""
    language = language if language in LANGUAGES else "es"
    english = language == "en" and bool(alert.headline_en)
    headline = (alert.headline_en if english else alert.headline_es).strip()
    instruction = (alert.instruction_en if english else alert.instruction_es).strip()
    area = (alert.area_desc_en if english else alert.area_desc_es).strip()
    with override("en" if english else "es"):
        prefix = {
            Alert.MsgType.ALERT: _("ALERT"),
            Alert.MsgType.UPDATE: _("ALERT UPDATE"),
            Alert.MsgType.CANCEL: _("ALERT CANCELLED"),
        }[alert.msg_type]
        if alert.status != Alert.Status.ACTUAL:
            prefix = _("TEST") + " - " + prefix
        hint = _("Reply STOP to stop all messages.")
    head = f"{prefix}: "
    tail = f" ({area}). " if area else ". "

    def compose(h: str, i: str) -> str:
        return f"{head}{h}{tail}{i}{' ' if i else ''}{hint}"

    if _fits(compose(headline, instruction)):
        return compose(headline, instruction)
    cut = _longest(lambda n: compose(headline, _shorten(instruction, n)), len(instruction))
    if cut is not None:
        return compose(headline, _shorten(instruction, cut))
    cut = _longest(lambda n: compose(_shorten(headline, n), ""), len(headline))
    return compose(_shorten(headline, cut or 1), "")


def _fits(text: str) -> bool:
    return gsm7.encode(text).segments <= MAX_SEGMENTS


def _shorten(text: str, n: int) -> str:
    if n >= len(text):
        return text
    return text[: max(n - 1, 0)].rstrip() + "…" if n > 0 else ""


def _longest(build, upper: int) -> int | None:
    """The largest n in 1..upper for which build(n) fits (fitting shrinks with n)."""
    lo, hi, best = 1, upper, None
    while lo <= hi:
        mid = (lo + hi) // 2
        if _fits(build(mid)):
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    return best


# --- starting and running ----------------------------------------------------------------------


def start(alert_id: int) -> None:
    """Call inside the transaction that publishes the alert: the fan-out is queued once that
    commits (and the periodic task resumes it if the worker dies)."""
    from sereno.alerts.tasks import fan_out_task

    transaction.on_commit(lambda: fan_out_task(alert_id))


def fan_out(*, alert_id: int, batch_size: int = BATCH, parts: int | None = None) -> Result:
    """Write the outbox rows of a published alert; resumable, safe to run twice at once.

    The contacts are split in `parts` by contact id (SERENO_FANOUT_PARTS, fixed for an alert
    once it started); on PostgreSQL each part is written by its own thread and connection, so
    the database uses every core."""
    started = time.monotonic()
    alert = Alert.objects.get(pk=alert_id)
    if alert.state not in (Alert.State.PUBLISHED, Alert.State.SUPERSEDED):
        return Result(0, 0, 0.0)
    if alert.fanout == Alert.Fanout.DONE:
        return Result(alert.recipients, 0, 0.0)
    now = timezone.now()
    Alert.objects.filter(pk=alert_id, fanout=Alert.Fanout.NONE).update(
        fanout=Alert.Fanout.RUNNING, fanout_started_at=now, fanout_beat_at=now
    )
    cursors = _parts(alert, parts or settings.FANOUT_PARTS)
    # (contact, channel, language) of each contact's first subscription in a zone touching
    # the alert's, by contact: the plan the batches follow, cut into the parts.
    reached = zones.zones_touching(alert.zones.values("id"))
    plan = selectors.recipients(reached).filter(contact_id__gt=min(cursors))
    plans: list[list] = [[] for _ in cursors]
    for row in plan.values_list("contact_id", "channel_id", "language").iterator(10_000):
        part = row[0] % len(cursors)
        if row[0] > cursors[part]:
            plans[part].append(row)
    channels = list(Channel.objects.filter(pk__in={row[1] for rows in plans for row in rows}))
    texts = {language: message_text(alert, language) for language in LANGUAGES}

    def write(part: int) -> tuple[int, int]:
        batches = done = 0
        while (
            n := _write_batch(alert, part, plans[part], channels, texts, batch_size)
        ) is not None:
            batches, done = batches + 1, done + n
        return batches, done

    if connection.vendor == "postgresql" and len(plans) > 1 and not connection.in_atomic_block:
        with ThreadPoolExecutor(len(plans)) as pool:
            results = list(pool.map(_in_own_connection(write), range(len(plans))))
    else:  # SQLite writes one transaction at a time anyway
        results = [write(part) for part in range(len(plans))]
    batches, done = (sum(column) for column in zip(*results, strict=True))
    total = FanoutPart.objects.filter(alert=alert).aggregate(n=Sum("recipients"))["n"] or 0
    Alert.objects.filter(pk=alert_id).exclude(fanout=Alert.Fanout.DONE).update(
        fanout=Alert.Fanout.DONE, fanout_finished_at=timezone.now(), recipients=total
    )
    seconds = time.monotonic() - started
    log.info("alert %s: %d recipients in %d batches, %.1f s", alert_id, done, batches, seconds)
    return Result(done, batches, seconds)


def _parts(alert: Alert, count: int) -> list[int]:
    """The cursors of the alert's parts, made on its first run (their number then stays)."""
    if not FanoutPart.objects.filter(alert=alert).exists():
        FanoutPart.objects.bulk_create(
            [FanoutPart(alert=alert, part=p) for p in range(max(1, count))],
            ignore_conflicts=True,
        )
    return list(
        FanoutPart.objects.filter(alert=alert).order_by("part").values_list("cursor", flat=True)
    )


def _in_own_connection(function):
    def run(*args):
        try:
            return function(*args)
        finally:
            connection.close()  # this thread's connection

    return run


def _write_batch(alert, part, plan, channels, texts, batch_size) -> int | None:
    """The part's next contacts after its cursor, up to batch_size of them, in one
    transaction; None when nothing is left."""
    with transaction.atomic():
        locked = FanoutPart.objects.select_for_update().filter(alert=alert, part=part)
        start = bisect.bisect_right(plan, (locked.values_list("cursor", flat=True).get(), math.inf))
        chunk = plan[start : start + batch_size]
        if not chunk:
            return None
        # Opting out after the plan was made is honoured by the senders at claim time and by
        # the opt-out itself, which cancels queued rows; the batch needs no second look.
        written = outbox.enqueue_select(
            recipients_sql=rows_subquery(contact_id=int, channel_id=int, language=str),
            params=[rows_param(chunk)],
            channels=channels,
            texts=texts,
            default_language="es",
            batch=outbox.Batch(cause="alert", valid_until=alert.expires, priority=PRIORITY),
        )
        with connection.cursor() as db:
            db.execute(
                _RECIPIENTS_SQL.format(ids=ids_subquery()),
                [alert.pk, ids_param(message for message, _contact in written)],
            )
        locked.update(
            cursor=chunk[-1][0], recipients=F("recipients") + len(written), beat_at=timezone.now()
        )
        return len(written)


_RECIPIENTS_SQL = (
    "INSERT INTO alerts_alertrecipient (alert_id, contact_id, message_id) "
    "SELECT %s, m.contact_id, m.id FROM messaging_outboundmessage m WHERE m.id IN ({ids})"
)


def resume_unfinished(*, stale_seconds: float = STALE_SECONDS) -> int:
    """Fan-outs a dead worker left half done, or whose task was lost (the periodic task calls
    this). A fan-out still writing batches is left to the worker that runs it."""
    now = timezone.now()
    stale = now - timedelta(seconds=stale_seconds)
    published = Alert.objects.filter(
        state__in=[Alert.State.PUBLISHED, Alert.State.SUPERSEDED], expires__gt=now
    )
    beats = published.annotate(beat=Max("fanout_parts__beat_at"))
    ids = list(
        beats.filter(
            Q(fanout=Alert.Fanout.NONE, published_at__lt=stale)
            | Q(fanout=Alert.Fanout.RUNNING, beat__lt=stale)
            | Q(fanout=Alert.Fanout.RUNNING, beat__isnull=True, fanout_beat_at__lt=stale)
        ).values_list("pk", flat=True)
    )
    for alert_id in ids:
        fan_out(alert_id=alert_id)
    return len(ids)


# --- progress ----------------------------------------------------------------------------------


def progress(alert: Alert) -> dict:
    """What the alert page shows live: recipients and their messages by status."""
    counts = dict.fromkeys(OutboundMessage.Status.values, 0)
    rows = (
        OutboundMessage.objects.filter(
            pk__in=AlertRecipient.objects.filter(alert=alert).values("message_id")
        )
        .values("status")
        .annotate(n=Count("pk"))
    )
    for row in rows:
        counts[row["status"]] = row["n"]
    alert.refresh_from_db(fields=["recipients", "fanout"])
    recipients = alert.recipients
    if alert.fanout != Alert.Fanout.DONE:
        written = FanoutPart.objects.filter(alert=alert).aggregate(n=Sum("recipients"))["n"]
        recipients = written or 0
    return {
        "recipients": recipients,
        **counts,
        "done": alert.fanout == Alert.Fanout.DONE,
    }
