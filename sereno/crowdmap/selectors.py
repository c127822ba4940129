"""Reads for the public map: exact counts per H3 cell, per public point and per day.

Counts come from the rollup (`MapCount`) for every cell that lies wholly inside the viewport,
and from the reports table only along the viewport's edge, where a cell can hold reports on
both sides of it. A report is counted when its public point is inside the viewport, so the
features always add up to the number of matching published reports there.
"""

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache

import h3
from django.db import connection
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from sereno.crowdmap.models import CategorySet, MapCount
from sereno.crowdmap.services import (
    CUBE_CELL,
    CUBE_DAY,
    CUBE_FULL,
    CUBE_WHAT,
    POINTS,
    TILE_DEGREES,
    TILE_ROW,
    cell_centre,
)
from sereno.lib.errors import InvalidInput
from sereno.reports.models import Report, Status
from sereno.reports.selectors import (
    category_with_descendants,
    filter_when_and_where,
    parse_bbox,
)

KM_PER_DEGREE = 111.32
# Street zoom and closer: public points instead of hexagons.
POINT_ZOOM = 14
MAX_ZOOM = 22
REPORTS_PER_POINT = 10
# A report's public point lies within this many average edge lengths of the centre of its
# cell at each stored resolution (checked over Honduras in tests/crowdmap/test_margin.py; the
# worst case measured is about 1.02 per axis).
MARGIN_EDGES = 2.0
# Viewports spanning more cells than this at the zoom's resolution get a coarser one.
MAX_CELLS = 25_000
# Filtered views with more reports than this along their edge read it through the filter's
# index instead of four strips of the viewport.
RING_FROM = 5_000
# Points mode on a viewport wider than this (degrees) shows hexagons instead.
MAX_POINT_SPAN = 0.5
# A filtered read goes by tile when it takes at most this many index lookups (tiles x
# category sets); beyond, one pass over the filter's own index is cheaper.
MAX_TILE_PROBES = 2_000


def resolution_for_zoom(zoom: int) -> int | None:
    """H3 resolution of the hexagons at this zoom, None for points."""
    if zoom >= POINT_ZOOM:
        return None
    if zoom <= 8:
        return 4
    if zoom <= 10:
        return 6
    return 8


@dataclass
class MapQuery:
    bbox: tuple[float, float, float, float] | None = None
    category_ids: list[int] | None = None
    date_from: date | None = None
    date_to: date | None = None
    department: str | None = None
    municipality: str | None = None
    catsets: list[int] | None = field(default=None, repr=False)

    @property
    def has_dates(self) -> bool:
        return bool(self.date_from or self.date_to)

    @property
    def has_what(self) -> bool:
        return bool(self.category_ids or self.department or self.municipality)


def map_query(
    *, bbox: str | None, category=None, date_from=None, date_to=None, department=None,
    municipality=None,
) -> MapQuery:  # fmt: skip
    """Validate the public filters (the same as the report list's) into a MapQuery."""
    box = None
    if bbox is not None:
        box = parse_bbox(bbox)
        if box[0] > box[2]:
            raise InvalidInput(_("bbox must not cross the antimeridian."), field="bbox")
    if date_from and date_to and date_from > date_to:
        raise InvalidInput(_("date_from is after date_to."), field="date_from")
    query = MapQuery(bbox=box, date_from=date_from, date_to=date_to,
                     department=department or None, municipality=municipality or None)  # fmt: skip
    slugs = [s for s in (category or []) if s]
    if slugs:
        query.category_ids = category_with_descendants(slugs)
        if not query.category_ids:
            raise InvalidInput(_("Unknown category."), field="category")
        wanted = set(query.category_ids)
        query.catsets = [s.pk for s in CategorySet.objects.all() if s.ids & wanted]
    return query


# --- the reports table (edges, points, naive) --------------------------------------------------


