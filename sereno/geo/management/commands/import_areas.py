from django.core.management.base import BaseCommand, CommandError

from sereno.geo import areas
from sereno.lib.errors import InvalidInput


class Command(BaseCommand):
    help = "Import administrative areas (departments, municipalities) from a GeoJSON file."

    def add_arguments(self, parser):
        parser.add_argument("file", help="GeoJSON FeatureCollection, e.g. OCHA COD-AB Honduras")
        parser.add_argument(
            "--level", choices=["auto", "department", "municipality"], default="auto"
        )
        parser.add_argument(
            "--resolution",
            type=int,
            default=areas.DEFAULT_CELL_RESOLUTION,
            help="H3 resolution of the cells stored for each area (default 7, ~5 km²)",
        )

    def handle(self, *args, **options):
        try:
            result = areas.import_areas(
                options["file"], options["level"], resolution=options["resolution"]
            )
        except InvalidInput as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Areas: {result.created} created, {result.updated} updated.")
