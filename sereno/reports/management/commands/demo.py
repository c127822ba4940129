"""`sereno demo --reports N [--seed S] [--days D] [--if-empty]`: synthetic demo reports."""

from django.core.management.base import BaseCommand, CommandError

from sereno.reports.demo import load


class Command(BaseCommand):
    help = "Load synthetic Honduran incident reports (for demos and benchmarks)."

    def add_arguments(self, parser):
        parser.add_argument("--reports", type=int, default=2000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--days", type=int, default=365, help="spread over the last D days")
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing if any report exists"
        )

    def handle(self, *args, reports, seed, days, if_empty, **options):
        if reports < 0 or days < 1:
            raise CommandError("--reports must be ≥ 0 and --days ≥ 1")
        verbose = options.get("verbosity", 1) >= 1

        def progress(done: int, total: int, seconds: float) -> None:
            if verbose and total > 50_000:
                self.stdout.write(f"  {done:,} / {total:,} reports ({seconds:.1f} s)")

        result = load(reports=reports, seed=seed, days=days, if_empty=if_empty, progress=progress)
        if result.skipped:
            if verbose:
                self.stdout.write("reports already exist: demo data not loaded")
            return
        if not verbose:
            return
        for note in result.notes:
            self.stdout.write(note)
        for c in result.clusters:
            self.stdout.write(
                f"cluster: {c.reports} × {c.category} near {c.place}, within {c.radius_km} km "
                f"of ({c.latitude}, {c.longitude}), {c.start} → {c.end}"
            )
        rate = result.created / result.seconds if result.seconds else 0
        self.stdout.write(
            f"loaded {result.created} reports in {result.seconds:.1f} s ({rate:,.0f}/s)"
        )
