"""First-run setup used by `sereno run` / `make run`: migrate, demo data when empty, an admin."""

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Migrate, load demo data into an empty database, and create an admin if there is none."

    def add_arguments(self, parser):
        parser.add_argument("--demo-reports", type=int, default=20000)

    def handle(self, *args, **options):
        call_command("migrate", "--noinput", verbosity=0)
        call_command("createcachetable", verbosity=0)
        if options["demo_reports"] > 0:
            call_command("demo", reports=options["demo_reports"], if_empty=True)
        call_command("createadmin", username="admin", if_none=True)
