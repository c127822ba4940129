from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from sereno.geo import areas
from sereno.geo.management.commands.relocate_reports import report_relocation
from sereno.lib.errors import InvalidInput


class Command(BaseCommand):
    help = (
        "Import administrative areas (departments, municipalities) from a GeoJSON file, then "
        "recompute the department and municipality of existing reports."
    )

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
        parser.add_argument(
            "--no-relocate",
            action="store_true",
            help="leave existing reports as they are (run relocate_reports later)",
        )

    def handle(self, *args, **options):
        try:
            result = areas.import_areas(
                options["file"], options["level"], resolution=options["resolution"]
            )
        except InvalidInput as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Areas: {result.created} created, {result.updated} updated.")
        if options["no_relocate"]:
            return
        # The import has committed: existing reports now get the codes locate() would give.
        try:
            report_relocation(self, verbosity=options["verbosity"])
        except DatabaseError as exc:
            raise CommandError(
                f"The areas were imported, but updating existing reports failed ({exc}). "
                "Run `sereno manage relocate_reports` to finish."
            ) from exc
