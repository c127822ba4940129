"""An alert's area from what a moderator types: imported areas, place names, and CAP-style
circles ("lat,lon radius_km") and polygons ("lat,lon lat,lon …"), each becoming a geo.Zone.
Also the other way: zones as CAP <polygon> and <circle> strings."""

from django.utils.translation import gettext as _
from shapely.geometry import MultiPolygon, Polygon, mapping, shape

from sereno.geo import gazetteer, zones
from sereno.geo.models import Zone
from sereno.lib.errors import InvalidInput

# A CAP polygon is read by phones and sirens as well as maps: keep each ring small.
MAX_CAP_VERTICES = 200
MAX_CAP_PARTS = 20


def zones_from_input(*, area_codes=(), place_names=(), circles=(), polygons=()) -> list[Zone]:
    """Every zone the inputs name, in order, without duplicates. Raises InvalidInput naming
    the field whose text could not be read."""
    found = [zones.zone_for_area(code) for code in area_codes]
    for name in place_names:
        places = gazetteer.search(name, limit=1)
        if not places:
            raise InvalidInput(_("No place is called “%(name)s”.") % {"name": name}, field="places")
        found.append(zones.zone_for_place(places[0]))
    for text in circles:
        lat, lon, radius = parse_circle(text)
        found.append(zones.zone_for_circle(lat, lon, radius))
    for text in polygons:
        found.append(zones.zone_for_polygon(parse_polygon(text)))
    unique = {zone.pk: zone for zone in found}
    return list(unique.values())


def parse_circle(text: str) -> tuple[float, float, float]:
    """CAP circle: "lat,lon radius_km"."""
    try:
        point, radius = text.split()
        lat, lon = (float(v) for v in point.split(","))
        return lat, lon, float(radius)
    except ValueError as error:
        raise InvalidInput(
            _("Write a circle as “latitude,longitude radius_km”, e.g. 14.0723,-87.1921 3."),
            field="circle",
        ) from error


def parse_polygon(text: str) -> dict:
    """CAP polygon: "lat,lon lat,lon …" (closed or not) → GeoJSON (lon/lat)."""
    try:
        pairs = [tuple(float(v) for v in pair.split(",")) for pair in text.split()]
        ring = [(lon, lat) for lat, lon in pairs]
    except ValueError as error:
        raise InvalidInput(_("Write a polygon as “lat,lon lat,lon …”."), field="polygon") from error
    if ring and ring[0] != ring[-1]:
        ring.append(ring[0])
    if len(ring) < 4:
        raise InvalidInput(_("A polygon needs at least three corners."), field="polygon")
    return {"type": "Polygon", "coordinates": [ring]}


def cap_shapes(zone: Zone) -> tuple[list[str], list[str]]:
    """(polygons, circles) of one zone as CAP strings."""
    if zone.kind in (Zone.Kind.CIRCLE, Zone.Kind.PLACE) and zone.radius_km:
        return [], [f"{zone.centre_lat:.5f},{zone.centre_lon:.5f} {zone.radius_km:g}"]
    geom = shape(zone.geometry)
    parts = sorted(getattr(geom, "geoms", [geom]), key=lambda p: p.area, reverse=True)
    return [_cap_ring(part) for part in parts[:MAX_CAP_PARTS]], []


def display_geometry(zone: Zone) -> dict:
    """The zone for a web map: boundaries simplified to about 100 m, so a department does
    not weigh hundreds of kilobytes on a phone."""
    if zone.kind != Zone.Kind.AREA:
        return zone.geometry
    return mapping(shape(zone.geometry).simplify(0.001, preserve_topology=True))


def _cap_ring(part: Polygon) -> str:
    simple = _simplified(part)
    coords = list(simple.exterior.coords)
    if coords[0] != coords[-1]:
        coords.append(coords[0])
    return " ".join(f"{lat:.5f},{lon:.5f}" for lon, lat in coords)


def _simplified(part: Polygon) -> Polygon:
    """The outer ring with at most MAX_CAP_VERTICES corners (holes dropped: a warning area
    that reaches a few people too many is better than one with gaps)."""
    outline = Polygon(part.exterior)
    tolerance = 0.0005  # ≈ 50 m
    while len(outline.exterior.coords) > MAX_CAP_VERTICES:
        smaller = outline.simplify(tolerance, preserve_topology=True)
        if isinstance(smaller, Polygon | MultiPolygon) and not smaller.is_empty:
            outline = (
                smaller
                if isinstance(smaller, Polygon)
                else max(smaller.geoms, key=lambda p: p.area)
            )
        tolerance *= 2
    return outline
