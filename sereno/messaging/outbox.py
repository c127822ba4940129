"""The transactional outbox: `enqueue` writes a message as a row in the caller's transaction.

Senders (see `sender.py`) claim rows per channel with a lease, send them through the channel's
transport and record the result in bulk; delivery reports (`status_record`) move a row on:

    queued → sending → sent → delivered | failed
    queued/sending → expired (past its validity: never sent late)
    sending → queued (retryable error, with backoff; or the sender stopped before sending it)

Every change of status writes a DeliveryEvent. A claim is a lease (`claimed_until`,
`claim_token`): while a sender lives no one else takes its rows; when it dies its rows become
claimable again once the lease runs out. That is the only way a message can go out twice
(it was in flight at the crash). Logs name rows, never an address or a text.
"""

import functools
import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from sereno.lib import gsm7
from sereno.lib.db import by_ids, column, for_update, insert_or_nothing, marks, select_in, table
from sereno.messaging.models import Channel, Contact, DeliveryEvent, OutboundMessage
from sereno.messaging.transports import transport_class
from sereno.messaging.transports.base import StatusUpdate

log = logging.getLogger(__name__)

S = OutboundMessage.Status
WAKE_CHANNEL = "sereno:outbox:wake"


@dataclass(frozen=True)
class Policy:
    """How long a claim lasts and how retries back off (settings SERENO_SENDER_*)."""

    lease_seconds: float = 60.0
    max_attempts: int = 8
    backoff_seconds: float = 5.0
    backoff_max_seconds: float = 3600.0

    @classmethod
    def from_settings(cls) -> "Policy":
        return cls(
            lease_seconds=float(getattr(settings, "SENDER_LEASE_SECONDS", cls.lease_seconds)),
            max_attempts=int(getattr(settings, "SENDER_MAX_ATTEMPTS", cls.max_attempts)),
            backoff_seconds=float(getattr(settings, "SENDER_BACKOFF_SECONDS", cls.backoff_seconds)),
            backoff_max_seconds=float(
                getattr(settings, "SENDER_BACKOFF_MAX_SECONDS", cls.backoff_max_seconds)
            ),
        )

    def backoff(self, attempts: int, retry_after: float | None = None) -> float:
        """Exponential backoff with full jitter (half to all of the doubled delay), never
        sooner than the provider's Retry-After."""
        ceiling = min(self.backoff_max_seconds, self.backoff_seconds * 2 ** max(0, attempts - 1))
        delay = random.uniform(ceiling / 2, ceiling)
        if retry_after:
            delay = max(delay, float(retry_after))
        return delay


# ---- writing ------------------------------------------------------------------------------


def estimate(*, channel: Channel, text: str) -> tuple[str, str, int, Decimal | None]:
    """(text to send, encoding, segments, cost estimate) for `text` on `channel`."""
    encoding, segments = "text", 1
    if transport_class(channel.kind).is_sms:
        encoded = gsm7.encode(text)
        text, encoding, segments = encoded.text, encoded.encoding, encoded.segments
    price = Decimal(channel.price_per_segment or 0)
    cost = (price * segments).quantize(Decimal("0.0001")) if price else None
    return text, encoding, segments, cost


def enqueue(
    *,
    contact: Contact,
    text: str,
    cause: str,
    channel: Channel | None = None,
    dedupe_key: str | None = None,
    valid_until: datetime | None = None,
    priority: int = 0,
    report=None,
    author=None,
    in_reply_to=None,
    even_if_opted_out: bool = False,
) -> OutboundMessage | None:
    """Write one message to send. Returns None when the contact opted out (unless this is the
    confirmation of the opt-out itself) or has no channel. With a `dedupe_key`, a second call
    returns the first row: at most one message per cause."""
    if contact.opted_out_at is not None and not even_if_opted_out:
        return None
    channel = channel or contact.last_channel
    if channel is None:
        return None
    text, encoding, segments, cost = estimate(channel=channel, text=text)
    now = timezone.now()
    row = OutboundMessage(
        channel=channel,
        contact=contact,
        text=text,
        encoding=encoding,
        segments=segments,
        cost_estimate=cost,
        cause=cause,
        dedupe_key=dedupe_key or None,
        valid_until=valid_until,
        priority=priority,
        next_attempt_at=now,
        created_at=now,
        report=report,
        author=author,
        in_reply_to=in_reply_to,
        even_if_opted_out=even_if_opted_out,
    )
    if dedupe_key:
        # One statement, no lookup first and no savepoint (a reply is one per message).
        if not insert_or_nothing(row, conflict="dedupe_key"):
            return OutboundMessage.objects.get(dedupe_key=dedupe_key)
    else:
        row.save(force_insert=True)
    transaction.on_commit(_wake_after_commit)
    return row


