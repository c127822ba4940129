"""Zones: the areas alerts are sent to and subscribers listen to, each a set of H3 cells.

Every zone is cut into cells of one resolution (ZONE_RESOLUTION, about 5 km² a cell), keeping
every cell the shape touches, so a subscriber whose circle only grazes an alert's area still
hears of it: a warning that reaches a few people too many is better than one that misses.
Matching an alert to subscribers is then "zones sharing a cell with the alert", an index
lookup on ZoneCell(cell, zone) however many subscribers there are.

Zones are found-or-created by a key (`area:HN0801`, `circle:…`, `polygon:<digest>`): one
zone per area, shared by every subscription and alert that names it.
"""

import hashlib
import json
import math

import h3
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from shapely.errors import ShapelyError
from shapely.geometry import MultiPolygon, Point, Polygon, mapping, shape
from shapely.validation import make_valid

from sereno.geo.areas import polygonal, shape_cells
from sereno.geo.gazetteer import EARTH_KM, GazetteerPlace
from sereno.geo.models import Area, AreaCell, Zone, ZoneCell
from sereno.lib.errors import InvalidInput, NotFound

ZONE_RESOLUTION = 7
MAX_RADIUS_KM = 100.0
MIN_RADIUS_KM = 0.1
# A drawn polygon larger than Honduras (≈ 112,000 km²) is a slip of the mouse, not an area.
MAX_POLYGON_KM2 = 150_000.0
MAX_VERTICES = 2_000


# --- reading -----------------------------------------------------------------------------------


def cells_of(zone_ids) -> set[int]:
    """Every cell of the given zones."""
    return set(ZoneCell.objects.filter(zone_id__in=list(zone_ids)).values_list("cell", flat=True))


def zones_touching(zone_ids):
    """Every zone that shares at least one cell with the given zones (ids or a subquery), as
    a subquery of zone ids: the database does the set intersection."""
    cells = ZoneCell.objects.filter(zone_id__in=zone_ids).values("cell")
    return ZoneCell.objects.filter(cell__in=cells).values("zone_id")


def point_cell(lat: float, lon: float) -> int:
    return h3.str_to_int(h3.latlng_to_cell(lat, lon, ZONE_RESOLUTION))


# --- finding or creating -----------------------------------------------------------------------


def zone_for_area(code: str) -> Zone:
    """The zone of an imported administrative area (department or municipality)."""
    area = Area.objects.filter(code__iexact=code.strip()).first()
    if area is None:
        raise NotFound(_("No imported area has the code %(code)s.") % {"code": code})
    geom = _valid(area.geometry)
    cells = _area_cells(area)
    centre = geom.representative_point()
    return _get_or_create(
        key=f"area:{area.code}",
        kind=Zone.Kind.AREA,
        label=area.name,
        geometry=mapping(geom),
        centre=(centre.y, centre.x),
        cells=cells,
        area_code=area.code,
    )


def zone_for_circle(lat: float, lon: float, radius_km: float, *, label: str = "") -> Zone:
    """A circle drawn on a map, or the "radius_km around a point" of a CAP circle."""
    lat, lon, radius_km = _check_circle(lat, lon, radius_km)
    ring = circle_polygon(lat, lon, radius_km)
    return _get_or_create(
        key=f"circle:{lat:.5f},{lon:.5f},{radius_km:g}",
        kind=Zone.Kind.CIRCLE,
        label=label or f"{radius_km:g} km · {lat:.4f}, {lon:.4f}",
        geometry=mapping(ring),
        centre=(lat, lon),
        cells=_shape_cells(ring),
        radius_km=radius_km,
    )


def zone_for_place(place: GazetteerPlace, radius_km: float | None = None) -> Zone:
    """A named place (town, colonia) as a circle sized by its population unless told."""
    radius = radius_km if radius_km is not None else place_radius_km(place.population)
    lat, lon, radius = _check_circle(place.latitude, place.longitude, radius)
    ring = circle_polygon(lat, lon, radius)
    return _get_or_create(
        key=f"place:{lat:.5f},{lon:.5f},{radius:g}",
        kind=Zone.Kind.PLACE,
        label=place.name,
        geometry=mapping(ring),
        centre=(lat, lon),
        cells=_shape_cells(ring),
        radius_km=radius,
    )


def zone_for_polygon(geometry: dict | str, *, label: str = "") -> Zone:
    """A polygon drawn on a map (GeoJSON geometry, lon/lat order)."""
    geom = _valid(geometry)
    vertices = sum(len(p.exterior.coords) for p in getattr(geom, "geoms", [geom]))
    if vertices > MAX_VERTICES:
        raise InvalidInput(_("A drawn area may have at most %(n)d corners.") % {"n": MAX_VERTICES})
    _check_inside(geom)
    if _km2(geom) > MAX_POLYGON_KM2:
        raise InvalidInput(_("The drawn area is larger than the country."))
    canonical = json.dumps(mapping(_rounded(geom)), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:40]
    centre = geom.representative_point()
    return _get_or_create(
        key=f"polygon:{digest}",
        kind=Zone.Kind.POLYGON,
        label=label or f"{centre.y:.4f}, {centre.x:.4f}",
        geometry=mapping(geom),
        centre=(centre.y, centre.x),
        cells=_shape_cells(geom),
    )