def public_reports(query: MapQuery, bbox=None) -> QuerySet:
    """Published reports matching the filters, in `bbox` (default: the query's; False: any)
    by public point. The category filter is a correlated EXISTS: cheap for the few reports of
    a viewport's edge, where an IN would read every report of the category."""
    qs = Report.objects.filter(status=Status.PUBLISHED, merged_into__isnull=True)
    if query.category_ids:
        links = Report.categories.through.objects.filter(
            report_id=OuterRef("pk"), category_id__in=query.category_ids
        )
        qs = qs.filter(Exists(links))
    qs = filter_when_and_where(
        qs, query.date_from, query.date_to, query.department, query.municipality
    )
    bbox = query.bbox if bbox is None else bbox
    if bbox:
        west, south, east, north = bbox
        qs = qs.filter(
            public_latitude__gte=south, public_latitude__lte=north,
            public_longitude__gte=west, public_longitude__lte=east,
        )  # fmt: skip
    return qs


# --- the rollup --------------------------------------------------------------------------------


def _margin(resolution: int, bbox) -> tuple[float, float]:
    km = MARGIN_EDGES * h3.average_hexagon_edge_length(resolution, "km")
    widest = min(89.0, max(abs(bbox[1]), abs(bbox[3])))
    return km / KM_PER_DEGREE, km / (KM_PER_DEGREE * math.cos(math.radians(widest)))


def _shrink(bbox, dlat: float, dlon: float, times: int):
    west, south, east, north = bbox
    return west + times * dlon, south + times * dlat, east - times * dlon, north - times * dlat


def _empty(box) -> bool:
    return box[0] > box[2] or box[1] > box[3]


def _cube(query: MapQuery) -> int:
    if query.has_what:
        return CUBE_FULL if query.has_dates else CUBE_WHAT
    return CUBE_DAY if query.has_dates else CUBE_CELL


def tiles_of_box(resolution: int, box) -> list[int]:
    """Every tile that a row whose centre (or point) is in `box` can have."""
    side = TILE_DEGREES[resolution]
    west, south, east, north = box
    rows = range(math.floor((south + 90) / side), math.floor((north + 90) / side) + 1)
    columns = range(math.floor((west + 180) / side), math.floor((east + 180) / side) + 1)
    return [row * TILE_ROW + column for row in rows for column in columns]


def _by_tile(query: MapQuery, resolution: int, box, cube: int) -> list[int] | None:
    """The tiles to read the box's rows by, when that is the cheapest way: filters by
    category set and/or day (the tile index leads with tile, category set, day), not by
    place (the department's own index is narrower), and few enough lookups."""
    place = query.department or query.municipality
    filtered = query.category_ids or query.has_dates
    if box is None or resolution not in TILE_DEGREES or not filtered or place:
        return None  # (the unfiltered timeline reads cube 1 whole: the box's index is better)
    west, south, east, north = box
    side = TILE_DEGREES[resolution]
    count = (math.floor((north + 90) / side) - math.floor((south + 90) / side) + 1) * (
        math.floor((east + 180) / side) - math.floor((west + 180) / side) + 1
    )
    if count * max(1, len(query.catsets or ())) > MAX_TILE_PROBES:
        return None
    return tiles_of_box(resolution, box)


def _tiled(query: MapQuery, resolution: int, box, cube: int | None = None) -> bool:
    cube = _cube(query) if cube is None else cube
    return _by_tile(query, resolution, box, cube) is not None