@dataclass(frozen=True)
class Batch:
    """Many messages of one cause, e.g. an alert to thousands of contacts (`enqueue_select`)."""

    cause: str
    valid_until: datetime | None = None
    priority: int = 0


# A random (version 4) UUID made by the database, for rows written by INSERT … SELECT.
_NEW_UUID = {
    "postgresql": "gen_random_uuid()",
    "sqlite": "lower(hex(randomblob(4)) || hex(randomblob(2)) || '4' || "
    "substr(hex(randomblob(2)), 2) || substr('89ab', 1 + abs(random()) % 4, 1) || "
    "substr(hex(randomblob(2)), 2) || hex(randomblob(6)))",
}


def enqueue_select(
    *,
    recipients_sql: str,
    params: list,
    channels: list[Channel],
    texts: dict[str, str],
    default_language: str,
    batch: Batch,
) -> list[tuple[int, int]]:
    """Write one message for every row of `recipients_sql` (columns contact_id, channel_id,
    language) in one INSERT … SELECT inside the caller's transaction: the text in the row's
    language (else `default_language`), encoded for the row's channel. Returns (message id,
    contact id) pairs. For fan-outs of hundreds of thousands the rows never become Python
    objects. The caller's query leaves out opted-out contacts (senders check again)."""
    ops = connection.ops
    meta = OutboundMessage._meta
    cases: dict[str, list] = {"text": [], "encoding": [], "segments": [], "cost_estimate": []}
    whens: list[str] = []
    for channel in channels:
        for language in sorted(texts, key=lambda lang: lang == default_language):
            text, encoding, segments, cost = estimate(channel=channel, text=texts[language])
            cost = None if cost is None else ops.adapt_decimalfield_value(cost, 10, 4)
            if language == default_language:  # last: any other language reads it
                whens.append("WHEN r.channel_id = %s THEN %s")
                condition = [channel.pk]
            else:
                whens.append("WHEN r.channel_id = %s AND r.language = %s THEN %s")
                condition = [channel.pk, language]
            for name, value in zip(cases, (text, encoding, segments, cost), strict=True):
                cases[name] += [*condition, value]
    case = f"CASE {' '.join(whens)} END"

    def typed(name: str) -> str:  # a CASE of parameters has no type PostgreSQL can infer
        return f"CAST({case} AS {meta.get_field(name).cast_db_type(connection)})"

    now = ops.adapt_datetimefield_value(timezone.now())
    values = {
        "uuid": (_NEW_UUID[connection.vendor], []),
        "channel": ("r.channel_id", []),
        "contact": ("r.contact_id", []),
        **{name: (typed(name), args) for name, args in cases.items()},
        "even_if_opted_out": ("%s", [False]),
        "status": ("%s", [S.QUEUED]),
        "cause": ("%s", [batch.cause]),
        "priority": ("%s", [batch.priority]),
        "attempts": ("0", []),
        "next_attempt_at": ("%s", [now]),
        "valid_until": (
            "%s",
            [
                None
                if batch.valid_until is None
                else ops.adapt_datetimefield_value(batch.valid_until)
            ],
        ),
        "claim_token": ("''", []),
        "provider_id": ("''", []),
        "error": ("''", []),
        "created_at": ("%s", [now]),
    }
    columns = ", ".join(column(OutboundMessage, name) for name in values)
    returning = f"{column(OutboundMessage, 'pk')}, {column(OutboundMessage, 'contact')}"
    select = ", ".join(sql for sql, _args in values.values())
    # Table and column names come from the model; every value is a parameter.
    sql = (
        f"INSERT INTO {table(OutboundMessage)} ({columns}) SELECT {select} "  # noqa: S608
        f"FROM ({recipients_sql}) AS r RETURNING {returning}"
    )
    args = [arg for _sql, value_args in values.values() for arg in value_args]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*args, *params])
        written = [(row[0], row[1]) for row in cursor.fetchall()]
    if written:
        transaction.on_commit(_wake_after_commit)
    return written


