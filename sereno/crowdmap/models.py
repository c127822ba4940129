from django.db import models


class CategorySet(models.Model):
    """A distinct set of categories that published reports carry (",3,7,"). A report counts
    once under its set, so a filter on several categories never counts it twice."""

    key = models.CharField(max_length=200, unique=True)

    def __str__(self) -> str:
        return self.key

    @property
    def ids(self) -> set[int]:
        return {int(part) for part in self.key.strip(",").split(",") if part}


COVER = ["cell", "count", "h3_r4", "h3_r6", "h3_r8"]


class MapCount(models.Model):
    """Published reports counted per H3 cell of their public point, kept exact in the same
    transaction as every write that changes what is public (see crowdmap.services).

    Four cubes, so each query reads the smallest one that can answer it: 0 per cell; 1 per
    cell and local day; 2 per cell, day, category set, department and municipality; 3 per
    cell, category set, department and municipality. Unused dimensions hold 0 or "" (never
    NULL: they are part of the key).

    Resolutions 4, 6 and 8 are H3 cells; resolution 0 is one cell for every published report
    (located or not); resolution 15 ("points") keys rows by the public point itself
    (`cell` = point_key(lat, lon), `latitude`/`longitude` = the point, h3_r4/6/8 its cells):
    exact along a viewport's edge and at street zoom."""

    cube = models.PositiveSmallIntegerField()
    resolution = models.PositiveSmallIntegerField()
    cell = models.BigIntegerField()
    # Centre of the cell: viewport queries select cells by range on these.
    latitude = models.FloatField()
    longitude = models.FloatField()
    h3_r4 = models.BigIntegerField(default=0)
    h3_r6 = models.BigIntegerField(default=0)
    h3_r8 = models.BigIntegerField(default=0)
    day = models.IntegerField(default=0)  # local date as date.toordinal()
    catset = models.IntegerField(default=0)
    department = models.CharField(max_length=8, default="", blank=True)
    municipality = models.CharField(max_length=32, default="", blank=True)
    count = models.IntegerField(default=0)
    # Where the row is, on a grid of services.TILE_DEGREES[resolution] (0 at resolution 0).
    tile = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "cube", "resolution", "cell", "day", "catset", "department", "municipality"
                ],
                name="crowdmap_mapcount_key",
            )
        ]  # fmt: skip
        # Covering indexes (every column a request reads), so that no request touches the
        # table itself: one per way in (box by latitude or by longitude, days, categories,
        # department).
        indexes = [
            models.Index(fields=["cube", "resolution", *lead, *COVER], name=f"crowdmap_mc_{name}")
            for name, lead in (
                ("lat", ["latitude", "longitude"]),
                ("lon", ["longitude", "latitude"]),
                ("day", ["day", "latitude", "longitude"]),
                ("what", ["catset", "day", "latitude", "longitude"]),
                ("dept", ["department", "day", "latitude", "longitude"]),
                ("tile", ["tile", "catset", "day", "latitude", "longitude"]),
            )
        ]

    def __str__(self) -> str:
        return f"{self.cube}/{self.resolution}/{self.cell}: {self.count}"
