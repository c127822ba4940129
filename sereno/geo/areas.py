"""Administrative areas (departments, municipalities) from imported boundaries, and local places.

Boundaries come as GeoJSON, typically OCHA's COD-AB for Honduras (see docs/geo.md). Each area
is kept as its polygon (for exact point-in-polygon) and as a set of H3 cells (for set queries:
reports in an area, subscriptions by area).
"""

import csv
import io
import json
import math
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import h3
import numpy as np
import shapely
from django.db import transaction
from django.db.models import Count, Max
from shapely.errors import ShapelyError
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.validation import make_valid

from sereno.geo.models import Area, AreaCell, Place
from sereno.lib.errors import InvalidInput

DEFAULT_CELL_RESOLUTION = 7
MAX_CELL_RESOLUTION = 12
# How long a process trusts its area index before asking the database whether it changed.
CHECK_SECONDS = 5.0
MAX_ERRORS = 20
# Place.population is a PositiveIntegerField: the largest value every database accepts.
MAX_POPULATION = 2_147_483_647
# Control characters (NUL above all: PostgreSQL refuses it in text) have no place in a name.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int


# --- reading -----------------------------------------------------------------------------------


def _read_text(path_or_fileobj) -> str:
    if isinstance(path_or_fileobj, str | Path):
        try:
            data = Path(path_or_fileobj).read_bytes()
        except OSError as exc:
            raise InvalidInput(f"Cannot read {path_or_fileobj}: {exc.strerror or exc}") from exc
    else:
        data = path_or_fileobj.read()
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"The file is not UTF-8 text (byte {exc.start}); save it as UTF-8."
            ) from exc
    return data.removeprefix("\ufeff")


# --- areas -------------------------------------------------------------------------------------


@dataclass
class _Feature:
    code: str
    name: str
    level: str
    parent_code: str
    geometry: Polygon | MultiPolygon


def _prop(props: dict, *names: str) -> str:
    for name in names:
        value = props.get(name.upper())
        if value is None or value == "":
            continue
        if isinstance(value, dict | list):
            raise ValueError(f"property {name} must be text, not {type(value).__name__}")
        return str(value).strip()
    return ""


_LEVEL_NAMES = {
    "department": Area.Level.DEPARTMENT,
    "departamento": Area.Level.DEPARTMENT,
    "adm1": Area.Level.DEPARTMENT,
    "municipality": Area.Level.MUNICIPALITY,
    "municipio": Area.Level.MUNICIPALITY,
    "adm2": Area.Level.MUNICIPALITY,
}


_NAMES = {
    adm: tuple(f"{adm}_{suffix}" for suffix in ("ES", "NAME", "EN", "REF"))
    for adm in ("ADM1", "ADM2")
}


def _fields(props: dict, level: str) -> tuple[str, str, str, str]:
    """(code, name, parent_code, level) of a feature, from OCHA or generic properties
    (keys upper-cased: COD-AB releases differ in case)."""
    generic_level = _LEVEL_NAMES.get(_prop(props, "level").lower(), "")
    if level == "auto":
        if _prop(props, "ADM2_PCODE"):
            level = Area.Level.MUNICIPALITY
        elif _prop(props, "ADM1_PCODE"):
            level = Area.Level.DEPARTMENT
        elif generic_level:
            level = generic_level
        else:
            level = (
                Area.Level.MUNICIPALITY if _prop(props, "parent_code") else Area.Level.DEPARTMENT
            )
    if _prop(props, "code"):
        return _prop(props, "code"), _prop(props, "name"), _prop(props, "parent_code"), level
    if level == Area.Level.MUNICIPALITY:
        code, name = _prop(props, "ADM2_PCODE"), _prop(props, *_NAMES["ADM2"])
        return code, name, _prop(props, "ADM1_PCODE"), level
    code, name = _prop(props, "ADM1_PCODE"), _prop(props, *_NAMES["ADM1"])
    return code, name, "", level