_last_wake = 0.0
_wake_lock = threading.Lock()


def _wake_after_commit() -> None:
    """Tell running senders (through Redis pub/sub, when configured) that rows are waiting.
    At most one signal per 20 ms per process: a fan-out of thousands needs only one, and a
    sender that missed one finds the rows at its next poll anyway."""
    global _last_wake
    from sereno.lib.tokenbucket import redis_client

    now = time.monotonic()
    with _wake_lock:
        if now - _last_wake < 0.02:
            return
        _last_wake = now
    try:
        client = redis_client()
        if client is not None:
            client.publish(WAKE_CHANNEL, b"1")
    except Exception as error:  # a wake-up is an optimisation; the row is safe in the database
        log.warning("could not wake the senders: %s", type(error).__name__)


def _events(rows, status: str, *, code: str = "", detail: str = "", at=None) -> None:
    """One event per row, written by one INSERT … SELECT per 500 rows: no model instances,
    one round trip (the senders write one per claimed batch)."""
    ids = [getattr(row, "pk", row) for row in rows]
    if not ids:
        return
    at = connection.ops.adapt_datetimefield_value(at or timezone.now())
    pk = column(OutboundMessage, "pk")
    # Names come from the models' metadata; every value is a parameter.
    sql = f"INSERT INTO {table(DeliveryEvent)} ({_event_columns()}) SELECT {pk}, "  # noqa: S608
    sql += f"%s, %s, %s, %s FROM {table(OutboundMessage)} WHERE {pk} IN "
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            cursor.execute(
                sql + f"({marks(len(chunk))})", [status, code[:40], detail[:300], at, *chunk]
            )


def _event_columns() -> str:
    """A delivery event's columns in the order the statements above and below write them."""
    names = ("message", "status", "code", "detail", "at")
    return ", ".join(column(DeliveryEvent, name) for name in names)


def cancel_queued_for(*, contact: Contact) -> int:
    """An opted-out contact gets nothing more: queued rows end as failed ("opted out"), except
    the confirmation of the opt-out itself."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            OutboundMessage.objects.filter(
                contact=contact, status=S.QUEUED, even_if_opted_out=False
            ).values_list("pk", flat=True)
        )
        count = OutboundMessage.objects.filter(pk__in=ids, status=S.QUEUED).update(
            status=S.FAILED, failed_at=now, error="opted out"
        )
        _events(ids, S.FAILED, code="opted_out", at=now)
    return count


def expire_due(*, now: datetime | None = None, limit: int = 10000) -> int:
    """Queued rows past their validity end as expired: a late alert is worse than none."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            OutboundMessage.objects.filter(status=S.QUEUED, valid_until__lt=now).values_list(
                "pk", flat=True
            )[:limit]
        )
        count = OutboundMessage.objects.filter(pk__in=ids, status=S.QUEUED).update(
            status=S.EXPIRED, failed_at=now, claimed_until=None, claim_token=""
        )
        _events(ids, S.EXPIRED, code="validity", at=now)
    return count


