"""`sereno fan-out`: write (or finish) the outbox rows of published alerts by hand.

The worker does this by itself after publishing and resumes a fan-out whose worker died; this
command is for operators who want to see it happen, and for the crash tests.
"""

from django.core.management.base import BaseCommand, CommandError

from sereno.alerts import fanout
from sereno.alerts.models import Alert


class Command(BaseCommand):
    help = "Fan out a published alert (or every unfinished one) to its subscribers."

    def add_arguments(self, parser):
        parser.add_argument("--alert", type=int, help="alert id; default: every unfinished one")
        parser.add_argument("--batch", type=int, default=fanout.BATCH,
                            help=f"contacts per transaction (default {fanout.BATCH})")  # fmt: skip

    def handle(self, *args, **options):
        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1")
        if options["alert"] is None:
            count = fanout.resume_unfinished(stale_seconds=0)
            self.stdout.write(f"{count} unfinished fan-outs run")
            return
        if not Alert.objects.filter(pk=options["alert"]).exists():
            raise CommandError(f"no alert {options['alert']}")
        result = fanout.fan_out(alert_id=options["alert"], batch_size=options["batch"])
        self.stdout.write(
            f"alert {options['alert']}: {result.recipients} recipients written in "
            f"{result.batches} batches, {result.seconds:.2f} s"
        )
