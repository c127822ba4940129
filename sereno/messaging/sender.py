"""Outbox senders: drain each channel's queue through its transport.

One `ChannelSender` per channel: its loop claims a batch of due rows (a lease, see
`outbox.claim`), hands each to a thread pool that takes the message's segments from the
channel's token bucket and calls `transport.send(message, to=address)`, and records the
outcomes in bulk (a few queries per batch, not per message). Several sender processes may run
for the same channel: claims never overlap while their holders live.

`run_senders` runs one per enabled channel (or the ones asked for) until SIGTERM/SIGINT: it
stops claiming, lets the sends in flight finish, gives back the rows it had not started, and
records everything before exiting.
"""

import logging
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from sereno.lib.tokenbucket import TokenBucket, redis_client, token_bucket
from sereno.messaging import outbox
from sereno.messaging.models import Channel, OutboundMessage
from sereno.messaging.transports import transport_class, transport_for
from sereno.messaging.transports.base import PermanentError, RetryableError, Transport

log = logging.getLogger(__name__)

S = OutboundMessage.Status


# A row whose lease ends sooner than this is not sent (it is given back): another sender may
# take it over once the lease ends, so a send must finish well before (gateways' HTTP
# timeout is 15 s). Half the lease, at most 20 s.
def lease_margin(lease_seconds: float) -> timedelta:
    return timedelta(seconds=min(lease_seconds / 2, 20.0))