def release_stale_leases(*, policy: Policy | None = None, now: datetime | None = None) -> int:
    """Rows whose sender died (lease run out) go back to the queue, or fail once they have
    used up their attempts (a message that kills its sender must not loop forever)."""
    policy = policy or Policy.from_settings()
    now = now or timezone.now()
    stale = OutboundMessage.objects.filter(status=S.SENDING, claimed_until__lt=now)
    with transaction.atomic():
        spent = list(stale.filter(attempts__gte=policy.max_attempts).values_list("pk", flat=True))
        OutboundMessage.objects.filter(pk__in=spent, status=S.SENDING).update(
            status=S.FAILED, failed_at=now, error="lease expired", claimed_until=None
        )
        _events(spent, S.FAILED, code="lease_expired", at=now)
        ids = list(stale.values_list("pk", flat=True))
        count = OutboundMessage.objects.filter(
            pk__in=ids, status=S.SENDING, claimed_until__lt=now
        ).update(status=S.QUEUED, claimed_until=None, claim_token="", next_attempt_at=now)
        _events(ids, S.QUEUED, code="lease_expired", at=now)
    return count + len(spent)


# ---- claiming and recording (the senders) ------------------------------------------------


# What senders and transports read of a claimed row and its contact. Loading only these
# halves the cost of a claim (dates, error texts and the rest are neither converted nor
# instantiated); a transport that reads another field still gets it, by one query per row.
CLAIMED_FIELDS = (
    "uuid", "channel_id", "contact_id", "text", "encoding", "segments", "status", "priority",
    "attempts", "next_attempt_at", "valid_until", "claimed_until", "claim_token",
    "even_if_opted_out", "in_reply_to_id",
    "contact__scheme", "contact__address_encrypted", "contact__language",
    "contact__opted_out_at",
)  # fmt: skip


def new_token() -> str:
    return uuid.uuid4().hex


def claim(
    *,
    channel: Channel,
    limit: int,
    token: str,
    policy: Policy,
    include_stale: bool = True,
    now: datetime | None = None,
) -> list[OutboundMessage]:
    """Take up to `limit` due rows of `channel` for the sender holding `token`, with their
    contacts. On PostgreSQL the rows are locked with SKIP LOCKED so concurrent senders take
    different rows without waiting; on SQLite the transaction holds the write lock (BEGIN
    IMMEDIATE) from the start, so claims are serialised. The UPDATE repeats the status
    condition so that a row can never be claimed twice, whatever the isolation."""
    now = now or timezone.now()
    until = now + timedelta(seconds=policy.lease_seconds)
    rows = OutboundMessage.objects.filter(channel=channel)
    with transaction.atomic():
        ids = []
        if include_stale:
            # A sender died holding these: take them over (the one source of duplicates).
            # Never our own: those may still wait in our pool, which gives them back itself.
            ids = list(
                rows.filter(
                    status=S.SENDING, claimed_until__lt=now, attempts__lt=policy.max_attempts
                )
                .exclude(claim_token=token)
                .order_by("claimed_until")
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:limit]
            )
            if ids:
                OutboundMessage.objects.filter(
                    pk__in=ids, status=S.SENDING, claimed_until__lt=now
                ).update(claim_token=token, claimed_until=until, attempts=F("attempts") + 1)
        if len(ids) < limit:
            # The statements of every claim, written once per shape: a sender at a
            # steady pace claims one or two rows at a time, and the ORM compiling them again
            # cost more than running them (docs/benchmarks.md).
            vendor, adapt = connection.vendor, connection.ops.adapt_datetimefield_value
            n = limit - len(ids)
            with connection.cursor() as cursor:
                cursor.execute(_due_sql(vendor, n), [channel.pk, S.QUEUED, adapt(now)])
                fresh = [row[0] for row in cursor.fetchall()]
                if fresh:
                    cursor.execute(
                        _take_sql(vendor, len(fresh)),
                        [S.SENDING, token, adapt(until), *fresh, S.QUEUED],
                    )
            ids += fresh
        if not ids:
            return []
        if transport_class(channel.kind).is_sms:
            sql = select_in(OutboundMessage, "pk", len(ids), equal=("claim_token", "status"),
                            order_by=("-priority", "next_attempt_at", "pk"))  # fmt: skip
            claimed = list(OutboundMessage.objects.raw(sql, [*ids, token, S.SENDING]))
            contacts = by_ids(Contact, (row.contact_id for row in claimed))
            for row in claimed:
                row.contact = contacts[row.contact_id]
        else:  # a reply by e-mail is threaded under the message it answers
            rows = OutboundMessage.objects.filter(pk__in=ids, claim_token=token, status=S.SENDING)
            rows = rows.select_related("contact", "in_reply_to").only(
                *CLAIMED_FIELDS, "in_reply_to__external_id", "in_reply_to__channel_id"
            )
            claimed = list(rows.order_by("-priority", "next_attempt_at", "id"))
        _events(claimed, S.SENDING, at=now)
    return claimed