def polygonal(geom) -> Polygon | MultiPolygon:
    """The polygons of a geometry (what make_valid or a union may turn into a collection)."""
    if isinstance(geom, Polygon | MultiPolygon):
        return geom
    parts = [g for g in getattr(geom, "geoms", ()) if isinstance(g, Polygon | MultiPolygon)]
    polygons = [p for part in parts for p in getattr(part, "geoms", [part])]
    return MultiPolygon(polygons) if polygons else Polygon()


def _geometry(raw, where: str) -> Polygon | MultiPolygon:
    if not isinstance(raw, dict) or raw.get("type") not in ("Polygon", "MultiPolygon"):
        kind = raw.get("type") if isinstance(raw, dict) else type(raw).__name__
        raise InvalidInput(f"{where}: geometry must be a Polygon or MultiPolygon, not {kind}.")
    try:
        geom = shapely.force_2d(shape(raw))
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, ShapelyError) as exc:
        raise InvalidInput(f"{where}: invalid {raw['type']} coordinates ({exc}).") from exc
    if geom.is_empty:
        raise InvalidInput(f"{where}: the geometry is empty.")
    min_lon, min_lat, max_lon, max_lat = geom.bounds
    if not all(map(math.isfinite, geom.bounds)) or not (
        -180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90
    ):
        raise InvalidInput(
            f"{where}: coordinates are not longitude/latitude in degrees (WGS84, EPSG:4326); "
            "is the file in a projected system? Re-export it as WGS84."
        )
    if not geom.is_valid:
        geom = polygonal(make_valid(geom))
        if geom.is_empty or not geom.is_valid:
            raise InvalidInput(f"{where}: the polygon is invalid and cannot be repaired.")
    return geom


def _parse_features(text: str, level: str) -> list[_Feature]:
    if level not in ("auto", *Area.Level.values):
        raise InvalidInput(f"Unknown level {level!r}: use auto, department or municipality.")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"The file is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
        ) from exc
    except RecursionError:
        raise InvalidInput("The file is not GeoJSON: its JSON is nested too deeply.") from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        kind = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise InvalidInput(f"Expected a GeoJSON FeatureCollection, got {kind!r}.")
    raw_features = doc.get("features")
    if not isinstance(raw_features, list) or not raw_features:
        raise InvalidInput("The FeatureCollection has no features.")
    by_code: dict[str, _Feature] = {}
    for number, raw in enumerate(raw_features, start=1):
        if not isinstance(raw, dict) or raw.get("type") != "Feature":
            raise InvalidInput(f"Feature {number}: not a GeoJSON Feature.")
        props = raw.get("properties") or {}
        if not isinstance(props, dict):
            raise InvalidInput(f"Feature {number}: properties must be an object.")
        props = {str(key).upper(): value for key, value in props.items()}
        try:
            code, name, parent, feature_level = _fields(props, level)
        except ValueError as exc:
            raise InvalidInput(f"Feature {number}: {exc}.") from None
        where = f"Feature {number}" + (f" ({code})" if code else "")
        if any(_CONTROL.search(text) for text in (code, name, parent)):
            raise InvalidInput(f"Feature {number}: control characters in a code or name.")
        if not code or not name:
            missing = "code" if not code else "name"
            raise InvalidInput(
                f"{where}: missing {missing} (expected ADM1_PCODE/ADM1_ES, ADM2_PCODE/ADM2_ES "
                "or code/name properties)."
            )
        if len(code) > 32 or len(name) > 200:
            raise InvalidInput(f"{where}: code or name too long (32 and 200 characters at most).")
        if feature_level == Area.Level.DEPARTMENT and len(code) > 8:
            raise InvalidInput(f"{where}: department codes have 8 characters at most.")
        if len(parent) > 8:
            raise InvalidInput(f"{where}: parent (department) codes have 8 characters at most.")
        geometry = _geometry(raw.get("geometry"), where)
        if code in by_code:  # e.g. departments read from a municipality file: dissolve
            previous = by_code[code]
            previous.geometry = polygonal(shapely.unary_union([previous.geometry, geometry]))
        else:
            by_code[code] = _Feature(code, name, feature_level, parent, geometry)
    return list(by_code.values())


