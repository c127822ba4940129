from django.core.management.base import BaseCommand

from sereno.crowdmap.services import map_rebuild


class Command(BaseCommand):
    help = "Recount the map rollup from the reports table (exact; one transaction)."

    def handle(self, *args, **options):
        result = map_rebuild()
        self.stdout.write(
            f"Map rebuilt: {result['reports']} published reports, {result['rows']} rows "
            f"in {result['seconds']:.1f} s."
        )