def _names(*fields: str) -> list[str]:
    return [column(OutboundMessage, name) for name in fields]


@functools.cache
def _due_sql(vendor: str, limit: int) -> str:
    """Ids of a channel's rows due to be sent, in sending order, locked (SKIP LOCKED)."""
    pk, channel, status, due, priority = _names(
        "pk", "channel", "status", "next_attempt_at", "priority"
    )
    # Names come from the model's metadata; every value is a parameter.
    return (
        f"SELECT {pk} FROM {table(OutboundMessage)}"  # noqa: S608
        f" WHERE {channel} = %s AND {status} = %s AND {due} <= %s"
        f" ORDER BY {priority} DESC, {due}, {pk} LIMIT {int(limit)}" + for_update(skip_locked=True)
    )


@functools.lru_cache(maxsize=512)
def _take_sql(vendor: str, count: int) -> str:
    """Those rows, if still queued, become this sender's (its token, a lease, one attempt
    more): the status repeats in the condition, so that a row is never claimed twice."""
    pk, status, token, until, attempts = _names(
        "pk", "status", "claim_token", "claimed_until", "attempts"
    )
    # Names come from the model's metadata; every value is a parameter.
    return (
        f"UPDATE {table(OutboundMessage)} SET {status} = %s, {token} = %s, {until} = %s,"  # noqa: S608
        f" {attempts} = {attempts} + 1 WHERE {pk} IN ({marks(count)}) AND {status} = %s"
    )


def _mine(ids, token: str) -> dict[int, str]:
    """Status of those of `ids` still claimed by `token`, rows locked until commit."""
    with connection.cursor() as cursor:
        cursor.execute(_mine_sql(connection.vendor, len(ids)), [*ids, token])
        return dict(cursor.fetchall())


@functools.lru_cache(maxsize=512)
def _mine_sql(vendor: str, count: int) -> str:
    pk, status, token = _names("pk", "status", "claim_token")
    # Names come from the model's metadata; every value is a parameter.
    return (
        f"SELECT {pk}, {status} FROM {table(OutboundMessage)}"  # noqa: S608
        f" WHERE {pk} IN ({marks(count)}) AND {token} = %s{for_update()}"
    )


def record_sent(results: list[tuple[OutboundMessage, str, datetime]], *, token: str) -> int:
    """Record sends in bulk: (row, provider id, sent at). A delivery report that arrived
    before this (the row is already delivered or failed) keeps its status; the provider id
    and time are still recorded. Rows another sender took over meanwhile are left alone."""
    if not results:
        return 0
    with transaction.atomic():
        status = _mine([row.pk for row, _, _ in results], token)
        changed, moved = [], []
        for row, provider_id, sent_at in results:
            current = status.get(row.pk)
            if current is None:
                continue
            row.provider_id = (provider_id or "")[:200]
            row.sent_at = sent_at
            row.claimed_until = None
            if current == S.SENDING:
                row.status = S.SENT
                moved.append(row)
            else:
                row.status = current
            changed.append(row)
        _update_sent(changed)
        _events(moved, S.SENT, at=max((row.sent_at for row in moved), default=None))
    lost = len(results) - len(changed)
    if lost:
        log.warning("%d sent messages had been taken over by another sender", lost)
    return len(moved)


