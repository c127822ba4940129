from django.core.management.base import BaseCommand, CommandError

from sereno.geo import areas
from sereno.lib.errors import InvalidInput


class Command(BaseCommand):
    help = "Import local places (colonias, aldeas) from a CSV file: name,latitude,longitude,..."

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV, UTF-8, header name,latitude,longitude[,...]")

    def handle(self, *args, **options):
        try:
            result = areas.import_places(options["file"])
        except InvalidInput as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Places: {result.created} created, {result.updated} updated.")
