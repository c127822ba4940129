from django.db import models
from django.utils.translation import gettext_lazy as _


class Area(models.Model):
    """An administrative area imported from boundaries (e.g. OCHA COD-AB): department or
    municipality. `code` is the P-code (HN08, HN0801)."""

    class Level(models.TextChoices):
        DEPARTMENT = "department", _("department")
        MUNICIPALITY = "municipality", _("municipality")

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    level = models.CharField(max_length=16, choices=Level.choices)
    parent_code = models.CharField(max_length=32, blank=True, db_index=True)
    department_code = models.CharField(max_length=8, blank=True, db_index=True)
    geometry = models.JSONField()  # GeoJSON geometry, WGS84
    min_lat = models.FloatField()
    min_lon = models.FloatField()
    max_lat = models.FloatField()
    max_lon = models.FloatField()
    cell_resolution = models.PositiveSmallIntegerField(default=7)
    imported_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["level", "name"]
        permissions = [("manage_areas", "Can import areas and places")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class AreaCell(models.Model):
    """An area as a set of H3 cells, so matching a point or another area is a set intersection."""

    area = models.ForeignKey(Area, on_delete=models.CASCADE, related_name="cells")
    cell = models.BigIntegerField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["area", "cell"], name="areacell_unique")]

    def __str__(self) -> str:
        return f"{self.area_id}:{self.cell:x}"


class Place(models.Model):
    """A local place (colonia, aldea) an organisation added, beyond the built-in gazetteer."""

    name = models.CharField(max_length=200)
    key = models.CharField(max_length=200, db_index=True)  # accent- and case-folded name
    latitude = models.FloatField()
    longitude = models.FloatField()
    kind = models.CharField(max_length=32, default="colonia")
    department_code = models.CharField(max_length=8, blank=True)
    municipality_code = models.CharField(max_length=32, blank=True)
    population = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["key", "latitude", "longitude"], name="place_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Zone(models.Model):
    """An area as alerts and subscriptions name it: an administrative area, a place with a
    radius, a circle or a polygon drawn on a map. Each is also a set of H3 cells at one
    resolution (ZoneCell), so "does this alert reach this subscriber" is a set intersection.
    Zones are shared: everyone subscribed to Distrito Central points at one zone."""

    class Kind(models.TextChoices):
        AREA = "area", _("administrative area")
        PLACE = "place", _("place")
        CIRCLE = "circle", _("circle")
        POLYGON = "polygon", _("polygon")

    # What makes two zones the same ("area:HN0801", "circle:14.07230,-87.19210,2.5", …).
    key = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    label = models.CharField(max_length=200)
    area_code = models.CharField(max_length=32, blank=True)
    geometry = models.JSONField()  # GeoJSON polygon or multipolygon, WGS84
    centre_lat = models.FloatField()
    centre_lon = models.FloatField()
    radius_km = models.FloatField(null=True, blank=True)  # circles and places
    cell_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.label


class ZoneCell(models.Model):
    zone = models.ForeignKey(Zone, on_delete=models.CASCADE, related_name="cells")
    cell = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["zone", "cell"], name="zonecell_unique")]
        # Matching goes from cells to zones.
        indexes = [models.Index(fields=["cell", "zone"], name="zonecell_cell_zone")]

    def __str__(self) -> str:
        return f"{self.zone_id}:{self.cell:x}"