def _update_sent(rows: list[OutboundMessage]) -> None:
    """Rows that share a status and provider id (Kannel gives none: our uuid identifies the
    message) in one UPDATE, with the group's latest send time; distinct provider ids in one
    prepared UPDATE run per row (executemany). Django's bulk_update builds a CASE per column
    over every row: a quarter of a second per 200 rows on SQLite."""
    if not rows:
        return
    adapt = connection.ops.adapt_datetimefield_value
    status, provider_id, sent_at, claimed_until, pk = (
        column(OutboundMessage, name)
        for name in ("status", "provider_id", "sent_at", "claimed_until", "pk")
    )
    # Names come from the model's own metadata; every value is a parameter.
    sql = f"UPDATE {table(OutboundMessage)} SET {status} = %s, {provider_id} = %s, "  # noqa: S608
    sql += f"{sent_at} = %s, {claimed_until} = NULL WHERE {pk} "
    groups: dict[tuple[str, str], list[OutboundMessage]] = {}
    for row in rows:
        groups.setdefault((row.status, row.provider_id), []).append(row)
    with connection.cursor() as cursor:
        if len(groups) > 4:
            params = [(row.status, row.provider_id, adapt(row.sent_at), row.pk) for row in rows]
            cursor.executemany(sql + "= %s", params)
            return
        for (new_status, provider), members in groups.items():
            for start in range(0, len(members), 500):
                chunk = members[start : start + 500]
                latest = adapt(max(row.sent_at for row in chunk))
                cursor.execute(
                    sql + f"IN ({marks(len(chunk))})",
                    [new_status, provider, latest, *(r.pk for r in chunk)],
                )


def record_retry(
    row: OutboundMessage,
    *,
    token: str,
    policy: Policy,
    code: str = "",
    detail: str = "",
    retry_after: float | None = None,
) -> str:
    """A retryable error: back to the queue after a backoff, or failed once the attempts are
    used up or the next try would fall past the validity. Returns the new status."""
    now = timezone.now()
    next_at = now + timedelta(seconds=policy.backoff(row.attempts, retry_after))
    mine = OutboundMessage.objects.filter(pk=row.pk, claim_token=token, status=S.SENDING)
    with transaction.atomic():
        if row.attempts >= policy.max_attempts:
            new, fields = S.FAILED, {"failed_at": now}
        elif row.valid_until is not None and next_at >= row.valid_until:
            new, fields = S.EXPIRED, {"failed_at": now}
        else:
            new, fields = S.QUEUED, {"next_attempt_at": next_at, "claim_token": ""}
        done = mine.update(status=new, claimed_until=None, error=detail[:300] or code, **fields)
        if done:
            _events([row], new, code=code or "retryable", detail=detail, at=now)
    return new if done else ""


def record_failed(
    row: OutboundMessage, *, token: str, status: str = S.FAILED, code: str = "", detail: str = ""
) -> bool:
    """A permanent error (or expired, or opted out): the row ends here."""
    now = timezone.now()
    with transaction.atomic():
        done = OutboundMessage.objects.filter(
            pk=row.pk, claim_token=token, status=S.SENDING
        ).update(status=status, failed_at=now, claimed_until=None, error=(detail or code)[:300])
        if done:
            _events([row], status, code=code, detail=detail, at=now)
    return bool(done)


def release(rows: list[OutboundMessage], *, token: str) -> int:
    """Give back claimed rows that were not sent (the sender is stopping): queued again at
    once, and the attempt does not count."""
    if not rows:
        return 0
    now = timezone.now()
    with transaction.atomic():
        ids = [pk for pk, st in _mine([row.pk for row in rows], token).items() if st == S.SENDING]
        count = OutboundMessage.objects.filter(pk__in=ids, status=S.SENDING).update(
            status=S.QUEUED,
            claimed_until=None,
            claim_token="",
            next_attempt_at=now,
            attempts=F("attempts") - 1,
        )
        _events(ids, S.QUEUED, code="released", at=now)
    return count


# ---- delivery reports --------------------------------------------------------------------