@dataclass
class Stats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    expired: int = 0
    released: int = 0

    def add(self, other: "Stats") -> None:
        for name in ("sent", "retried", "failed", "expired", "released"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def pushes_outbound(channel: Channel) -> bool:
    """False for gateways that fetch their messages themselves (SMSSync's phone polls)."""
    try:
        return not getattr(transport_class(channel.kind), "outbound_pull", False)
    except (ImportError, AttributeError, KeyError):
        return False


class ChannelSender:
    def __init__(
        self,
        channel: Channel,
        *,
        threads: int = 8,
        batch: int = 500,
        policy: outbox.Policy | None = None,
        transport: Transport | None = None,
        bucket: TokenBucket | None = None,
        stop: threading.Event | None = None,
        wake: threading.Event | None = None,
        poll_seconds: float | None = None,
        share: int = 1,
    ):
        self.channel = channel
        self.threads = max(1, threads)
        self.batch = max(1, batch)
        self.policy = policy or outbox.Policy.from_settings()
        self.transport = transport or transport_for(channel)
        self.bucket = bucket or token_bucket(
            f"outbox:{channel.uuid}",
            rate=channel.rate_per_second,
            burst=channel.burst,
            share=share,
        )
        # `stop` may be shared by every sender of the process (SIGTERM); `closing` is this
        # sender's own: set when it stops claiming, so queued sends give their rows back.
        self.stop = stop or threading.Event()
        self.closing = threading.Event()
        self.wake = wake or threading.Event()
        if poll_seconds is None:
            poll_seconds = getattr(settings, "SENDER_POLL_MS", 500) / 1000
        self.poll_seconds = poll_seconds
        self.token = outbox.new_token()
        self.stats = Stats()
        self._results: queue.SimpleQueue = queue.SimpleQueue()
        self._in_flight = 0  # claimed and not yet recorded
        self._lock = threading.Lock()
        self._room = threading.Event()
        self._last_stale_check = 0.0
        self._margin = lease_margin(self.policy.lease_seconds)
        self._send_seconds = 0.0  # moving average of one send, once known

    # ---- the loop ------------------------------------------------------------------------
    # This thread claims; outcomes are recorded by a second thread with its own connection on
    # PostgreSQL (claims and records then overlap on two server processes), by this one on
    # SQLite (one writer at a time anyway). Pool threads never touch the database.
    def run(self, *, once: bool = False) -> Stats:
        pool = ThreadPoolExecutor(self.threads, thread_name_prefix=f"send-{self.channel.pk}")
        recorder = None
        # Inside a caller's transaction (tests), another connection could not see the rows.
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            recorder = threading.Thread(
                target=self._record_loop, name=f"record-{self.channel.pk}", daemon=True
            )
            recorder.start()
        failures = 0
        try:
            while not self.stopping():
                try:
                    claimed = self._claim_more()
                    failures = 0
                except DatabaseError as error:
                    failures += 1
                    if once and failures >= 5:
                        raise
                    log.error("channel %s: claim failed (%s); retrying", self.channel.pk, error)
                    close_old_connections()
                    connection.close()
                    self.closing.wait(1.0)
                    continue
                with self._lock:
                    self._in_flight += len(claimed)
                for message in claimed:
                    pool.submit(self._send_one, message)
                if claimed and recorder is not None:
                    continue  # more room? claim again at once
                if self._in_flight:
                    if recorder is None:
                        self._collect(timeout=0.05 if claimed else 0.2)
                    else:
                        self._room.wait(0.2)
                        self._room.clear()
                elif once:
                    break
                elif not claimed:
                    self.wake.wait(self.poll_seconds)
                    self.wake.clear()
        finally:
            # Queued sends see the flag and come back as "release"; those in flight end.
            self.closing.set()
            pool.shutdown(wait=True)
            if recorder is not None:
                recorder.join()
            while self._in_flight:
                self._collect(timeout=0.1)
        return self.stats

    def _record_loop(self) -> None:
        try:
            while not (self.closing.is_set() and self._in_flight == 0):
                try:
                    self._collect(timeout=0.1)
                except Exception:  # the rows stay claimed; their lease brings them back
                    log.exception("channel %s: outcomes not recorded", self.channel.pk)
        finally:
            connection.close()

    def stopping(self) -> bool:
        return self.stop.is_set() or self.closing.is_set()

    def close(self) -> None:
        """Stop claiming; the loop then finishes what is in flight and returns."""
        self.closing.set()
        self.wake.set()

    def _claim_more(self) -> list[OutboundMessage]:
        ceiling = self.batch
        quarter = self.policy.lease_seconds / 4
        if self.bucket.rate > 0:
            # No more in flight than can go out well within the lease at this route's rate,
            ceiling = min(ceiling, max(1, int(self.bucket.rate * quarter)))
        # nor than the pool gets through in that time at the gateway's pace (a gateway that
        # times out would otherwise leave rows waiting in the pool until their lease ends).
        if self._send_seconds > 0:
            pace = self.threads / self._send_seconds
            ceiling = min(ceiling, max(self.threads, int(pace * quarter)))
        else:  # pace not known yet
            ceiling = min(ceiling, self.threads * 4)
        room = ceiling - self._in_flight
        if room < max(1, ceiling // 2):
            return []
        now_mono = time.monotonic()
        include_stale = now_mono - self._last_stale_check > 5
        if include_stale:
            self._last_stale_check = now_mono
        return outbox.claim(
            channel=self.channel,
            limit=room,
            token=self.token,
            policy=self.policy,
            include_stale=include_stale,
        )

    def _collect(self, *, timeout: float) -> None:
        """Wait for outcomes, then record every one that is there, in bulk."""
        try:
            first = self._results.get(timeout=timeout)
        except queue.Empty:
            return
        if self._in_flight > 1 and not self.stopping():
            time.sleep(0.01)  # let a few more finish: one bulk write instead of many
        outcomes = [first]
        while True:
            try:
                outcomes.append(self._results.get_nowait())
            except queue.Empty:
                break
        with self._lock:
            self._in_flight -= len(outcomes)
        self._room.set()
        # Outcomes are kept until the database takes them (it may be restarting): a send that
        # is not recorded would go out again once its lease ends.
        failures = 0
        while True:
            try:
                self._record(outcomes)
                return
            except DatabaseError as error:
                failures += 1
                log.error("channel %s: recording failed (%s); retrying", self.channel.pk, error)
                close_old_connections()
                connection.close()
                if failures >= 5 and self.stopping():
                    break
                time.sleep(min(5.0, float(failures)))
        log.error("channel %s: %d outcomes not recorded", self.channel.pk, len(outcomes))

    def _record(self, outcomes: list[tuple]) -> None:
        sent, released = [], []
        for kind, message, *rest in outcomes:
            if kind == "sent":
                sent.append((message, rest[0], rest[1]))
            elif kind == "release":
                released.append(message)
            elif kind == "retry":
                error = rest[0]
                status = outbox.record_retry(
                    message,
                    token=self.token,
                    policy=self.policy,
                    code=error.code,
                    detail=error.detail,
                    retry_after=error.retry_after,
                )
                if status == S.QUEUED:
                    self.stats.retried += 1
                elif status == S.EXPIRED:
                    self.stats.expired += 1
                elif status:
                    self.stats.failed += 1
            elif kind in (S.FAILED, S.EXPIRED):
                code, detail = rest
                if outbox.record_failed(
                    message, token=self.token, status=kind, code=code, detail=detail
                ):
                    if kind == S.EXPIRED:
                        self.stats.expired += 1
                    else:
                        self.stats.failed += 1
        self.stats.sent += outbox.record_sent(sent, token=self.token)
        self.stats.released += outbox.release(released, token=self.token)

    # ---- one message (pool threads: no database here) --------------------------------------
    def _send_one(self, message: OutboundMessage) -> None:
        try:
            self._results.put(self._attempt(message))
        except BaseException as error:  # never lose an outcome: the row would stay claimed
            log.error("outbound %s: unexpected %s", message.pk, type(error).__name__)
            self._results.put(("retry", message, RetryableError(code=type(error).__name__)))

    def _attempt(self, message: OutboundMessage) -> tuple:
        if self.stopping():
            return ("release", message)
        if (skip := self._not_sendable(message)) is not None:
            return skip
        if not self.bucket.acquire(message.segments, stop=self.closing):
            return ("release", message)
        if (skip := self._not_sendable(message)) is not None:  # the wait may have been long
            return skip
        started = time.monotonic()
        try:
            to = message.contact.address
            result = self.transport.send(message, to=to)
        except RetryableError as error:
            log.info("outbound %s: retryable %s %s", message.pk, error.code, error.detail)
            return ("retry", message, error)
        except PermanentError as error:
            log.warning("outbound %s: failed %s %s", message.pk, error.code, error.detail)
            status = S.EXPIRED if error.code == "expired" else S.FAILED  # validity over
            return (status, message, error.code or "permanent", error.detail)
        except Exception as error:
            # The exception's text may hold the address (a URL, a library's message): only
            # its type is logged and kept.
            log.error("outbound %s: unexpected %s", message.pk, type(error).__name__)
            return ("retry", message, RetryableError(code=type(error).__name__))
        finally:
            # How long the gateway takes (moving average; races between threads are harmless).
            took = time.monotonic() - started
            self._send_seconds = (
                took if not self._send_seconds else 0.9 * self._send_seconds + 0.1 * took
            )
        return ("sent", message, getattr(result, "provider_id", "") or "", timezone.now())

    def _not_sendable(self, message: OutboundMessage) -> tuple | None:
        now = timezone.now()
        if message.valid_until is not None and message.valid_until <= now:
            return (S.EXPIRED, message, "validity", "")
        if message.contact.opted_out_at is not None and not message.even_if_opted_out:
            return (S.FAILED, message, "opted_out", "opted out")
        if message.claimed_until - now < self._margin:
            return ("release", message)
        return None


# ---- running senders ---------------------------------------------------------------------


class Waker:
    """Wakes idle senders as soon as `outbox.enqueue` publishes (Redis pub/sub). Without Redis
    the senders simply poll every SENDER_POLL_MS."""

    def __init__(self, events: list[threading.Event]):
        self.events = events
        self._thread: threading.Thread | None = None
        self._pubsub = None

    def start(self) -> None:
        client = redis_client()
        if client is None:
            return
        try:
            self._pubsub = client.pubsub(ignore_subscribe_messages=True)
            self._pubsub.subscribe(outbox.WAKE_CHANNEL)
        except Exception as error:
            log.warning("no wake-ups from Redis (%s); polling", type(error).__name__)
            self._pubsub = None
            return
        self._thread = threading.Thread(target=self._listen, name="sender-wake", daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while self._pubsub is not None:
            try:
                if self._pubsub.get_message(timeout=1.0):
                    for event in list(self.events):
                        event.set()
            except Exception:
                time.sleep(1.0)

    def close(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception:  # noqa: S110 (closing on the way out)
                pass


def channels_to_send(uuids: list[str] | None = None) -> list[Channel]:
    """Enabled channels whose gateway we push to (all, or those of `uuids`)."""
    rows = Channel.objects.filter(enabled=True)
    if uuids:
        rows = rows.filter(uuid__in=uuids)
    return [channel for channel in rows if pushes_outbound(channel)]


def _setup(channel: Channel) -> tuple:
    """What a running sender was built from: when it changes, the sender is rebuilt."""
    return (
        channel.kind,
        bytes(channel.config_encrypted or b""),
        channel.address,
        channel.rate_per_second,
        channel.burst,
    )


def run_senders(
    *,
    uuids: list[str] | None = None,
    threads: int = 8,
    batch: int = 500,
    once: bool = False,
    stop: threading.Event | None = None,
    rescan_seconds: float = 15.0,
    share: int = 1,
) -> Stats:
    """Run a sender per channel until `stop` is set (or, with `once`, until nothing is due).
    Every `rescan_seconds` the channels are read again: a channel enabled later starts, one
    disabled stops (after its sends in flight), one whose settings or credentials changed is
    rebuilt, and one whose sender died is restarted."""
    stop = stop or threading.Event()
    total = Stats()
    running: dict[int, tuple[ChannelSender, threading.Thread, tuple]] = {}
    wakes: list[threading.Event] = []
    waker = Waker(wakes)
    if not once:
        waker.start()

    def start(channel: Channel) -> None:
        sender = ChannelSender(channel, threads=threads, batch=batch, stop=stop, share=share)
        wakes.append(sender.wake)

        def body():
            try:
                sender.run(once=once)
            except Exception:
                log.exception("sender for channel %s stopped", channel.pk)
            finally:
                connection.close()

        thread = threading.Thread(target=body, name=f"sender-{channel.pk}", daemon=True)
        running[channel.pk] = (sender, thread, _setup(channel))
        log.info("sending on channel %s (%s)", channel.pk, channel.kind)
        thread.start()

    def retire(pk: int) -> None:
        sender, thread, _ = running.pop(pk)
        sender.close()
        thread.join()
        wakes.remove(sender.wake)
        total.add(sender.stats)

    try:
        while True:
            try:
                wanted = {channel.pk: channel for channel in channels_to_send(uuids)}
            except DatabaseError as error:
                log.error("could not list channels (%s)", error)
                close_old_connections()
                connection.close()
                wanted = {pk: sender.channel for pk, (sender, _, _) in running.items()}
            for pk, (_sender, thread, setup) in list(running.items()):
                channel = wanted.get(pk)
                if channel is None or setup != _setup(channel) or not thread.is_alive():
                    retire(pk)
            for pk, channel in wanted.items():
                if pk not in running:
                    try:
                        start(channel)
                    except Exception as error:
                        log.error("channel %s cannot send: %s", pk, type(error).__name__)
            if once or stop.wait(rescan_seconds):
                break
    finally:
        for sender, _thread, _ in running.values():
            if not once or stop.is_set():
                sender.close()
        for sender, thread, _ in running.values():
            while thread.is_alive():
                thread.join(0.2)
                if stop.is_set():  # SIGTERM during --once
                    sender.close()
            total.add(sender.stats)
        waker.close()
        connection.close()
    return total
