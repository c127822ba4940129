"""Writes of the map rollup (`MapCount`): kept exact in the same transaction as every change
that affects what is public, and rebuilt from scratch by `rebuild_map`.

A report counts on the map when it is published, not merged away, and has a public point.
Each such report adds 1 to one row per (cube, resolution); `map_track` snapshots the rows
that the reports it is given contribute to, lets the caller change them, and applies the
difference, so the rollup can never drift from the reports table whatever the change was.
"""

import math
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from datetime import datetime

import h3
import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from sereno.crowdmap.models import CategorySet, MapCount
from sereno.reports.models import Report, Status

# Zoom bands of the map (H3 resolutions stored on every report); 0 = one "cell" for all
# published reports, located or not (the timeline without a viewport).
POINTS = 15  # not an H3 resolution: rows keyed by the public point itself
RESOLUTIONS = (0, 4, 6, 8, POINTS)
# Cubes: which dimensions a row keeps (see MapCount).
CUBE_CELL, CUBE_DAY, CUBE_FULL, CUBE_WHAT = 0, 1, 2, 3
CUBES = (CUBE_CELL, CUBE_DAY, CUBE_FULL, CUBE_WHAT)
_KEY_COLUMNS = ("cube", "resolution", "cell", "day", "catset", "department", "municipality")
_PAYLOAD_COLUMNS = ("latitude", "longitude", "h3_r4", "h3_r6", "h3_r8", "tile")
# Side of the square tiles (degrees) that number rows by where they are, per resolution: a
# filtered viewport reads its tiles' rows through one index (tile, category set, day) instead
# of every matching row of the country. About a viewport's size at the zooms that use each.
TILE_DEGREES = {4: 2.0, 6: 0.5, 8: 0.1, POINTS: 0.1}
TILE_ROW = 10_000  # tile = row * TILE_ROW + column


def catset_key(category_ids) -> str:
    ids = sorted(set(category_ids))
    return "," + ",".join(str(i) for i in ids) + "," if ids else ","


def local_day(moment: datetime) -> int:
    return timezone.localtime(moment).date().toordinal()


def cell_centre(resolution: int, cell: int) -> tuple[float, float]:
    if resolution == 0:
        return 0.0, 0.0
    return h3.api.basic_int.cell_to_latlng(cell)


def tile_of(resolution: int, lat: float, lon: float) -> int:
    """The tile of a row's centre (or point); 0 at resolution 0. Monotonic in lat and lon, so
    the rows in a box are in the box's tiles (see selectors.tiles_of_box)."""
    side = TILE_DEGREES.get(resolution)
    if side is None:
        return 0
    return math.floor((lat + 90) / side) * TILE_ROW + math.floor((lon + 180) / side)


def _cell_payload(resolution: int, cell: int) -> tuple:
    lat, lon = cell_centre(resolution, cell)
    return (lat, lon, 0, 0, 0, tile_of(resolution, lat, lon))


def point_key(lat: float, lon: float) -> int:
    """One integer per public point (micro-degrees; public points are rounded to 6 places)."""
    return round((lat + 90) * 1e6) * 1_000_000_000 + round((lon + 180) * 1e6)


def _keys(resolution: int, cell: int, day: int, catset: str, dept: str, muni: str):
    yield (CUBE_CELL, resolution, cell, 0, "", "", "")
    yield (CUBE_DAY, resolution, cell, day, "", "", "")
    yield (CUBE_FULL, resolution, cell, day, catset, dept, muni)
    yield (CUBE_WHAT, resolution, cell, 0, catset, dept, muni)


def _published(ids) -> "Report.objects":
    return Report.objects.filter(pk__in=ids, status=Status.PUBLISHED, merged_into__isnull=True)


def _contributions(ids: list[int]) -> tuple[Counter, dict]:
    """Rows (keyed with the category set as text) these reports add to, as they are now, and
    each row's (latitude, longitude, h3_r4, h3_r6, h3_r8)."""
    rows = list(
        _published(ids).values_list(
            "pk", "h3_r4", "h3_r6", "h3_r8", "occurred_at", "department_code",
            "municipality_code", "public_latitude", "public_longitude",
        )
    )  # fmt: skip
    out, where = Counter(), {}
    if not rows:
        return out, where
    cats = defaultdict(list)
    links = Report.categories.through.objects.filter(report_id__in=[r[0] for r in rows])
    for report_id, category_id in links.values_list("report_id", "category_id"):
        cats[report_id].append(category_id)
    for pk, r4, r6, r8, occurred, dept, muni, plat, plon in rows:
        day, catset = local_day(occurred), catset_key(cats[pk])
        cells = {0: (0, (0.0, 0.0, 0, 0, 0, 0))}
        if None not in (r4, r6, r8, plat, plon):
            for res, cell in ((4, r4), (6, r6), (8, r8)):
                cells[res] = (cell, _cell_payload(res, cell))
            cells[POINTS] = (point_key(plat, plon),
                             (plat, plon, r4, r6, r8, tile_of(POINTS, plat, plon)))  # fmt: skip
        for resolution, (cell, payload) in cells.items():
            where[(resolution, cell)] = payload
            out.update(_keys(resolution, cell, day, catset, dept or "", muni or ""))
    return out, where


