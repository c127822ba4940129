from django.core.management.base import BaseCommand, CommandError

from sereno.geo import relocate


class Command(BaseCommand):
    help = (
        "Recompute every report's department and municipality from its exact point and the "
        "imported areas (import_areas does this itself after an import)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size",
            type=int,
            default=relocate.BATCH_SIZE,
            help=f"reports read and written per transaction (default {relocate.BATCH_SIZE})",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="PostgreSQL connections writing at once (default: one per CPU, at most "
            f"{relocate.MAX_WORKERS}; always 1 on SQLite)",
        )

    def handle(self, *args, **options):
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        if options["workers"] is not None and options["workers"] < 1:
            raise CommandError("--workers must be at least 1.")
        report_relocation(
            self,
            batch_size=options["batch_size"],
            workers=options["workers"],
            verbosity=options["verbosity"],
        )


def report_relocation(
    command: BaseCommand,
    *,
    batch_size: int = relocate.BATCH_SIZE,
    workers: int | None = None,
    verbosity: int = 1,
) -> None:
    """Relocate reports and print `Reports relocated: N of M.` (progress at verbosity 2)."""

    def progress(examined: int, changed: int) -> None:
        command.stdout.write(f"  {examined} examined, {changed} relocated…")

    result = relocate.relocate_reports(
        batch_size=batch_size, workers=workers, progress=progress if verbosity >= 2 else None
    )
    command.stdout.write(f"Reports relocated: {result.changed} of {result.examined}.")
