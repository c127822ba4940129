"""Where a report is: administrative areas, nearest place, and its public (snapped) location."""

import math
from dataclasses import dataclass, field

import h3

from sereno.lib.errors import InvalidInput

# Zoom bands the map aggregates on (country → street); stored on every report.
INDEX_RESOLUTIONS = (4, 6, 8, 10)

# Public location = centre of an H3 cell of this resolution. Deterministic snapping (not random
# jitter, which averages out over repeated reports of the same spot).
PUBLIC_RESOLUTION = {
    # precision: (normal, sensitive)
    "exact": (9, 7),  # ~0.1 km² / ~5 km² cells
    "place": (8, 7),
    "municipality": (6, 6),  # ~36 km²
    "department": (4, 4),  # ~1,770 km²
}
# Precisions at which a place name would claim more than the reporter gave.
_AREA_PRECISIONS = ("municipality", "department")


@dataclass
class Location:
    latitude: float
    longitude: float
    public_latitude: float
    public_longitude: float
    public_resolution: int
    cells: dict[int, int] = field(default_factory=dict)  # resolution → H3 cell (int)
    department_code: str = ""
    municipality_code: str = ""
    place_name: str = ""


def public_point(lat: float, lon: float, *, precision: str, sensitive: bool):
    """(public_lat, public_lon, resolution, {res: cell}) for a location: the centre of the H3
    cell holding the point, at the resolution PUBLIC_RESOLUTION gives for its precision and
    sensitivity (an unknown precision counts as "place")."""
    lat, lon = _check_point(lat, lon)
    normal, coarse = PUBLIC_RESOLUTION.get(precision, PUBLIC_RESOLUTION["place"])
    resolution = coarse if sensitive else normal
    cell = h3.latlng_to_cell(lat, lon, resolution)
    plat, plon = h3.cell_to_latlng(cell)
    cells = {}
    for res in INDEX_RESOLUTIONS:
        # H3 children are not geometrically nested: coarser cells must come from the parent.
        index = (
            h3.cell_to_parent(cell, res)
            if res <= resolution
            else h3.latlng_to_cell(plat, plon, res)
        )
        cells[res] = h3.str_to_int(index)
    return round(plat, 6), round(plon, 6), resolution, cells


def _check_point(lat: float, lon: float) -> tuple[float, float]:
    """The point as floats, or InvalidInput."""
    try:
        if isinstance(lat, bool) or isinstance(lon, bool):
            raise TypeError
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError):
        raise InvalidInput("Latitude and longitude must be numbers.", field="location") from None
    if not (math.isfinite(lat) and -90 <= lat <= 90):
        raise InvalidInput("Latitude must be between -90 and 90.", field="latitude")
    if not (math.isfinite(lon) and -180 <= lon <= 180):
        raise InvalidInput("Longitude must be between -180 and 180.", field="longitude")
    return lat, lon


def locate(
    lat: float, lon: float, *, precision: str, sensitive: bool, place_name: str = ""
) -> Location:
    from sereno.geo import areas, gazetteer

    lat, lon = _check_point(lat, lon)
    plat, plon, resolution, cells = public_point(lat, lon, precision=precision, sensitive=sensitive)
    department, municipality = areas.admin_codes(lat, lon)
    if not department:
        department = gazetteer.department_at(lat, lon)
    if precision == "department":
        # The point only stands for its department (often its centre): any municipality it
        # falls in is noise, and must not be published as if the reporter had said it.
        municipality = ""
    if not place_name and precision not in _AREA_PRECISIONS:
        # Named from the public point, not the exact one: a name that could be published
        # must not say more than the public point does.
        nearest = gazetteer.nearest_place(plat, plon)
        place_name = nearest.name if nearest else ""
    return Location(
        latitude=lat, longitude=lon, public_latitude=plat, public_longitude=plon,
        public_resolution=resolution, cells=cells, department_code=department,
        municipality_code=municipality, place_name=place_name,
    )  # fmt: skip