def _rollup(query: MapQuery, resolution: int, box, cube: int | None = None, *, by=None):
    """Rollup rows matching the filters whose centre (or point) is in `box` (None: anywhere).
    `by` = "lat" or "lon": the coordinate whose index to use (the other is read as "+ 0":
    SQLite has no statistics to choose between them). Filtered reads of a box go by tile
    when they can (see _by_tile). The conditions go in one filter() call: each call clones
    the query, and a request builds five to ten of these."""
    cube = _cube(query) if cube is None else cube
    where = {"cube": cube, "resolution": resolution}
    conditions = []
    tiles = _by_tile(query, resolution, box, cube)
    if tiles is not None:
        conditions.append(_one_of("tile", tiles))
        if cube == CUBE_DAY:
            where["catset"] = 0  # constant in this cube: lets the index reach the days
        by = "neither"
    elif by is None and (query.category_ids or query.department):
        by = "neither"  # the category or department index is narrower than a large box
    qs = MapCount.objects.all()
    if box is not None:
        west, south, east, north = box
        lat, lon = "latitude", "longitude"
        if by in ("lat", "neither"):
            qs, lon = qs.alias(lon0=ExpressionWrapper(F(lon) + 0, FloatField())), "lon0"
        if by in ("lon", "neither"):
            qs, lat = qs.alias(lat0=ExpressionWrapper(F(lat) + 0, FloatField())), "lat0"
        where.update({f"{lat}__gte": south, f"{lat}__lte": north, f"{lon}__gte": west,
                      f"{lon}__lte": east})  # fmt: skip
    if query.date_from and cube in (CUBE_DAY, CUBE_FULL):
        where["day__gte"] = query.date_from.toordinal()
    if query.date_to and cube in (CUBE_DAY, CUBE_FULL):
        where["day__lte"] = query.date_to.toordinal()
    if query.category_ids:
        conditions.append(_one_of("catset", query.catsets or [-1]))
    if query.department:
        where["department"] = query.department
    if query.municipality:
        where["municipality"] = query.municipality
    return qs.filter(*conditions, **where)


def _one_of(column: str, values: list[int]):
    """`column IN values`; on PostgreSQL `= ANY(one array)`: with hundreds of tiles, psycopg
    spent more time parsing a statement's placeholders than the server took to run it (and
    one array keeps the statement's text, so its parse is cached)."""
    if connection.vendor != "postgresql":
        return Q(**{f"{column}__in": values})
    sql = f'"{MapCount._meta.db_table}"."{column}" = ANY(%s::int[])'  # names from the model
    condition = RawSQL(sql, (list(values),))  # noqa: S611 (values are parameters)
    return ExpressionWrapper(condition, output_field=BooleanField())


def _inside(box, lat: float, lon: float) -> bool:
    return box[1] <= lat <= box[3] and box[0] <= lon <= box[2]


def _whole(inner, resolution: int, cell: int) -> bool:
    """Whether the rollup counted this cell whole (its centre is in the inner box)."""
    return inner is not None and _inside(inner, *cell_centre(resolution, cell))


def _split(query: MapQuery, resolution: int, cube: int | None = None):
    """(inner box or None, edge querysets of point rows). Cells whose centre is in the inner
    box hold only reports inside the viewport: the rollup at `resolution` counts them whole.
    Any other cell's reports inside the viewport lie outside the box shrunk by twice the
    margin: they are counted from the rollup by public point (exact), in four strips that are
    each one index range."""
    dlat, dlon = _margin(resolution, query.bbox)
    inner = _shrink(query.bbox, dlat, dlon, 1)
    if _empty(inner):
        return None, [_rollup(query, POINTS, query.bbox, cube, by="lat")]
    core = _shrink(query.bbox, dlat, dlon, 2)
    if _empty(core):
        return inner, [_rollup(query, POINTS, query.bbox, cube, by="lat")]
    west, south, east, north = query.bbox
    # Strips around the core; a point on a border between two is kept by the first one.
    boxes = [
        (west, south, east, core[1]),
        (west, core[3], east, north),
        (west, core[1], core[0], core[3]),
        (core[2], core[1], east, core[3]),
    ]
    tiled = all(_tiled(query, POINTS, box, cube) for box in boxes)
    if (
        (query.category_ids or query.department)
        and not tiled
        and _edge_size(query.bbox, resolution, inner) > RING_FROM
    ):
        # Filtered, with many reports along the edge: one pass over the filter's rows (its
        # index) beats reading every row of the strips.
        ring = _rollup(query, POINTS, query.bbox, cube).exclude(
            latitude__gte=core[1], latitude__lte=core[3], longitude__gte=core[0],
            longitude__lte=core[2],
        )  # fmt: skip
        return inner, [ring]
    bottom, top, left, right = (
        _rollup(query, POINTS, box, cube, by=by)
        for box, by in zip(boxes, ("lat", "lat", "lon", "lon"), strict=True)
    )
    edges = [
        bottom,
        top.exclude(latitude=core[3]) if core[1] == core[3] else top,
        left.exclude(latitude__in=[core[1], core[3]]),
        right.exclude(latitude__in=[core[1], core[3]]).exclude(longitude=core[0]),
    ]
    return inner, edges