def shape_cells(
    geom: Polygon | MultiPolygon, resolution: int, *, contain: str = "center"
) -> set[int]:
    """The H3 cells of a shape: those whose centre it contains (areas), or every cell it
    touches (`contain="overlap"`, zones). A shape smaller than a cell still has its cell."""
    cells: set[int] = set()
    for part in getattr(geom, "geoms", [geom]):
        if contain == "center":
            found = h3.geo_to_cells(part, resolution)
        else:
            found = h3.h3shape_to_cells_experimental(
                h3.geo_to_h3shape(part), resolution, contain=contain
            )
        if not found:
            point = part.representative_point()
            found = [h3.latlng_to_cell(point.y, point.x, resolution)]
        cells.update(h3.str_to_int(c) for c in found)
    return cells


def import_areas(
    path_or_fileobj, level: str = "auto", *, resolution: int = DEFAULT_CELL_RESOLUTION
) -> ImportResult:
    """Create or update areas from a GeoJSON FeatureCollection; areas missing from the file
    are kept."""
    if isinstance(resolution, bool) or not isinstance(resolution, int):
        raise InvalidInput("The H3 resolution must be a whole number.")
    if not 0 <= resolution <= MAX_CELL_RESOLUTION:
        raise InvalidInput(f"The H3 resolution must be between 0 and {MAX_CELL_RESOLUTION}.")
    features = _parse_features(_read_text(path_or_fileobj), level)
    cell_sets = {f.code: shape_cells(f.geometry, resolution) for f in features}
    created = updated = 0
    with transaction.atomic():
        existing = Area.objects.select_for_update().in_bulk(
            [f.code for f in features], field_name="code"
        )
        for feature in features:
            area = existing.get(feature.code) or Area(code=feature.code)
            min_lon, min_lat, max_lon, max_lat = feature.geometry.bounds
            area.name = feature.name
            area.level = feature.level
            area.parent_code = feature.parent_code
            if feature.level == Area.Level.DEPARTMENT:
                area.department_code = feature.code
            else:
                area.department_code = feature.parent_code or _department_of(feature.code)
            area.geometry = json.loads(json.dumps(mapping(feature.geometry)))
            area.min_lat, area.min_lon, area.max_lat, area.max_lon = (
                min_lat, min_lon, max_lat, max_lon
            )  # fmt: skip
            area.cell_resolution = resolution
            if area.pk:
                updated += 1
                AreaCell.objects.filter(area=area).delete()
            else:
                created += 1
            area.save()
            AreaCell.objects.bulk_create(
                (AreaCell(area=area, cell=cell) for cell in sorted(cell_sets[feature.code])),
                batch_size=2000,
            )
        transaction.on_commit(invalidate)
    invalidate()
    return ImportResult(created=created, updated=updated)


def _department_of(code: str) -> str:
    # OCHA municipality P-codes extend their department's: HN0801 → HN08.
    return code[:4] if len(code) == 6 and code[:2].isalpha() and code[2:].isdigit() else ""


# --- point → areas -----------------------------------------------------------------------------