@contextmanager
def map_track(report_ids):
    """Wrap any change to these reports: the rollup follows it in the same transaction.

    The reports are locked first (in id order, so concurrent callers never deadlock) and read
    after the lock, so a change committed meanwhile by someone else is never double-counted."""
    ids = sorted({int(i) for i in report_ids if i is not None})
    with transaction.atomic():
        list(Report.objects.select_for_update().filter(pk__in=ids).values_list("pk", flat=True))
        before, where = _contributions(ids)
        yield
        after, where_after = _contributions(ids)
        where.update(where_after)
        delta = Counter(after)
        delta.subtract(before)
        _apply({key: n for key, n in delta.items() if n}, where)


def _catset_ids(keys) -> dict[str, int]:
    keys = set(keys)
    known = dict(CategorySet.objects.filter(key__in=keys).values_list("key", "id"))
    for key in keys - set(known):
        known[key] = CategorySet.objects.get_or_create(key=key)[0].pk
    known[""] = 0
    return known


def _apply(delta: dict, where: dict) -> None:
    if not delta:
        return
    ids = _catset_ids(k[4] for k in delta)
    table = connection.ops.quote_name(MapCount._meta.db_table)
    columns = [*_KEY_COLUMNS, *_PAYLOAD_COLUMNS, "count"]
    names = ", ".join(columns)
    marks = ", ".join(["%s"] * len(columns))
    conflict = ", ".join(_KEY_COLUMNS)
    # Identifiers from the model; every value is a parameter.
    upsert = (
        f"INSERT INTO {table} ({names}) VALUES ({marks}) "  # noqa: S608
        f"ON CONFLICT ({conflict}) DO UPDATE SET count = {table}.count + excluded.count"
    )
    rows = []
    for (cube, res, cell, day, catset, dept, muni), n in sorted(delta.items()):
        rows.append((cube, res, cell, day, ids[catset], dept, muni, *where[(res, cell)], n))
    with connection.cursor() as cursor:
        cursor.executemany(upsert, rows)
        where = " AND ".join(f"{c} = %s" for c in _KEY_COLUMNS)
        gone = [r[:7] for r in rows if r[-1] < 0]
        if gone:
            cursor.executemany(f"DELETE FROM {table} WHERE {where} AND count <= 0", gone)  # noqa: S608


# --- rebuild -----------------------------------------------------------------------------------


def map_rebuild(*, progress=None) -> dict:
    """Recount every row from the reports table, in one transaction (readers see the old
    rollup until it commits). Returns figures for the command to print."""
    from sereno.reports.demo import _drop_indexes  # demo imports reports.services, which us

    started = time.perf_counter()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # Writers that would change the rollup wait; readers do not.
                cursor.execute(f"LOCK TABLE {MapCount._meta.db_table} IN EXCLUSIVE MODE")
        frame = _read_published()
        rows = _group(frame)
        MapCount.objects.all().delete()
        with connection.cursor() as cursor:
            # A sort per index at the end instead of millions of B-tree inserts.
            recreate = _drop_indexes(cursor, [MapCount._meta.db_table],
                                     sqlite=connection.vendor == "sqlite")  # fmt: skip
        _insert(rows)
        with connection.cursor() as cursor:
            for statement in recreate:
                cursor.execute(statement)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {MapCount._meta.db_table}")
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        # Fresh rows are not yet marked all-visible: until a vacuum does it, every "index-only"
        # read of the rollup also reads the table (measured: twice as slow). VACUUM cannot run
        # inside a transaction; within one (tests) autovacuum does it later.
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM {MapCount._meta.db_table}")
    return {"reports": frame["n"], "rows": len(rows), "seconds": time.perf_counter() - started}