def _edge_size(bbox, resolution: int, inner) -> int:
    """Published reports (any filter) in cells that are not counted whole: what the strips
    would read, from the small per-cell cube."""
    dlat, dlon = _margin(resolution, bbox)
    reach = _shrink(bbox, dlat, dlon, -1)  # farther cells hold no point of the viewport
    rows = _rollup(MapQuery(), resolution, reach, CUBE_CELL, by="lat")
    return sum(
        n for lat, lon, n in rows.values_list("latitude", "longitude", "count")
        if not _inside(inner, lat, lon)
    )  # fmt: skip


def cell_counts(query: MapQuery, resolution: int) -> dict[int, int]:
    """Exact count of matching published reports per cell, for the viewport."""
    inner, edges = _split(query, resolution)
    counts: dict[int, int] = {}
    if inner is not None:
        # Grouped on "cell + 0": on the cell itself SQLite would walk the table's unique key
        # (which is in cell order) instead of the covering index of the filters.
        key = ExpressionWrapper(F("cell") + 0, output_field=BigIntegerField())
        rows = _rollup(query, resolution, inner).annotate(key=key).values_list("key")
        rows = rows.annotate(n=Sum("count"))
        counts = {cell: n for cell, n in rows.order_by() if n}
    column = f"h3_r{resolution}"
    for edge in edges:
        for cell, n in edge.values_list(column).annotate(n=Sum("count")).order_by():
            if not n or _whole(inner, resolution, cell):
                continue
            counts[cell] = counts.get(cell, 0) + n
    return counts


def choose_resolution(query: MapQuery, zoom: int) -> int | None:
    resolution = resolution_for_zoom(zoom)
    west, south, east, north = query.bbox
    if resolution is None:
        if max(east - west, north - south) <= MAX_POINT_SPAN:
            return None
        resolution = 8
    lat = math.radians((south + north) / 2)
    area = (north - south) * (east - west) * math.cos(lat) * KM_PER_DEGREE**2
    while resolution > 4 and area / h3.average_hexagon_area(resolution, "km^2") > MAX_CELLS:
        resolution -= 2
    return resolution


# --- GeoJSON -----------------------------------------------------------------------------------


@lru_cache(maxsize=50_000)
def cell_polygon(cell: int) -> tuple:
    ring = [(round(lon, 6), round(lat, 6)) for lat, lon in h3.api.basic_int.cell_to_boundary(cell)]
    ring.append(ring[0])
    return tuple(ring)


@lru_cache(maxsize=50_000)
def _hexagon_head(cell: int) -> str:
    """A hexagon feature's JSON up to its count: the same for every request, so it is encoded
    once per process (encoding thousands of polygons took longer than counting them)."""
    geometry = json.dumps({"type": "Polygon", "coordinates": [cell_polygon(cell)]})
    return (f'{{"type":"Feature","geometry":{geometry},'
            f'"properties":{{"cell":"{h3.int_to_str(cell)}","count":')  # fmt: skip


def _hexagons_json(counts: dict[int, int]) -> str:
    """hexagon_features(counts) as JSON text (the same features, encoded from cached parts)."""
    return ",".join(f"{_hexagon_head(cell)}{n}}}}}" for cell, n in sorted(counts.items()))