class _AreaIndex:
    def __init__(self, rows: Iterable[Area]):
        self.levels: dict[str, tuple[shapely.STRtree, list, list[Area]]] = {}
        grouped: dict[str, list[Area]] = {}
        for area in rows:
            grouped.setdefault(area.level, []).append(area)
        for level, areas in grouped.items():
            geoms = [shape(a.geometry) for a in areas]
            for geom in geoms:
                shapely.prepare(geom)
            self.levels[level] = (shapely.STRtree(geoms), geoms, areas)

    def find(self, level: str, lon: float, lat: float) -> Area | None:
        if level not in self.levels:
            return None
        tree, geoms, areas = self.levels[level]
        hits = sorted(tree.query(shapely.Point(lon, lat)), key=lambda i: areas[i].code)
        for i in hits:
            if shapely.intersects_xy(geoms[i], lon, lat):
                return areas[i]
        return None

    def find_many(self, level: str, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """`find` for many points: for each, the position in `self.levels[level][2]` of the
        area `find` would return, or -1. Same candidates (the STR-tree's bounding boxes), same
        exact test (`intersects_xy` on the prepared polygon, borders included), and the same
        winner when areas overlap (the smallest code), without a Python loop over points."""
        found = np.full(len(lon), -1, dtype=np.int64)
        if level not in self.levels or not len(lon):
            return found
        tree, geoms, areas = self.levels[level]
        by_code = sorted(range(len(areas)), key=lambda i: areas[i].code)
        rank = np.empty(len(areas), dtype=np.int64)
        rank[by_code] = np.arange(len(areas))
        point, area = tree.query(shapely.points(lon, lat))
        order = np.argsort(area, kind="stable")
        point, area = point[order], area[order]
        best = np.full(len(lon), len(areas), dtype=np.int64)
        bounds = np.flatnonzero(np.diff(area)) + 1
        for points, ids in zip(np.split(point, bounds), np.split(area, bounds), strict=True):
            if not len(points):
                continue
            i = int(ids[0])
            hit = points[shapely.intersects_xy(geoms[i], lon[points], lat[points])]
            best[hit] = np.minimum(best[hit], rank[i])  # a point meets each area once
        inside = best < len(areas)
        found[inside] = np.asarray(by_code, dtype=np.int64)[best[inside]]
        return found


_lock = threading.Lock()
_state: dict = {"version": None, "checked": float("-inf"), "index": None}


def invalidate() -> None:
    """Forget this process's area index (after an import, or in tests)."""
    with _lock:
        _state.update(version=None, checked=float("-inf"), index=None)


def _area_index() -> _AreaIndex | None:
    now = time.monotonic()
    if now - _state["checked"] < CHECK_SECONDS:
        return _state["index"]
    with _lock:
        if now - _state["checked"] < CHECK_SECONDS:
            return _state["index"]
        stats = Area.objects.aggregate(n=Count("id"), last=Max("imported_at"), top=Max("id"))
        version = (stats["n"], stats["last"], stats["top"])
        if version != _state["version"]:
            rows = Area.objects.only(
                "code", "level", "parent_code", "department_code", "geometry"
            ).order_by("code")
            _state["index"] = _AreaIndex(rows) if stats["n"] else None
            _state["version"] = version
        _state["checked"] = now
        return _state["index"]


def admin_codes(lat: float, lon: float) -> tuple[str, str]:
    """(department_code, municipality_code) of the imported areas containing a point; ("", "")
    when none is imported or the point lies outside them."""
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return "", ""
    index = _area_index()
    if index is None:
        return "", ""
    municipality = index.find(Area.Level.MUNICIPALITY, lon, lat)
    if municipality is not None and municipality.department_code:
        return municipality.department_code, municipality.code
    department = index.find(Area.Level.DEPARTMENT, lon, lat)
    return (department.code if department else ""), (municipality.code if municipality else "")


def admin_codes_many(lats, lons) -> tuple[np.ndarray, np.ndarray]:
    """`admin_codes` of many points at once: two arrays (department codes, municipality codes)
    with, for every point, exactly the answer `admin_codes` gives for it. Vectorised: one
    STR-tree query per level and one point-in-polygon call per area, not one per point."""
    lat = np.asarray(lats, dtype=float).ravel()
    lon = np.asarray(lons, dtype=float).ravel()
    departments = np.full(len(lat), "", dtype=object)
    municipalities = np.full(len(lat), "", dtype=object)
    index = _area_index()
    if index is None:
        return departments, municipalities
    todo = np.flatnonzero(np.isfinite(lat) & np.isfinite(lon))

    def codes(level: str, attr: str) -> np.ndarray:
        # One entry per area of the level, then "" so that index -1 (no area) reads "".
        rows = index.levels[level][2] if level in index.levels else []
        return np.array([getattr(a, attr) for a in rows] + [""], dtype=object)

    muni_code = codes(Area.Level.MUNICIPALITY, "code")
    muni_dept = codes(Area.Level.MUNICIPALITY, "department_code")
    muni = index.find_many(Area.Level.MUNICIPALITY, lon[todo], lat[todo])
    whole = muni_dept[muni] != ""  # a municipality that knows its department answers alone
    departments[todo[whole]] = muni_dept[muni[whole]]
    municipalities[todo] = muni_code[muni]
    rest = todo[~whole]
    dept = index.find_many(Area.Level.DEPARTMENT, lon[rest], lat[rest])
    departments[rest] = codes(Area.Level.DEPARTMENT, "code")[dept]
    return departments, municipalities


# --- places ------------------------------------------------------------------------------------

_COLUMNS = {
    "name": ("name", "nombre"),
    "latitude": ("latitude", "lat", "latitud"),
    "longitude": ("longitude", "lon", "lng", "long", "longitud"),
    "kind": ("kind", "tipo"),
    "department_code": ("department_code", "department"),
    "municipality_code": ("municipality_code", "municipality"),
    "population": ("population", "poblacion", "población"),
}


def _columns(header: list[str]) -> dict[str, int]:
    names = [h.strip().lower() for h in header]
    found = {}
    for field, aliases in _COLUMNS.items():
        for alias in aliases:
            if alias in names:
                found[field] = names.index(alias)
                break
    missing = [f for f in ("name", "latitude", "longitude") if f not in found]
    if missing:
        raise InvalidInput(
            f"Line 1: missing column(s) {', '.join(missing)}; the header must have "
            "name,latitude,longitude[,kind,department_code,municipality_code,population]."
        )
    return found


def _number(value: str, decimal_comma: bool) -> float:
    value = value.strip()
    if decimal_comma:
        value = value.replace(",", ".")
    return float(value)


def _looks_swapped(lat: float, lon: float) -> bool:
    from sereno.geo import gazetteer

    return (
        abs(lon) <= 90
        and gazetteer.nearest_place(lat, lon, max_km=100) is None
        and gazetteer.nearest_place(lon, lat, max_km=100) is not None
    )


def _parse_place(row: list[str], cols: dict[str, int], decimal_comma: bool) -> dict:
    def get(field: str) -> str:
        i = cols.get(field)
        return row[i].strip() if i is not None and i < len(row) else ""

    name = " ".join(get("name").split())
    if not name:
        raise ValueError("the name is empty")
    if _CONTROL.search(name):
        raise ValueError("the name has control characters")
    if len(name) > 200:
        raise ValueError("the name is longer than 200 characters")
    if not _key(name):
        raise ValueError(f"the name {name!r} has no letters or digits")
    coords = {}
    for field, limit in (("latitude", 90), ("longitude", 180)):
        text = get(field)
        try:
            value = _number(text, decimal_comma)
        except ValueError:
            raise ValueError(f"{field} {text!r} is not a number") from None
        if not math.isfinite(value) or abs(value) > limit:
            raise ValueError(f"{field} {text!r} is outside -{limit}..{limit}")
        coords[field] = round(value, 6)
    if _looks_swapped(coords["latitude"], coords["longitude"]):
        raise ValueError("latitude and longitude look swapped")
    population = get("population") or "0"
    if not (population.isascii() and population.isdigit()):
        raise ValueError(f"population {population!r} is not a whole number")
    if int(population) > MAX_POPULATION:
        raise ValueError(f"population {population!r} is too large")
    kind = get("kind") or "colonia"
    department, municipality = get("department_code").upper(), get("municipality_code").upper()
    if len(kind) > 32 or len(department) > 8 or len(municipality) > 32:
        raise ValueError("kind, department_code or municipality_code is too long")
    if any(_CONTROL.search(text) for text in (kind, department, municipality)):
        raise ValueError("control characters in kind, department_code or municipality_code")
    return {
        "name": name,
        "key": _key(name),
        **coords,
        "kind": kind,
        "department_code": department,
        "municipality_code": municipality,
        "population": int(population),
    }


def _key(name: str) -> str:
    from sereno.geo import gazetteer

    return gazetteer.normalize(name)[:200]


def _fill_codes(place: dict) -> None:
    from sereno.geo import gazetteer

    if place["department_code"] and place["municipality_code"]:
        return
    if place["municipality_code"] and not place["department_code"]:
        parent = Area.objects.filter(code=place["municipality_code"]).first()
        place["department_code"] = (
            parent.department_code if parent else _department_of(place["municipality_code"])
        )
        if place["department_code"]:
            return
    department, municipality = admin_codes(place["latitude"], place["longitude"])
    if not place["municipality_code"] and (
        not place["department_code"] or place["department_code"] == department
    ):
        place["municipality_code"] = municipality
    if not place["department_code"]:
        place["department_code"] = department or gazetteer.department_at(
            place["latitude"], place["longitude"]
        )


def import_places(path_or_fileobj) -> ImportResult:
    """Create or update local places from a CSV file; all or nothing."""
    text = _read_text(path_or_fileobj)
    first_line = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count) if first_line.strip() else ","
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        places, errors = _read_places(rows, delimiter)
    except csv.Error as exc:
        raise InvalidInput(f"Line {rows.line_num}: not readable as CSV ({exc}).") from None
    if errors:
        raise InvalidInput(
            "Nothing imported; fix these lines: " + "; ".join(errors), details={"errors": errors}
        )
    if not places:
        raise InvalidInput("The file has no places.")
    for place in places.values():
        _fill_codes(place)
    return _upsert_places(places)


