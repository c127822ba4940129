"""`sereno sender`: send queued outbox messages until stopped (SIGTERM/SIGINT)."""

import signal
import threading
import time
import uuid

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sereno.messaging.models import Channel
from sereno.messaging.sender import run_senders


class Command(BaseCommand):
    help = (
        "Send queued messages through each enabled channel (or the ones given), rate-limited "
        "per channel, until SIGTERM; --once stops when nothing is due."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--channel", action="append", default=[], metavar="UUID", help="only this channel"
        )
        parser.add_argument("--all", action="store_true", help="every enabled channel (default)")
        parser.add_argument(
            "--threads",
            type=int,
            default=getattr(settings, "SENDER_THREADS", 8),
            help="sends in parallel per channel",
        )
        parser.add_argument("--batch", type=int, default=500, help="most rows claimed at a time")
        parser.add_argument("--once", action="store_true", help="exit when nothing is due")

    def handle(self, *args, **options):
        if options["channel"] and options["all"]:
            raise CommandError("--channel and --all exclude each other")
        if options["threads"] < 1 or options["batch"] < 1:
            raise CommandError("--threads and --batch must be at least 1")
        for value in options["channel"]:
            try:
                uuid.UUID(value)
            except ValueError:
                raise CommandError(f"not a channel UUID: {value!r}") from None
        if options["channel"]:
            found = dict(
                Channel.objects.filter(uuid__in=options["channel"]).values_list("uuid", "enabled")
            )
            for value in options["channel"]:
                enabled = found.get(uuid.UUID(value))
                if enabled is None:
                    raise CommandError(f"no channel {value}")
                if not enabled:
                    self.stderr.write(f"channel {value} is disabled: it waits until enabled")
        stop = threading.Event()

        def on_signal(signum, frame):
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        started = time.monotonic()
        stats = run_senders(
            uuids=options["channel"] or None,
            threads=options["threads"],
            batch=options["batch"],
            once=options["once"],
            stop=stop,
        )
        seconds = time.monotonic() - started
        self.stdout.write(
            f"sent {stats.sent}, retried {stats.retried}, failed {stats.failed}, "
            f"expired {stats.expired}, released {stats.released} in {seconds:.1f} s "
            f"({stats.sent / seconds if seconds else 0:.0f} msg/s)"
        )