def point_features(query: MapQuery) -> list[dict]:
    rows = _rollup(query, POINTS, query.bbox, by="lat")
    if _tiled(query, POINTS, query.bbox):
        # Grouped on "+ 0": on the columns themselves SQLite would walk an index in their
        # order (the whole resolution) rather than the tile index.
        rows = rows.annotate(
            plat=ExpressionWrapper(F("latitude") + 0, output_field=FloatField()),
            plon=ExpressionWrapper(F("longitude") + 0, output_field=FloatField()),
        ).values_list("plat", "plon")
    else:
        rows = rows.values_list("latitude", "longitude")  # the latitude index, in its order
    counts = {(lat, lon): n for lat, lon, n in rows.annotate(n=Sum("count")).order_by() if n}
    listed = newest_reports(query, list(counts))
    return [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"count": n, "reports": listed.get((lat, lon), [])},
        }
        for (lat, lon), n in sorted(counts.items())
    ]


def newest_reports(query: MapQuery, points: list[tuple[float, float]]) -> dict:
    """The newest REPORTS_PER_POINT matching reports at each public point, with each one's
    first category (in the same statement)."""
    links = Report.categories.through.objects.filter(report_id=OuterRef("pk")).order_by("id")
    base = (
        public_reports(query, bbox=False)
        .annotate(first_category=Subquery(links.values("category__slug")[:1]))
        .order_by("-occurred_at", "-id")
    )
    fields = ("id", "reference", "title", "occurred_at", "occurred_precision", "first_category",
              "public_latitude", "public_longitude")  # fmt: skip
    if connection.vendor == "postgresql":
        rows = _newest_by_lateral(base, fields, points)
    else:
        rows = _newest_by_union(base, fields, points)
    local = timezone.get_current_timezone()
    listed: dict[tuple, list] = defaultdict(list)
    for occurred, _pk, row in sorted(((_aware(r[3]), r[0], r) for r in rows), reverse=True):
        _, reference, title, _, precision, category, lat, lon = row
        listed[(lat, lon)].append({
            "reference": reference, "title": title,
            "occurred": _occurred_text(occurred.astimezone(local), precision),
            "category": category,
        })  # fmt: skip
    return listed


def _occurred_text(local: datetime, precision: str) -> str:
    """reports.schemas.occurred_text for a moment already in local time (Django's localtime()
    cost more than the rest of a listed report; tests check the two agree)."""
    if precision == "month":
        return local.strftime("%Y-%m")
    if precision == "day":
        return local.date().isoformat()
    return local.isoformat(timespec="minutes")


def _newest_by_lateral(base, fields, points) -> list:
    """PostgreSQL: the points as two arrays, and for each one an index range (LATERAL) that
    stops after REPORTS_PER_POINT rows: one statement, planned once, whatever the number of
    points (a window over every report of the viewport read and sorted them all)."""
    if not points:
        return []
    here = {"public_latitude": RawSQL("pts.lat", ()), "public_longitude": RawSQL("pts.lon", ())}
    one = base.filter(**here).values_list(*fields)[:REPORTS_PER_POINT]
    sql, params = one.query.sql_with_params()
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    statement = (
        "SELECT p.* FROM unnest(%s::float8[], %s::float8[]) AS pts(lat, lon) "  # noqa: S608
        f"CROSS JOIN LATERAL ({sql}) AS p"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [lats, lons, *params])
        return cursor.fetchall()


def _newest_by_union(base, fields, points) -> list:
    """SQLite: one index range per point, many points to a statement."""
    # Compiled once with stand-in coordinates, then reused for every point (compiling the
    # ORM query per point cost more than running it).
    one = base.filter(public_latitude=_LAT, public_longitude=_LON).values_list(*fields)
    sql, template = one[:REPORTS_PER_POINT].query.sql_with_params()
    slots = [i for i, v in enumerate(template) if v in (_LAT, _LON)]
    rows = []
    with connection.cursor() as cursor:
        for lo in range(0, len(points), 200):  # SQLite allows 500 terms in a compound SELECT
            chunk = points[lo : lo + 200]
            params = []
            for lat, lon in chunk:
                values = list(template)
                for i in slots:
                    values[i] = lat if template[i] == _LAT else lon
                params.extend(values)
            parts = (f"SELECT * FROM ({sql}) AS p{n}" for n in range(len(chunk)))  # noqa: S608
            union = " UNION ALL ".join(parts)
            cursor.execute(union, params)
            rows.extend(cursor.fetchall())
    return rows


