"""`sereno sender`: send queued outbox messages until stopped (SIGTERM/SIGINT)."""

import argparse
import signal
import subprocess
import sys
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
        parser.add_argument(
            "--processes",
            type=int,
            default=1,
            help="sender processes (several CPU cores; without Redis each gets its share of "
            "every channel's rate)",
        )
        parser.add_argument("--share", type=int, default=1, help=argparse.SUPPRESS)

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
        if options["processes"] > 1:
            return self._supervise(options)
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
            share=max(1, options["share"]),
        )
        seconds = time.monotonic() - started
        self.stdout.write(
            f"sent {stats.sent}, retried {stats.retried}, failed {stats.failed}, "
            f"expired {stats.expired}, released {stats.released} in {seconds:.1f} s "
            f"({stats.sent / seconds if seconds else 0:.0f} msg/s)"
        )

    def _supervise(self, options) -> None:
        """Run `--processes` children with the same options; SIGTERM/SIGINT go to them all."""
        count = options["processes"]
        argv = [sys.executable, "-m", "sereno", "sender", "--threads", str(options["threads"])]
        argv += ["--batch", str(options["batch"]), "--share", str(count)]
        for value in options["channel"]:
            argv += ["--channel", value]
        argv += ["--once"] if options["once"] else []
        children = [subprocess.Popen(argv) for _ in range(count)]  # noqa: S603 (our argv)

        stopped = []

        def forward(signum, frame):
            stopped.append(signum)
            for child in children:
                if child.poll() is None:
                    child.send_signal(signum)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        codes = [child.wait() for child in children]
        # A child still starting when the signal came dies of it, before claiming anything.
        failed = [code for code in codes if code and -code not in stopped]
        if failed:
            raise CommandError(f"a sender process exited with {failed[0]}")