def _read_places(rows, delimiter: str) -> tuple[dict[tuple[str, float, float], dict], list[str]]:
    header = next(rows, None)
    if not header or not any(h.strip() for h in header):
        raise InvalidInput("The file is empty; it needs a header line name,latitude,longitude.")
    cols = _columns(header)
    places: dict[tuple[str, float, float], dict] = {}
    errors: list[str] = []
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue
        try:
            place = _parse_place(row, cols, decimal_comma=delimiter != ",")
        except ValueError as exc:
            errors.append(f"line {rows.line_num}: {exc}")
            if len(errors) >= MAX_ERRORS:
                break
            continue
        places[(place["key"], place["latitude"], place["longitude"])] = place
    return places, errors


def _upsert_places(places: dict[tuple[str, float, float], dict]) -> ImportResult:
    fields = ["name", "kind", "department_code", "municipality_code", "population"]
    keys = sorted({key for key, _, _ in places})
    with transaction.atomic():
        existing = {}
        for start in range(0, len(keys), 500):
            for row in Place.objects.select_for_update().filter(key__in=keys[start : start + 500]):
                existing[(row.key, round(row.latitude, 6), round(row.longitude, 6))] = row
        new, changed = [], []
        for key, data in places.items():
            row = existing.get(key)
            if row is None:
                new.append(Place(**data))
            else:
                for field in fields:
                    setattr(row, field, data[field])
                changed.append(row)
        Place.objects.bulk_create(new, batch_size=500)
        Place.objects.bulk_update(changed, fields, batch_size=500)
    return ImportResult(created=len(new), updated=len(changed))