_LAT, _LON = -1234.5, -2345.5  # never coordinates


def _aware(value) -> datetime:
    # A raw cursor gives SQLite's text (UTC) or PostgreSQL's aware datetime.
    if isinstance(value, str):
        value = parse_datetime(value)
    return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)


def _check_zoom(zoom: int) -> None:
    if not 0 <= zoom <= MAX_ZOOM:
        raise InvalidInput(_("zoom must be between 0 and %(max)d.") % {"max": MAX_ZOOM},
                           field="zoom")  # fmt: skip


def map_features(query: MapQuery, zoom: int) -> dict:
    """The map's GeoJSON FeatureCollection for the viewport (see map_json)."""
    return json.loads(map_json(query, zoom))


def map_json(query: MapQuery, zoom: int) -> str:
    """The map's answer as JSON text: a FeatureCollection with `total` (the sum of the
    features' counts), `mode` ("hexagons" or "points") and `resolution` (H3, or null)."""
    _check_zoom(zoom)
    resolution = choose_resolution(query, zoom)
    if resolution is None:
        features = point_features(query)
        total = sum(f["properties"]["count"] for f in features)
        mode, used = "points", "null"
        body = ",".join(json.dumps(f, separators=(",", ":")) for f in features)
    else:
        counts = cell_counts(query, resolution)
        total = sum(counts.values())
        mode, used = "hexagons", str(resolution)
        body = _hexagons_json(counts)
    return (f'{{"type":"FeatureCollection","total":{total},"mode":"{mode}",'
            f'"resolution":{used},"features":[{body}]}}')  # fmt: skip


def naive_features(query: MapQuery) -> dict:
    """What a client that clusters in the browser downloads: every point in the viewport.
    Only for the benchmark's comparison."""
    rows = public_reports(query).values_list(
        "reference", "title", "occurred_at", "public_latitude", "public_longitude"
    )
    features = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
         "properties": {"reference": ref, "title": title, "occurred_at": occurred.isoformat()}}
        for ref, title, occurred, lat, lon in rows.iterator(chunk_size=10_000)
        if lat is not None
    ]  # fmt: skip
    return {"type": "FeatureCollection", "total": len(features), "features": features}


# --- timeline ----------------------------------------------------------------------------------


def timeline(query: MapQuery) -> dict:
    """Matching published reports per local day of occurrence. Without a viewport every
    published report counts (located or not); with one, those whose public point is in it."""
    days: dict[int, int] = {}
    if query.bbox is None:
        cube = CUBE_FULL if query.has_what else CUBE_DAY
        rows = _rollup(query, 0, None, cube)
        rows = rows.values_list("day").annotate(n=Sum("count")).order_by()
        days = {day: n for day, n in rows if n}
    else:
        resolution = _timeline_resolution(query.bbox)
        cube = CUBE_FULL if query.has_what else CUBE_DAY
        inner, edges = _split(query, resolution, cube)
        if inner is not None:
            rows = _rollup(query, resolution, inner, cube)
            for day, n in rows.values_list("day").annotate(n=Sum("count")).order_by():
                days[day] = days.get(day, 0) + n
        column = f"h3_r{resolution}"
        for edge in edges:
            rows = edge.values_list(column, "day").annotate(n=Sum("count")).order_by()
            for cell, day, n in rows:
                if not _whole(inner, resolution, cell):
                    days[day] = days.get(day, 0) + n
    series = [
        {"date": date.fromordinal(day).isoformat(), "count": n}
        for day, n in sorted(days.items())
        if n
    ]
    return {"total": sum(d["count"] for d in series), "days": series}


def _timeline_resolution(bbox) -> int:
    span = min(bbox[2] - bbox[0], bbox[3] - bbox[1])
    for resolution in (4, 6):
        if 4 * _margin(resolution, bbox)[1] < 0.2 * span:
            return resolution
    return 8