def place_radius_km(population: int) -> float:
    """How far "in <place>" reaches: a village's surroundings, a town, a city."""
    if population >= 500_000:
        return 10.0
    if population >= 50_000:
        return 5.0
    if population >= 5_000:
        return 3.0
    return 2.0


def circle_polygon(lat: float, lon: float, radius_km: float, sides: int = 48) -> Polygon:
    """A circle as a polygon (lon/lat), good to a few metres at Honduran latitudes."""
    dlat = math.degrees(radius_km / EARTH_KM)
    dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
    ring = [
        (
            lon + dlon * math.cos(2 * math.pi * i / sides),
            lat + dlat * math.sin(2 * math.pi * i / sides),
        )
        for i in range(sides)
    ]
    return Polygon(ring)


# --- internals ---------------------------------------------------------------------------------


def _get_or_create(
    *,
    key: str,
    kind: str,
    label: str,
    geometry: dict,
    centre: tuple[float, float],
    cells: set[int],
    area_code: str = "",
    radius_km: float | None = None,
) -> Zone:
    existing = Zone.objects.filter(key=key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            zone = Zone.objects.create(
                key=key,
                kind=kind,
                label=label[:200],
                area_code=area_code,
                geometry=geometry,
                centre_lat=centre[0],
                centre_lon=centre[1],
                radius_km=radius_km,
                cell_count=len(cells),
            )
            ZoneCell.objects.bulk_create(
                [ZoneCell(zone=zone, cell=c) for c in sorted(cells)], batch_size=2_000
            )
            return zone
    except IntegrityError:  # made by someone else at the same moment
        return Zone.objects.get(key=key)


def _area_cells(area: Area) -> set[int]:
    cells = set(AreaCell.objects.filter(area=area).values_list("cell", flat=True))
    if area.cell_resolution == ZONE_RESOLUTION or not cells:
        return cells or _shape_cells(_valid(area.geometry))
    if area.cell_resolution > ZONE_RESOLUTION:
        return {h3.str_to_int(h3.cell_to_parent(h3.int_to_str(c), ZONE_RESOLUTION)) for c in cells}
    return {
        h3.str_to_int(child)
        for c in cells
        for child in h3.cell_to_children(h3.int_to_str(c), ZONE_RESOLUTION)
    }


def _shape_cells(geom: Polygon | MultiPolygon) -> set[int]:
    return shape_cells(geom, ZONE_RESOLUTION, contain="overlap")


def _valid(geometry: dict | str) -> Polygon | MultiPolygon:
    try:
        raw = json.loads(geometry) if isinstance(geometry, str) else geometry
        if isinstance(raw, dict) and raw.get("type") == "Feature":
            raw = raw.get("geometry")
        geom = shape(raw)
    except (ValueError, TypeError, KeyError, AttributeError, ShapelyError) as exc:
        raise InvalidInput(_("The area is not a valid GeoJSON polygon.")) from exc
    if not isinstance(geom, Polygon | MultiPolygon) or geom.is_empty:
        raise InvalidInput(_("The area must be a polygon."))
    if not geom.is_valid:
        geom = polygonal(make_valid(geom))
        if geom.is_empty:
            raise InvalidInput(_("The area must be a polygon."))
    return geom


def _check_circle(lat, lon, radius_km) -> tuple[float, float, float]:
    try:
        lat, lon, radius_km = float(lat), float(lon), float(radius_km)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(_("A circle needs a latitude, a longitude and a radius.")) from exc
    if not all(map(math.isfinite, (lat, lon, radius_km))):
        raise InvalidInput(_("A circle needs a latitude, a longitude and a radius."))
    if not MIN_RADIUS_KM <= radius_km <= MAX_RADIUS_KM:
        raise InvalidInput(
            _("The radius must be between %(min)s and %(max)s km.")
            % {"min": f"{MIN_RADIUS_KM:g}", "max": f"{MAX_RADIUS_KM:g}"}
        )
    _check_inside(Point(lon, lat))
    return round(lat, 5), round(lon, 5), round(radius_km, 1)


def _check_inside(geom) -> None:
    lon0, lat0, lon1, lat1 = geom.bounds
    if not (-90 <= lat0 <= lat1 <= 90 and -180 <= lon0 <= lon1 <= 180):
        raise InvalidInput(_("Latitude must be within ±90 and longitude within ±180."))


def _rounded(geom):
    return shape(json.loads(json.dumps(mapping(geom)), parse_float=lambda v: round(float(v), 5)))


def _km2(geom) -> float:
    """Area in km² (equirectangular at the shape's latitude: enough for a sanity limit)."""
    lat = geom.centroid.y
    km_per_deg = math.radians(1) * EARTH_KM
    return geom.area * km_per_deg * km_per_deg * math.cos(math.radians(lat))