def _read_published() -> dict:
    qs = Report.objects.filter(status=Status.PUBLISHED, merged_into__isnull=True)
    ids, r4, r6, r8, day, dept, muni, plat, plon = [], [], [], [], [], [], [], [], []
    days_of_hour: dict[int, int] = {}
    # Offsets of America/Tegucigalpa are whole hours: the local date of a moment is the local
    # date of the start of its UTC hour.
    for pk, c4, c6, c8, occurred, d, m, la, lo in qs.values_list(
        "pk", "h3_r4", "h3_r6", "h3_r8", "occurred_at", "department_code", "municipality_code",
        "public_latitude", "public_longitude",
    ).iterator(chunk_size=50_000):  # fmt: skip
        hour = int(occurred.timestamp()) // 3600
        ordinal = days_of_hour.get(hour)
        if ordinal is None:
            ordinal = days_of_hour[hour] = local_day(occurred.replace(minute=0, second=0,
                                                                      microsecond=0))  # fmt: skip
        ids.append(pk)
        located = None not in (c4, c6, c8, la, lo)
        plat.append(la if located else 0.0)
        plon.append(lo if located else 0.0)
        r4.append(c4 if located else -1)
        r6.append(c6 if located else -1)
        r8.append(c8 if located else -1)
        day.append(ordinal)
        dept.append(d or "")
        muni.append(m or "")
    cats: dict[int, list[int]] = defaultdict(list)
    links = Report.categories.through.objects.filter(
        report__status=Status.PUBLISHED, report__merged_into__isnull=True
    ).values_list("report_id", "category_id")
    for report_id, category_id in links.iterator(chunk_size=100_000):
        cats[report_id].append(category_id)
    catset = [catset_key(cats.get(pk, ())) for pk in ids]
    return {"n": len(ids), "cells": {4: r4, 6: r6, 8: r8}, "day": day, "dept": dept,
            "muni": muni, "catset": catset, "lat": plat, "lon": plon}  # fmt: skip


def _group(frame: dict) -> list[tuple]:
    n = frame["n"]
    if not n:
        return []
    ids = _catset_ids(set(frame["catset"]))
    # Small integer codes for the text dimensions, so numpy can group on integers.
    cat_codes, cat = np.unique(np.array([ids[c] for c in frame["catset"]]), return_inverse=True)
    dept_names, dept = np.unique(np.array(frame["dept"], dtype=object), return_inverse=True)
    muni_names, muni = np.unique(np.array(frame["muni"], dtype=object), return_inverse=True)
    day = np.array(frame["day"], dtype=np.int64)
    zero = np.zeros(n, dtype=np.int64)
    cells = {res: np.array(frame["cells"][res], dtype=np.int64) for res in (4, 6, 8)}
    lat, lon = np.array(frame["lat"]), np.array(frame["lon"])
    points = np.round((lat + 90) * 1e6).astype(np.int64) * 1_000_000_000 + np.round(
        (lon + 180) * 1e6
    ).astype(np.int64)
    points[cells[4] == -1] = -1
    out = []
    for resolution in RESOLUTIONS:
        if resolution == 0:
            cell = zero
        else:
            cell = points if resolution == POINTS else cells[resolution]
        keep = cell != -1
        if resolution == POINTS:
            # The payload of a point: its coordinates and cells, from its first report.
            _, first = np.unique(cell[keep], return_index=True)
            rows = np.flatnonzero(keep)[first]
            payload = {
                int(cell[i]): (float(lat[i]), float(lon[i]), int(cells[4][i]), int(cells[6][i]),
                               int(cells[8][i]), tile_of(POINTS, float(lat[i]), float(lon[i])))
                for i in rows.tolist()
            }  # fmt: skip
        else:
            payload = {
                int(c): _cell_payload(resolution, int(c)) for c in np.unique(cell[keep]).tolist()
            }
        dims = {
            CUBE_CELL: (zero, zero, zero, zero),
            CUBE_DAY: (day, zero, zero, zero),
            CUBE_FULL: (day, cat, dept, muni),
            CUBE_WHAT: (zero, cat, dept, muni),
        }
        for cube, (d, c, de, mu) in dims.items():
            stacked = np.stack([cell[keep], d[keep], c[keep], de[keep], mu[keep]], axis=1)
            keys, counts = np.unique(stacked, axis=0, return_counts=True)
            with_cats = cube in (CUBE_FULL, CUBE_WHAT)
            for (k_cell, k_day, k_cat, k_dept, k_muni), count in zip(
                keys.tolist(), counts.tolist(), strict=True
            ):
                out.append((
                    cube, resolution, k_cell, k_day,
                    int(cat_codes[k_cat]) if with_cats else 0,
                    dept_names[k_dept] if with_cats else "",
                    muni_names[k_muni] if with_cats else "",
                    *payload[k_cell], count,
                ))  # fmt: skip
    return out


def _insert(rows: list[tuple]) -> None:
    table = connection.ops.quote_name(MapCount._meta.db_table)
    columns = [*_KEY_COLUMNS, *_PAYLOAD_COLUMNS, "count"]
    names = ", ".join(columns)
    if connection.vendor == "postgresql":
        with connection.connection.cursor() as cursor:
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    marks = ", ".join(["?"] * len(columns))
    insert = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 (model metadata)
    with connection.cursor():  # make sure the connection is open
        pass
    for lo in range(0, len(rows), 100_000):
        connection.connection.executemany(insert, rows[lo : lo + 100_000])