def status_record(*, channel: Channel, update: StatusUpdate) -> int | None:
    """Apply a delivery report to its row (found by our uuid or the provider's id); returns the
    row's id, or None when no row matches.

    A report can arrive before the sender has recorded the send (the gateway answers the
    submission and reports delivery at once): found by our uuid, the row moves to delivered
    or failed now and the sender's late "sent" keeps that status. Every change is one
    conditional UPDATE, so concurrent reports need no row lock: three statements per report
    (find, event, update), as gateways send two or three reports per message."""
    rows = OutboundMessage.objects.filter(channel=channel)
    if update.message_uuid:
        try:
            key, value = "uuid", uuid.UUID(str(update.message_uuid))
        except ValueError:
            return None
    elif update.provider_id:
        key, value = "provider_id", update.provider_id
    else:
        return None
    if connection.vendor == "postgresql":
        return _status_record_one_statement(channel, key, value, update)
    rows = rows.filter(**{key: value})
    found = rows.values_list("pk", flat=True)[:1]
    if not found:
        return None
    message_id = found[0]
    now = timezone.now()
    with transaction.atomic():
        DeliveryEvent.objects.create(
            message_id=message_id,
            status=update.status,
            code=update.code[:40],
            detail=update.detail[:300],
            at=now,
        )
        this = OutboundMessage.objects.filter(pk=message_id)
        if update.status == "delivered":
            this.exclude(status=S.DELIVERED).update(
                status=S.DELIVERED, delivered_at=now, sent_at=Coalesce("sent_at", Value(now))
            )
        elif update.status == "failed":
            this.exclude(status__in=[S.DELIVERED, S.FAILED]).update(
                status=S.FAILED, failed_at=now, error=(update.detail or update.code)[:300]
            )
        elif update.status == "sent":
            this.filter(status__in=[S.SENDING, S.QUEUED]).update(status=S.SENT, sent_at=now)
    return message_id


# What a report changes, and on which rows (the others keep their status; the event is
# written all the same).
_REPORTED = {
    "delivered": ("{status} = %s, {delivered_at} = %s, {sent_at} = COALESCE({sent_at}, %s)",
                  "{status} <> %s"),
    "failed": ("{status} = %s, {failed_at} = %s, {error} = %s", "{status} NOT IN (%s, %s)"),
    "sent": ("{status} = %s, {sent_at} = %s", "{status} IN (%s, %s)"),
}  # fmt: skip


def _status_record_one_statement(channel: Channel, key: str, value, update: StatusUpdate):
    """PostgreSQL: find the row, write the event and move the row in one statement (data-
    modifying CTEs), where the ORM needs a lookup, a transaction and two writes. The UPDATE's
    condition is re-checked against a concurrent report's change, as the ORM's is."""
    now = timezone.now()
    if update.status == "delivered":
        values, kept = [S.DELIVERED, now, now], [S.DELIVERED]
    elif update.status == "failed":
        values = [S.FAILED, now, (update.detail or update.code)[:300]]
        kept = [S.DELIVERED, S.FAILED]
    else:
        values, kept = [S.SENT, now], [S.SENDING, S.QUEUED]
    params = [channel.pk, value, update.status, update.code[:40], update.detail[:300], now,
              *values, *kept]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(_report_sql(update.status, key), params)
        found = cursor.fetchone()
    return found[0] if found else None


@functools.cache
def _report_sql(status: str, key: str) -> str:
    """The statement for a report of `status` on the row whose `key` column matches (built
    once: compiling it through the ORM for every report cost more than running it)."""
    names = ("status", "delivered_at", "sent_at", "failed_at", "error")
    columns = {name: column(OutboundMessage, name) for name in names}
    assignments, condition = (part.format(**columns) for part in _REPORTED[status])
    messages, pk = table(OutboundMessage), column(OutboundMessage, "pk")
    channel, match = column(OutboundMessage, "channel"), column(OutboundMessage, key)
    # Names come from the models' metadata; every value is a parameter.
    return (
        f"WITH target AS (SELECT {pk} AS pk FROM {messages}"  # noqa: S608
        f" WHERE {channel} = %s AND {match} = %s LIMIT 1), "
        f"event AS (INSERT INTO {table(DeliveryEvent)} ({_event_columns()})"
        " SELECT pk, %s, %s, %s, %s FROM target), "
        f"moved AS (UPDATE {messages} SET {assignments} WHERE {pk} IN (SELECT pk FROM target)"
        f" AND {condition}) "
        "SELECT pk FROM target"
    )
