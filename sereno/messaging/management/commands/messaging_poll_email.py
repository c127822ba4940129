"""`sereno poll-email`: fetch inbound e-mail from the reply mailboxes (IMAP), once or in a loop."""

import time

from django.core.management.base import BaseCommand, CommandError

from sereno.messaging.email_tasks import poll_mailboxes
from sereno.messaging.models import Channel


class Command(BaseCommand):
    help = "Fetch unseen mail of every enabled e-mail channel (or those given) and route it."

    def add_arguments(self, parser):
        parser.add_argument(
            "--channel",
            action="append",
            default=[],
            help="channel id or uuid (repeatable); default: every enabled one",
        )
        parser.add_argument("--loop", action="store_true", help="keep polling")
        parser.add_argument("--interval", type=float, default=60.0,
                            help="seconds between polls with --loop (default 60)")  # fmt: skip

    def handle(self, *args, **options):
        channels = None
        if options["channel"]:
            channels = []
            for ref in options["channel"]:
                query = {"pk": int(ref)} if ref.isdigit() else {"uuid": ref}
                channel = Channel.objects.filter(kind=Channel.Kind.EMAIL, **query).first()
                if channel is None:
                    raise CommandError(f"no e-mail channel {ref}")
                channels.append(channel)
        while True:
            counts = poll_mailboxes(channels=channels)
            for channel_id, count in sorted(counts.items()):
                if count < 0:
                    self.stderr.write(f"channel {channel_id}: mailbox not reachable")
                else:
                    self.stdout.write(f"channel {channel_id}: {count} new")
            if not options["loop"]:
                return
            time.sleep(max(1.0, options["interval"]))
